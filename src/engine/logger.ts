// Where the engine side of the host writes what it has to say. The host passes an output-channel Logger;
// tests pass a recorder, so nothing under src/engine needs vscode to be tested.

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}
