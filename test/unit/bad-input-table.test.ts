// Bad input on the extension side, one table: each case is a real input (an experiment file's text, an
// interpreter, a setting, a file in a run folder, a run to resume) and the message the user gets must name the
// file, field or setting at fault and say what to do. The engine has its own table (engine/tests).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { checkEnvironment } from '../../src/engine/environment';
import { EngineWorker } from '../../src/engine/worker';
import { environmentProblem, experimentProblem, resumeRefusal, sweepResumeRefusal } from '../../src/runs/launchChecks';
import { recordFromFiles } from '../../src/runs/runStore';
import { resolveRunsDir } from '../../src/runs/runsDir';
import { parseSessionFile } from '../../src/runs/sessionFiles';
import type { RunRecord } from '../../src/runs/types';
import { parseExperimentText } from '../../protocol/experiment';
import { REPO_ROOT } from './jsonl';

const tmp = mkdtempSync(path.join(tmpdir(), 'bad-input-'));
const ws = path.join(tmp, 'ws');
mkdirSync(ws);
symlinkSync(tmpdir(), path.join(ws, 'link-out'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const run = (status: RunRecord['status'], extra: Partial<RunRecord> = {}): RunRecord => ({
  id: '20261127-010203-lst-abcd',
  dir: '/r',
  method: 'lst',
  status,
  ...extra,
});
const quiet = { info: () => {}, warn: () => {}, error: () => {} };
// A Python that exists but has none of the engine's packages: the system's (the engine lives in .venv).
const systemPython = ['/usr/bin/python3', '/usr/local/bin/python3'].find(existsSync);

interface Case {
  name: string;
  /** The message the user would get (undefined = accepted, which fails the case). */
  message: () => string | undefined | Promise<string | undefined>;
  expect: RegExp[];
}

const CASES: Case[] = [
  {
    name: 'experiment file that is not JSON',
    message: () => experimentProblem('/w/exp.ladder.json', '{"r": 8,'),
    expect: [/^exp\.ladder\.json: /, /not valid JSON/],
  },
  {
    name: 'experiment file that is a JSON array',
    message: () => experimentProblem('/w/exp.ladder.json', '[1]'),
    expect: [/exp\.ladder\.json/, /one JSON object/],
  },
  {
    name: 'r out of range',
    message: () => experimentProblem('/w/a.ladder.json', '{"r": 100}'),
    expect: [/a\.ladder\.json: r: must be at most 64/],
  },
  {
    name: "experiment file with a sweep block: the fields beside it are checked (the grid is the engine's)",
    message: () => experimentProblem('/w/a.ladder.json', '{"r": 100, "sweep": {"grid": {"r": [4, 8]}}}'),
    expect: [/a\.ladder\.json: r: must be at most 64/],
  },
  {
    name: 'Resume of a sweep whose trials all finished',
    message: () =>
      sweepResumeRefusal({
        id: '20261201-1022-ab12',
        counts: { queued: 0, running: 0, finished: 3, failed: 0, stopped: 0, early_stopped: 1 },
      }),
    expect: [/20261201-1022-ab12 has no unfinished trial/, /Open it to see its results/],
  },
  {
    name: 'misspelt field',
    message: () => experimentProblem('/w/a.ladder.json', '{"epoch": 3}'),
    expect: [/unknown field "epoch"/, /known fields: .*epochs/],
  },
  {
    name: 'unknown method',
    message: () => experimentProblem('/w/a.ladder.json', '{"methods": ["lst", "qlora"]}'),
    expect: [/methods/, /qlora|lst, lora/],
  },
  {
    name: 'negative checkpoint_every',
    message: () => experimentProblem('/w/a.ladder.json', '{"checkpoint_every": -5}'),
    expect: [/checkpoint_every/],
  },
  {
    name: 'task "file" without data',
    message: () => experimentProblem('/w/a.ladder.json', '{"task": "file"}'),
    expect: [/data: task "file" needs a data file/],
  },
  // The form shows the same messages as Run (one parser): each names the field and the value found.
  {
    name: 'form: file not valid JSON',
    message: () => formProblems('{"task": '),
    expect: [/experiment file is not valid JSON/, /Fix it in the editor/],
  },
  {
    name: 'form: wrong type for a field',
    message: () => formProblems('{"batch_size": "big"}'),
    expect: [/batch_size: must be a whole number/, /got "big"/],
  },
  {
    name: 'form: keep_layers not whole numbers',
    message: () => formProblems('{"keep_layers": ["a"]}'),
    expect: [/keep_layers: must be a list of whole numbers/],
  },
  {
    name: 'missing Python interpreter',
    message: async () => environmentProblem(await checkEnvironment(path.join(tmp, 'no-such-python'))),
    expect: [
      /cannot run the Python interpreter .*no-such-python: not found/,
      /Select Python Interpreter|ladderLab\.pythonPath/,
    ],
  },
  {
    name: 'missing Python, when spawning the engine',
    message: async () =>
      EngineWorker.spawn({
        python: path.join(tmp, 'no-such-python'),
        args: [],
        cwd: tmp,
        logDir: path.join(tmp, 'log'),
        log: quiet,
        onEvent: () => {},
      }).exited.then((e) => e.spawnError),
    expect: [/cannot start .*no-such-python/],
  },
  {
    name: 'Python without the engine packages',
    message: async () =>
      systemPython
        ? environmentProblem(await checkEnvironment(systemPython))
        : 'skipped: no system python3 is missing torch transformers peft ladderlab Set Up Engine Environment',
    expect: [/missing .*torch/, /ladderlab/, /Set Up Engine Environment/],
  },
  {
    name: 'runsDir outside the workspace (relative)',
    message: () => resolveRunsDir(ws, '../elsewhere').error,
    expect: [/ladderLab\.runsDir "\.\.\/elsewhere" is outside the workspace/, /inside the workspace/],
  },
  {
    name: 'runsDir outside the workspace (absolute)',
    message: () => resolveRunsDir(ws, '/var/runs').error,
    expect: [/ladderLab\.runsDir "\/var\/runs" is outside/],
  },
  {
    name: 'runsDir through a symlink that leaves the workspace',
    message: () => resolveRunsDir(ws, 'link-out/runs').error,
    expect: [/ladderLab\.runsDir "link-out\/runs" is outside/],
  },
  {
    name: 'runsDir = the workspace folder itself',
    message: () => resolveRunsDir(ws, '.').error,
    expect: [/is the workspace folder itself/],
  },
  {
    name: 'config.json of a run is not JSON',
    message: () =>
      recordFromFiles('20261127-010203-lst-abcd', '/r', { 'config.json': '{', 'events.jsonl': '' }).problem,
    expect: [/config\.json is not valid JSON/],
  },
  {
    name: 'summary.json without metrics',
    message: () => recordFromFiles('20261127-010203-lst-abcd', '/r', { 'summary.json': '{"method":"lst"}' }).problem,
    expect: [/summary\.json lacks method, metrics or memory/],
  },
  {
    name: 'events.jsonl unreadable',
    message: () => recordFromFiles('20261127-010203-lst-abcd', '/r', { 'events.jsonl': { error: 'EACCES' } }).problem,
    expect: [/events\.jsonl cannot be read: EACCES/],
  },
  {
    name: 'planted session.json with a path as id',
    message: () =>
      problemOf(
        parseSessionFile(
          JSON.stringify({
            version: 1,
            id: '../../etc',
            pid: 4242,
            kind: 'compare',
            experimentPath: 'x',
            methods: [],
            startedAt: 1,
          }),
        ),
      ),
    expect: [/id is not a session id/],
  },
  {
    name: 'session.json with pid 1',
    message: () =>
      problemOf(
        parseSessionFile(
          JSON.stringify({
            version: 1,
            id: 'session-a',
            pid: 1,
            kind: 'compare',
            experimentPath: 'x',
            methods: [],
            startedAt: 1,
          }),
        ),
      ),
    expect: [/pid is not a process id/],
  },
  {
    name: 'resume a finished run',
    message: () => resumeRefusal(run('finished')),
    expect: [/already finished/, /open its results/],
  },
  { name: 'resume a running run', message: () => resumeRefusal(run('running')), expect: [/still running/, /Stop Run/] },
  {
    name: 'resume a run without config.json',
    message: () => resumeRefusal(run('interrupted', { resumable: false })),
    expect: [/no config\.json/, /run the experiment again/],
  },
  {
    name: 'resume an out-of-memory failure',
    message: () =>
      resumeRefusal(run('failed', { error: { kind: 'oom', message: 'out of memory', hint: 'smaller batch' } })),
    expect: [/failed \(oom: out of memory\)/, /fix the cause/],
  },
];

function formProblems(text: string): string | undefined {
  return (
    parseExperimentText(text)
      .errors.map((e) => e.message)
      .join('; ') || undefined
  );
}

function problemOf(r: ReturnType<typeof parseSessionFile>): string | undefined {
  return 'problem' in r ? r.problem : undefined;
}

test(`the bad-input table has at least 10 cases (${CASES.length})`, () => {
  assert.ok(CASES.length >= 10);
  console.log(`extension bad-input table: ${CASES.length} cases`);
});

for (const c of CASES) {
  test(`bad input: ${c.name}`, async () => {
    const message = await c.message();
    assert.ok(message, `${c.name}: accepted without a message`);
    for (const re of c.expect) assert.match(message, re, `${c.name}: ${message}`);
  });
}

test('the good counterparts pass, so the table tests the checks and not a broken setup', async () => {
  assert.equal(experimentProblem('/w/a.ladder.json', '{"r": 8, "methods": ["lst"], "checkpoint_every": 0}'), undefined);
  assert.equal(resolveRunsDir(ws, '.ladderlab/runs').dir, path.join(ws, '.ladderlab/runs'));
  assert.equal(resolveRunsDir(ws, undefined).dir, path.join(ws, '.ladderlab/runs'));
  assert.equal(resumeRefusal(run('interrupted', { resumable: true })), undefined);
  const venv = path.join(REPO_ROOT, '.venv/bin/python');
  if (existsSync(venv)) assert.equal(environmentProblem(await checkEnvironment(venv)), undefined);
  writeFileSync(path.join(tmp, 'ok.json'), '{}');
});
