// Host side of the inference measurement: runs benchmarkChild in a separate Node process (the extension host's own
// runtime, as Node), so the RSS figures belong to the session alone, and stores them as <run>/inference.json.
import { fork } from 'node:child_process';
import { readFile, writeFile, rename } from 'node:fs/promises';
import * as path from 'node:path';
import type { InferenceFigures } from '../../protocol/webviews/try';
import { ExportError } from './manifest';

export const INFERENCE_FILE = 'inference.json';
export const EXPORT_DIR = 'export';

export function measureInChild(
  script: string,
  exportDir: string,
  runs = 30,
  timeoutMs = 120_000,
): Promise<InferenceFigures> {
  return new Promise((resolve, reject) => {
    const child = fork(script, [exportDir, String(runs)], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: [],
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ORT_DISABLE_TELEMETRY: '1' },
      timeout: timeoutMs,
    });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new ExportError(`the inference measurement could not start: ${e.message}`)));
    child.on('exit', (code, signal) => {
      if (code !== 0) {
        reject(
          new ExportError(
            `the inference measurement failed (${signal ?? `exit ${code}`}): ${err.trim().split('\n').pop() ?? ''}`,
          ),
        );
        return;
      }
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as InferenceFigures);
      } catch {
        reject(new ExportError(`the inference measurement printed no result: ${out.slice(0, 200)}`));
      }
    });
  });
}

export async function writeInferenceFigures(runDir: string, figures: InferenceFigures): Promise<void> {
  const file = path.join(runDir, INFERENCE_FILE);
  const tmp = path.join(runDir, `.${INFERENCE_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify({ ...figures, measured_at: new Date().toISOString() }, null, 2));
  await rename(tmp, file);
}

/** <run>/inference.json if present and well-formed, else null (not measured yet). */
export async function readInferenceFigures(runDir: string): Promise<InferenceFigures | null> {
  try {
    const raw = JSON.parse(await readFile(path.join(runDir, INFERENCE_FILE), 'utf8')) as Record<string, unknown>;
    const numbers = ['latency_ms_median', 'runs', 'input_tokens', 'session_bytes', 'peak_rss_delta_bytes'];
    if (!numbers.every((k) => typeof raw[k] === 'number' && Number.isFinite(raw[k]))) return null;
    return raw as unknown as InferenceFigures;
  } catch {
    return null;
  }
}
