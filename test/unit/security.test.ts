// No shell strings anywhere in the extension, and what the host writes or trusts next to the run folders:
// atomic session files, planted ones refused, a reattached worker that reads a torn last line correctly.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { EngineEvent } from '../../protocol/events';
import { EngineWorker, isEngineProcess, isProcessAlive } from '../../src/engine/worker';
import { listSessionFiles, writeJsonAtomic } from '../../src/runs/sessionFiles';
import { PathPolicy } from '../../src/views/pathPolicy';
import { eventOf, REPO_ROOT } from './jsonl';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : /\.(ts|mts|js|mjs)$/.test(name) ? [p] : [];
  });
}

// What would hand a string to a shell: exec/execSync taken from child_process (they always run a shell), `shell:`
// anything but false, and spawn/execFile given one command string with spaces, or a shell, as the program.
const SHELL_PATTERNS: [RegExp, string][] = [
  [
    /\{[^}]*\bexec(Sync)?\b[^}]*\}\s*(from\s*|=\s*(await\s+)?(import|require)\s*\(\s*)['"](node:)?child_process/,
    'exec()/execSync() run a shell: use execFile/spawn with an argument array',
  ],
  [
    /\b(child_?process|cp)\.exec(Sync)?\s*\(/i,
    'exec()/execSync() run a shell: use execFile/spawn with an argument array',
  ],
  [/\bshell\s*:\s*(?!false\b)\S/, 'shell: must be false'],
  [
    /\b(spawn|spawnSync|execFile|execFileSync)\s*\(\s*['"`][^'"`]*\s[^'"`]*['"`]\s*[,)]/,
    'a command line as one string: pass the program and an argument array',
  ],
  [
    /\b(spawn|spawnSync|execFile|execFileSync)\s*\(\s*['"`](sh|bash|cmd(\.exe)?|powershell)['"`]/,
    'a shell as the program',
  ],
];

test('no shell strings: every process in src/ and webview/ is spawned with an argument array and shell: false', () => {
  const files = [...sources(path.join(REPO_ROOT, 'src')), ...sources(path.join(REPO_ROOT, 'webview'))];
  const found: string[] = [];
  for (const file of files) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/^\s*(\/\/|\*)/.test(line)) return; // comments may name what they avoid
        for (const [re, why] of SHELL_PATTERNS)
          if (re.test(line)) found.push(`${path.relative(REPO_ROOT, file)}:${i + 1}: ${why}: ${line.trim()}`);
      });
  }
  assert.deepEqual(found, []);
  assert.ok(files.length > 20, `scanned ${files.length} files`);
});

test('the scan catches what it is meant to catch', () => {
  const bad = [
    "import { exec } from 'node:child_process';",
    "import { spawn, execSync } from 'child_process';",
    "const { exec } = await import('node:child_process');",
    "const { execSync } = require('child_process');",
    'childProcess.exec(`rm ${x}`)',
    'spawn(cmd, { shell: true })',
    "spawn('python -m ladderlab', [])",
    "execFile('bash', ['-c', s])",
    'spawn(p, a, { shell: process.platform === "win32" })',
  ];
  for (const line of bad)
    assert.ok(
      SHELL_PATTERNS.some(([re]) => re.test(line)),
      line,
    );
  const good = [
    'spawn(opts.python, opts.args, { shell: false })',
    "execFile(python, ['-m', 'ladderlab.cli', '--help'], { shell: false }, cb)",
    "const { execFile } = await import('node:child_process');",
    'const m = /x/.exec(id);',
    'exec(command, args, cb); // a local wrapper of execFile',
  ];
  for (const line of good) assert.ok(!SHELL_PATTERNS.some(([re]) => re.test(line)), line);
});

test('writeJsonAtomic: a reader sees the old or the new file, never a part; no temp files stay behind', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'atomic-'));
  try {
    const file = path.join(dir, 'session.json');
    const big = { pad: 'x'.repeat(2_000_000) };
    await writeJsonAtomic(file, { n: 0, ...big });
    let reads = 0;
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        const v = JSON.parse(readFileSync(file, 'utf8')) as typeof big; // throws on a torn file
        assert.equal(v.pad.length, 2_000_000);
        reads++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let n = 1; n <= 20; n++) await writeJsonAtomic(file, { n, ...big });
    stop = true;
    await reader;
    assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { n: number }).n, 20);
    assert.deepEqual(readdirSync(dir), ['session.json']);
    assert.ok(reads > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('session folders: valid ones listed, planted or corrupt ones carry a problem and are never followed', async () => {
  const runs = mkdtempSync(path.join(tmpdir(), 'sessions-'));
  try {
    const good = {
      version: 1,
      id: 'session-a1',
      pid: process.pid,
      kind: 'compare',
      experimentPath: 'x.ladder.json',
      methods: ['lst'],
      startedAt: 1,
    };
    await writeJsonAtomic(path.join(runs, '.sessions', 'session-a1', 'session.json'), good);
    await writeJsonAtomic(path.join(runs, '.sessions', 'session-b2', 'session.json'), { ...good, id: 'session-other' });
    mkdirSync(path.join(runs, '.sessions', 'session-c3'));
    writeFileSync(path.join(runs, '.sessions', 'session-c3', 'session.json'), '{"version":1,');
    const found = (await listSessionFiles(runs)).sort((a, b) => a.dir.localeCompare(b.dir));
    assert.deepEqual(found[0].session, good);
    assert.match(found[1].problem!, /does not match its folder/);
    assert.match(found[2].problem!, /not valid JSON/);
    assert.deepEqual(await listSessionFiles(path.join(runs, 'none')), []);
    // This node process is alive but is not the engine: a planted pid is not followed or signalled.
    assert.equal(isProcessAlive(process.pid), true);
    if (process.platform === 'linux') assert.equal(isEngineProcess(process.pid), false);
    assert.equal(isProcessAlive(2 ** 30), false);
  } finally {
    rmSync(runs, { recursive: true, force: true });
  }
});

test('EngineWorker.attach follows a process it did not start: replays its output, skips a torn line, sees it exit', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'attach-'));
  try {
    const sample = readFileSync(path.join(REPO_ROOT, 'test/unit/sample-events.jsonl'), 'utf8').trim().split('\n');
    writeFileSync(path.join(dir, 'stdout.jsonl'), `${sample[0]}\n${sample[1].slice(0, 30)}`); // torn: no newline
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1500)'], { stdio: 'ignore', shell: false });
    const events: EngineEvent[] = [];
    const warnings: string[] = [];
    const worker = EngineWorker.attach({
      pid: child.pid!,
      logDir: dir,
      log: { info: () => {}, warn: (m) => warnings.push(m), error: () => {} },
      onEvent: (e) => events.push(e),
      pollMs: 20,
    });
    await new Promise((r) => setTimeout(r, 200));
    appendFileSync(path.join(dir, 'stdout.jsonl'), `\n${sample[2]}\n`); // the engine's next write starts a new line
    const exit = await worker.exited;
    assert.deepEqual(exit, { code: null, signal: null });
    assert.deepEqual(
      events.map((e) => e.type),
      [eventOf(sample[0]).type, eventOf(sample[2]).type],
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /torn or truncated/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('PathPolicy: paths a webview sends stay inside the workspace, through symlink chains and dangling links too', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'policy-'));
  try {
    const ws = path.join(tmp, 'ws');
    const outside = path.join(tmp, 'outside');
    mkdirSync(path.join(ws, 'data'), { recursive: true });
    mkdirSync(outside);
    symlinkSync(path.join(outside, 'not-yet'), path.join(ws, 'dangling')); // points out, target missing
    symlinkSync(path.join(ws, 'hop2'), path.join(ws, 'hop1')); // hop1 -> hop2 -> outside
    symlinkSync(outside, path.join(ws, 'hop2'));
    symlinkSync(path.join(ws, 'data'), path.join(ws, 'inner')); // a link that stays inside
    const policy = new PathPolicy(() => [ws]);
    const refused = [
      'dangling',
      'dangling/file.csv',
      'hop1',
      'hop1/x.csv',
      'hop2/x',
      '../outside',
      `${outside}/x`,
      'data/../../outside',
      '/',
      '//etc',
      'data/\0x',
    ];
    for (const p of refused) assert.equal(policy.check(p), undefined, p);
    assert.equal(policy.check('inner/train.csv'), path.join(ws, 'inner', 'train.csv'));
    assert.equal(policy.check('data/new/deeper.csv'), path.join(ws, 'data', 'new', 'deeper.csv'));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
