// What every webview's messages share: the validators the host runs on what a webview sends, and the types that
// tie each webview's two message unions together.
//
// Host -> webview payloads are trusted (the host makes them). Every message a webview sends is NOT: a webview runs
// third-party-influenced content (run names, file contents), so the host passes each one through the
// `parse…Message` validator of its webview, which returns a fresh, fully typed object built from known fields
// only, or undefined for anything else (the host then ignores it).

export const MAX_PATH_LENGTH = 4096;

// ---------------------------------------------------------------------------------------------------------------
// Typed channels: one per webview, naming what the host posts to it and what it posts to the host. The host's
// shell (src/panels/webviewChannel.ts) and the webview's connect() (webview/shared/vscodeApi.ts) take one, so a
// message of another webview does not compile on either side (test/unit/typed-channels.test.ts checks that).

/** Every message has a `type` of the form `<webview>/<what>`. */
export interface Message {
  readonly type: string;
}

/** A webview's two message unions. Type-only: nothing of it exists at run time. */
export interface Channel<ToWebview extends Message = Message, FromWebview extends Message = Message> {
  readonly toWebview: ToWebview;
  readonly fromWebview: FromWebview;
}

/** The message a webview sends when its page has loaded (again): the host then (re)sends its state. */
export type ReadyMessage<C extends Channel> = Extract<C['fromWebview'], { type: `${string}/ready` }>;
/** What a webview asks of the host besides `ready`. */
export type RequestMessage<C extends Channel> = Exclude<C['fromWebview'], { type: `${string}/ready` }>;

export function isReadyMessage<C extends Channel>(message: C['fromWebview']): message is ReadyMessage<C> {
  return message.type.endsWith('/ready');
}

/** Device-wide GPU memory from nvidia-smi, one sample for every GPU. */
export interface GpuSample {
  t: number; // unix seconds
  gpus: { index: number; usedMiB: number; totalMiB: number }[];
}

// ---------------------------------------------------------------------------------------------------------------
// Validators for what webviews send

export type Obj = Record<string, unknown>;

/** A plain data object (what structured clone of a webview's object literal gives), not an array or a class. */
export function isRecord(value: unknown): value is Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function own(obj: Obj, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

export function typeOf(raw: unknown, prefix: string): string | undefined {
  if (!isRecord(raw)) return undefined;
  const type = own(raw, 'type');
  return typeof type === 'string' && type.startsWith(prefix) && type.length < 64 ? type : undefined;
}

export const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

// Control characters (NUL included) never belong in a path or a name the form sends.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * A path as the form may send it: a bounded string without control characters or padding. `..` is allowed: a path
 * is read from the experiment file's folder, and `../data` is how a file in a subfolder names the workspace's data.
 * Whether it may be used at all (inside the workspace once `..` and symlinks are resolved, or chosen in a dialog) is
 * the host's decision (src/views/pathPolicy.ts), which refuses it beside the field with the reason.
 */
export function isSafePathString(v: unknown): v is string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_PATH_LENGTH || CONTROL.test(v)) return false;
  return v.trim() === v;
}

/** A message without a payload, as a fresh object, when `type` is one of `types`. */
export function payloadless<T extends string>(type: string | undefined, types: readonly T[]): { type: T } | undefined {
  return types.some((t) => t === type) ? { type: type as T } : undefined;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
/** A run or session id: a folder name, never a path. */
export function isSafeId(v: unknown): v is string {
  return typeof v === 'string' && ID.test(v) && !v.includes('..');
}
