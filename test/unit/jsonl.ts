// Shared by the tests that check whole .jsonl files of engine events.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { EngineEvent } from '../../protocol/events';
import { parseEventLine } from '../../protocol/validate';

// Tests are bundled to out/test/unit/, three levels below the repository root.
export const REPO_ROOT = path.resolve(__dirname, '../../..');

export interface JsonlReport {
  events: EngineEvent[];
  /** "file:line: error" for every line that failed validation. */
  errors: string[];
}

export function checkJsonlFile(file: string): JsonlReport {
  const lines = readFileSync(file, 'utf8').split('\n');
  // A final newline leaves one empty string after split; any other blank line is an error.
  if (lines[lines.length - 1] === '') lines.pop();
  const report: JsonlReport = { events: [], errors: [] };
  const name = path.relative(REPO_ROOT, file);
  if (lines.length === 0) report.errors.push(`${name}: file has no events`);
  lines.forEach((line, i) => {
    const result = parseEventLine(line);
    if (result.ok) report.events.push(result.event);
    else report.errors.push(`${name}:${i + 1}: ${result.error}`);
  });
  return report;
}

/** A fixture line as the engine event it holds; a line that is not one fails the test that reads it. */
export function eventOf(line: string): EngineEvent {
  const result = parseEventLine(line);
  if (!result.ok) throw new Error(`not an engine event: ${result.error}`);
  return result.event;
}
