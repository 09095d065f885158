// How runs and sessions are shown after stops, kills, resumes and out-of-memory failures: the run store's status
// rules (stopped / interrupted / resumable / torn tail), a session's final state, and the texts users read.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { EngineEvent } from '../../protocol/events';
import { recordFromFiles, type RunFiles } from '../../src/runs/runStore';
import { errorNotice, treeDescription } from '../../src/runs/runText';
import { finalState, resumableRunOf } from '../../src/runs/sessionState';
import { fold, modelOf } from '../../webview/monitor/resume';
import { eventOf, REPO_ROOT } from './jsonl';

const lines = readFileSync(path.join(REPO_ROOT, 'engine/tests/fixtures/events/compare-lst-lora.jsonl'), 'utf8')
  .trim()
  .split('\n');
const started = eventOf(lines[0]);
assert.ok(started.type === 'run_started', 'the fixture starts with run_started');
const ID = started.run_id;
const run = lines.filter((l) => eventOf(l).run_id === ID);
const untilStep = (n: number) =>
  run.filter((l) => {
    const e = eventOf(l);
    return e.type !== 'run_finished' && !(e.type === 'train_step' && e.step > n) && e.type !== 'evaluation';
  });
const stopped = (step: number, checkpoint: string | null) =>
  JSON.stringify({
    v: 1,
    type: 'run_stopped',
    ts: 1,
    run_id: ID,
    step,
    total_steps: 10,
    signal: 'SIGINT',
    checkpoint,
    message: `stopped at step ${step}; resume with: ladderlab resume RUN_DIR`,
  });
const resumedStart = JSON.stringify({
  ...started,
  resumed: { step: 2, epoch: 0, step_in_epoch: 2, checkpoint: 'checkpoint.pt' },
});
const jsonl = (ls: string[]) => ls.map((l) => `${l}\n`).join('');
const files = (events: string, extra: RunFiles = {}): RunFiles => ({
  'config.json': '{"method":"lst"}',
  'events.jsonl': events,
  ...extra,
});
const ev = (ls: string[]) => ls.map(eventOf);

test('a gracefully stopped run is interrupted, resumable with a checkpoint, and says how it stopped', () => {
  const text = jsonl([...untilStep(2), stopped(2, 'checkpoint.pt')]);
  const r = recordFromFiles(ID, '/r', files(text, { checkpoint: true }));
  assert.equal(r.status, 'interrupted');
  assert.equal(r.resumable, true);
  assert.match(r.notes!.join(' '), /stopped at step 2/);
  // The engine still writes its last lines after run_stopped: not "running" even while the process lives.
  assert.equal(recordFromFiles(ID, '/r', files(text, { checkpoint: true }), true).status, 'interrupted');
  const noCheckpoint = recordFromFiles(ID, '/r', files(text));
  assert.equal(noCheckpoint.resumable, true, 'no checkpoint.pt: resume starts it again in its folder');
  assert.equal(noCheckpoint.checkpoint, false);
  assert.equal(r.checkpoint, true);
  const noConfig = recordFromFiles(ID, '/r', { 'events.jsonl': text });
  assert.equal(noConfig.resumable, false, 'no config.json: the engine cannot tell what to train');
});

test('a killed run: interrupted when its process is gone, running while it lives; a torn last line is reported, not corrupt', () => {
  const text = jsonl(untilStep(3)) + run.find((l) => l.includes('"train_step"'))!.slice(0, 25);
  const dead = recordFromFiles(ID, '/r', files(text, { checkpoint: true }));
  assert.equal(dead.status, 'interrupted');
  assert.equal(dead.resumable, true);
  assert.equal(dead.problem, undefined);
  assert.match(dead.notes!.join(' '), /last line of events\.jsonl was cut off.*every earlier event is intact/);
  assert.equal(recordFromFiles(ID, '/r', files(text), true).status, 'running');
});

test('a resumed run: its second run_started clears the stop; it runs, then finishes', () => {
  const before = [...untilStep(2), stopped(2, 'checkpoint.pt'), resumedStart];
  assert.equal(recordFromFiles(ID, '/r', files(jsonl(before), { checkpoint: true }), true).status, 'running');
  const finished = recordFromFiles(ID, '/r', files(jsonl([...before, ...run.slice(untilStep(2).length)])));
  assert.equal(finished.status, 'finished');
  assert.equal(finished.notes, undefined);
  assert.equal(finished.resumable, undefined);
  assert.equal(finished.startedAt, started.ts, 'the first start counts');
});

test('finalState: exit codes first, then (attached, or killed) what the engine said', () => {
  const compareDone = ev(run).concat([{ v: 1, type: 'compare_finished', ts: 2, rows: [] }]);
  const midway = ev(untilStep(2));
  const cases: [Parameters<typeof finalState>, string][] = [
    [['compare', false, { code: 0, signal: null }, midway], 'finished'],
    [['compare', true, { code: 130, signal: null }, midway], 'stopped'],
    [['compare', false, { code: 130, signal: null }, midway], 'stopped'],
    [['compare', false, { code: 3, signal: null }, midway], 'failed'],
    [['compare', false, { code: null, signal: null, spawnError: 'cannot start python' }, []], 'failed'],
    [['compare', false, { code: null, signal: 'SIGKILL' }, midway], 'interrupted'],
    [['compare', false, { code: null, signal: null }, compareDone], 'finished'],
    [['compare', false, { code: null, signal: null }, ev(run), ['lst', 'lora']], 'interrupted'], // lst finished, lora never ran
    [['compare', false, { code: null, signal: null }, ev(run), ['lst']], 'finished'], // one method: no compare_finished
    [['resume', false, { code: null, signal: null }, ev(run)], 'finished'],
    [['compare', false, { code: null, signal: null }, ev([...untilStep(2), stopped(2, null)])], 'stopped'],
    [
      ['resume', false, { code: null, signal: null }, ev([...untilStep(2), stopped(2, 'c'), resumedStart])],
      'interrupted',
    ],
    [
      [
        'compare',
        false,
        { code: null, signal: null },
        [...midway, { v: 1, type: 'error', ts: 3, kind: 'oom', message: 'out of memory', hint: 'smaller batch' }],
      ],
      'failed',
    ],
    [
      [
        'compare',
        false,
        { code: null, signal: null },
        [
          { v: 1, type: 'error', ts: 0.5, kind: 'oom', message: 'an earlier method ran out of memory', hint: null },
          ...ev([...untilStep(2), stopped(2, 'c')]),
        ],
      ],
      'stopped',
    ],
  ];
  for (const [args, expected] of cases) assert.equal(finalState(...args), expected, JSON.stringify(args.slice(0, 3)));
});

test("resumableRunOf: the stopped or interrupted session's unfinished run, nothing otherwise", () => {
  assert.equal(resumableRunOf({ state: 'interrupted', events: ev(untilStep(2)) }), ID);
  assert.equal(resumableRunOf({ state: 'stopped', events: ev([...untilStep(2), stopped(2, 'c')]) }), ID);
  assert.equal(resumableRunOf({ state: 'running', events: ev(untilStep(2)) }), undefined);
  assert.equal(resumableRunOf({ state: 'stopped', events: ev(run) }), undefined, 'finished runs are not offered');
});

test('out-of-memory texts: the notification names method, step, message and hint; the tree shows the hint', () => {
  const oom = {
    v: 1 as const,
    type: 'error' as const,
    ts: 1,
    run_id: ID,
    kind: 'oom' as const,
    message: 'CUDA out of memory.',
    hint: 'use --batch-size 8 or --max-length 64',
    step: 7,
  };
  assert.equal(
    errorNotice(oom, 'lora'),
    'Ladder Lab: out of memory (LoRA, step 7): CUDA out of memory. Hint: use --batch-size 8 or --max-length 64',
  );
  assert.equal(
    errorNotice({ ...oom, kind: 'bad_input', message: 'r does not divide 384', hint: null }),
    'Ladder Lab: r does not divide 384.',
  );
  const failed = recordFromFiles(ID, '/r', files(jsonl([...untilStep(7), JSON.stringify(oom)])));
  assert.equal(failed.status, 'failed');
  assert.equal(treeDescription(failed), 'out of memory — use --batch-size 8 or --max-length 64');
  const resumable = recordFromFiles(ID, '/r', files(jsonl([...untilStep(2), stopped(2, 'c')]), { checkpoint: true }));
  assert.match(treeDescription(resumable), /^stopped at step \d+\/\d+ · resumable$/);
});

test('the monitor continues a resumed run on the same line: redone steps replace, not fold back', () => {
  const first = JSON.parse(run.find((l) => l.includes('"train_step"'))!) as Extract<
    EngineEvent,
    { type: 'train_step' }
  >;
  const step = (n: number, tsShift = 0, lossScale = 1): EngineEvent => ({
    ...first,
    step: n,
    total_steps: 6,
    ts: first.ts + n + tsShift,
    loss: lossScale / n,
  });
  const start = { ...started, total_steps: 6 } as EngineEvent;
  const before = [start, ...[1, 2, 3, 4].map((n) => step(n))]; // killed after step 4; the checkpoint was at step 2
  const restart = {
    ...started,
    total_steps: 6,
    ts: started.ts + 100,
    resumed: { step: 2, epoch: 0, step_in_epoch: 2, checkpoint: 'checkpoint.pt' },
  } as EngineEvent;
  const after = [3, 4, 5, 6].map((n) => step(n, 100, 0.5)); // steps 3 and 4 are redone
  const model = modelOf([...before, restart, ...after], ['lst']);
  assert.equal(model.runs.length, 1, 'one progress entry for the run');
  assert.equal(model.runs[0].step, 6);
  const line = model.loss.get('lst')!;
  assert.deepEqual(
    line.map((p) => p.x),
    [1, 2, 3, 4, 5, 6],
    'the loss line only moves forward, no step twice',
  );
  assert.equal(line[2].y, 0.5 / 3, 'the redone step wins');
  assert.equal(line[1].y, 1 / 2, 'steps up to the checkpoint are kept');
  // Live: the same folding one event at a time.
  const live = modelOf(before, ['lst']);
  for (const e of [restart, ...after]) fold(live, e);
  assert.deepEqual(live.loss.get('lst'), line);
});
