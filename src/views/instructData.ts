// The Experiment form's check of instruction data (task instruct): the first lines of the chosen .jsonl file, read
// by the rules of the engine's reader (engine/src/ladderlab/data/instruct.py `_example`), so a wrong file is named
// in the form before a run starts. The engine reads every line when it trains; this looks at the first ones only.
// Both readers are tested on one table of lines and verdicts: engine/tests/fixtures/instruct-lines.json.
import { open } from 'node:fs/promises';

/** The engine's FORMAT_HINT, word for word. */
export const INSTRUCT_FORMAT_HINT =
  'write one JSON object per line: {"prompt": "...", "response": "..."} or {"messages": [{"role": ...}]}';
export const CHECKED_LINES = 20;
const READ_BYTES = 256 * 1024;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isMessage = (m: unknown): boolean => isObj(m) && typeof m.role === 'string' && typeof m.content === 'string';

/** What is wrong with one line, or undefined when it is an example the engine reads. */
export function instructLineProblem(line: string): string | undefined {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (isObj(row) && typeof row.prompt === 'string' && typeof row.response === 'string') return undefined;
  const messages = isObj(row) ? row.messages : undefined;
  if (Array.isArray(messages) && messages.length >= 2 && messages.every(isMessage)) {
    const last = messages[messages.length - 1] as { role: string };
    return last.role === 'assistant'
      ? undefined
      : `the last message is "${last.role}": end each chat with the assistant's answer`;
  }
  return 'neither prompt/response strings nor a messages list';
}

/** The first problem among the first `CHECKED_LINES` non-empty lines of `text`, as "line N: …", or undefined. */
export function instructTextProblem(text: string, name: string): string | undefined {
  let checked = 0;
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    const problem = instructLineProblem(line);
    if (problem) return `${name} line ${i + 1}: ${problem}; ${INSTRUCT_FORMAT_HINT}`;
    if (++checked === CHECKED_LINES) break;
  }
  return checked === 0 ? `${name} has no examples; ${INSTRUCT_FORMAT_HINT}` : undefined;
}

/** The check of a data file on disk; undefined when it is fine or cannot be read (the engine then says why). */
export async function instructFileProblem(file: string, name: string): Promise<string | undefined> {
  let text: string;
  try {
    const handle = await open(file, 'r');
    try {
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(READ_BYTES), 0, READ_BYTES, 0);
      text = buffer.subarray(0, bytesRead).toString('utf8');
      // a read that stopped mid-line: keep the whole lines only
      if (bytesRead === READ_BYTES) {
        const end = text.lastIndexOf('\n');
        if (end < 0) return undefined; // one line longer than the read: the engine judges it
        text = text.slice(0, end);
      }
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
  return instructTextProblem(text, name);
}
