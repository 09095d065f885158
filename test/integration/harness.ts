// A small test runner for the extension host: no mocha, so the same bundle runs under @vscode/test-electron
// and inside code-server. Tests run in order (later ones reuse the runs earlier ones made) and the outcome is
// written to a JSON file after every test, because code-server's host exits 0 whatever happens: the runner
// reads the file, and a file with done=false tells which test hung.
import { writeFileSync } from 'node:fs';

/** A workspace the runner opens: trusted (the default) or in Restricted Mode (a second code-server pass). */
export type Suite = 'trusted' | 'untrusted';

interface Case {
  name: string;
  fn: () => unknown;
  timeoutMs: number;
  suite: Suite;
}

export interface Outcome {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

const cases: Case[] = [];

export function test(name: string, fn: () => unknown, timeoutMs = 30_000, suite: Suite = 'trusted'): void {
  cases.push({ name, fn, timeoutMs, suite });
}

export async function runAll(resultFile: string | undefined, suite: Suite = 'trusted'): Promise<void> {
  const outcomes: Outcome[] = [];
  const write = (done: boolean) => {
    if (!resultFile) return;
    const failed = outcomes.filter((o) => !o.ok).length;
    writeFileSync(
      resultFile,
      JSON.stringify({ done, ok: done && failed === 0, passed: outcomes.length - failed, failed, outcomes }, null, 1),
    );
  };
  // LADDERLAB_TEST_FILTER=text runs only the tests whose name contains it (one file's tests while working on it).
  const only = process.env.LADDERLAB_TEST_FILTER;
  for (const c of cases.filter((x) => x.suite === suite && (!only || x.name.includes(only)))) {
    const t0 = Date.now();
    write(false);
    try {
      await withTimeout(Promise.resolve().then(c.fn), c.timeoutMs);
      outcomes.push({ name: c.name, ok: true, ms: Date.now() - t0 });
      console.log(`  ok   ${c.name} (${Date.now() - t0} ms)`);
    } catch (e) {
      const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      outcomes.push({ name: c.name, ok: false, ms: Date.now() - t0, error });
      console.log(`  FAIL ${c.name}\n${error}`);
    }
  }
  write(true);
  const failed = outcomes.filter((o) => !o.ok);
  if (failed.length)
    throw new Error(
      `${failed.length} of ${outcomes.length} integration tests failed: ${failed.map((f) => f.name).join('; ')}`,
    );
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** Polls until `cond` returns a truthy value; rejects with `what` after `ms`. */
export async function waitFor<T>(what: string, cond: () => T | Promise<T>, ms = 20_000): Promise<NonNullable<T>> {
  const t0 = Date.now();
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
