// Running a setup plan with real processes (src/engine/setupRun.ts): a failed step quotes pip's ERROR line and removes
// the .venv the plan created, never one that was there before; a cancel kills the running step and cleans up too.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { EnvironmentReport } from '../../src/engine/environment';
import { parseTorchSetting, setupPlan, type SetupPlan } from '../../src/engine/setupPlan';
import { executePlan } from '../../src/engine/setupRun';

const quiet = { info() {}, warn() {}, error() {} };
const withDir = async (fn: (dir: string) => Promise<void>) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'setup-run-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
const py = (code: string) => ({ command: 'python3', args: ['-c', code] });
const okReport = (python: string): EnvironmentReport => ({ python, ok: true, modules: {}, missing: [] });

test("a torch pip cannot find: the step fails with pip's ERROR line and the new .venv is removed", async () => {
  await withDir(async (dir) => {
    // The real plan: python3 -m venv, then pip install of a torch no index has (pip answers within seconds).
    const plan = setupPlan({
      folder: dir,
      platform: process.platform,
      venvExists: false,
      torchPresent: false,
      torch: parseTorchSetting('torch==0.0.1'),
      cuda: false,
      engine: { wheel: path.join(dir, 'never-reached.whl') },
    });
    const progress: string[] = [];
    const out = await executePlan(plan, { cwd: dir, log: quiet, onProgress: (m) => progress.push(m) });
    assert.equal(out.ok, false);
    if (out.ok) return;
    assert.equal(out.cancelled, false);
    assert.equal(out.why, 'installing PyTorch (torch==0.0.1) failed (exit 1)');
    assert.match(out.detail!, /^ERROR: .*torch==0\.0\.1/m);
    assert.equal(out.removedVenv, true);
    assert.equal(existsSync(plan.venv), false, 'the half-made .venv must go');
    assert.deepEqual(progress.slice(0, 2), ['(1/4) creating .venv', '(2/4) installing PyTorch (torch==0.0.1)']);
  });
});

test('a .venv that was there before is kept when a step fails', async () => {
  await withDir(async (dir) => {
    const venv = path.join(dir, '.venv');
    mkdirSync(venv);
    writeFileSync(path.join(venv, 'mine'), 'the user’s');
    const plan: SetupPlan = {
      venv,
      python: 'python3',
      createsVenv: false,
      steps: [{ id: 'engine', title: 'installing the engine', ...py('import sys; print("ERROR: boom"); sys.exit(3)') }],
    };
    const out = await executePlan(plan, { cwd: dir, log: quiet, check: (p) => Promise.resolve(okReport(p)) });
    assert.deepEqual(out, {
      ok: false,
      cancelled: false,
      why: 'installing the engine failed (exit 3)',
      detail: 'ERROR: boom',
      removedVenv: false,
    });
    assert.ok(existsSync(path.join(venv, 'mine')));
  });
});

test('cancel kills the running step, starts nothing more and removes the .venv it made', async () => {
  await withDir(async (dir) => {
    const venv = path.join(dir, '.venv');
    const marker = path.join(dir, 'second-step-ran');
    const plan: SetupPlan = {
      venv,
      python: 'python3',
      createsVenv: true,
      steps: [
        {
          id: 'venv',
          title: 'creating .venv',
          ...py(`import os, time; os.makedirs(${JSON.stringify(venv)}); time.sleep(60)`),
        },
        { id: 'engine', title: 'installing the engine', ...py(`open(${JSON.stringify(marker)}, "w")`) },
      ],
    };
    const abort = new AbortController();
    const t0 = Date.now();
    setTimeout(() => abort.abort(), 1500);
    const out = await executePlan(plan, { cwd: dir, log: quiet, signal: abort.signal });
    assert.ok(Date.now() - t0 < 20_000, 'the sleeping step was not killed');
    assert.equal(out.ok, false);
    if (out.ok) return;
    assert.equal(out.cancelled, true);
    assert.equal(out.why, 'cancelled while creating .venv');
    assert.equal(existsSync(venv), false);
    assert.equal(existsSync(marker), false, 'a step ran after the cancel');
  });
});

test('steps that succeed end with the check; a failed check also removes the new .venv', async () => {
  await withDir(async (dir) => {
    const venv = path.join(dir, '.venv');
    const plan: SetupPlan = {
      venv,
      python: '/x/python',
      createsVenv: true,
      steps: [{ id: 'venv', title: 'creating .venv', ...py(`import os; os.makedirs(${JSON.stringify(venv)})`) }],
    };
    const ok = await executePlan(plan, { cwd: dir, log: quiet, check: (p) => Promise.resolve(okReport(p)) });
    assert.deepEqual(ok, { ok: true, report: okReport('/x/python') });
    rmSync(venv, { recursive: true });
    const missing = { python: '/x/python', ok: false, pythonVersion: '3.11.7', modules: {}, missing: ['peft'] };
    const bad = await executePlan(plan, { cwd: dir, log: quiet, check: () => Promise.resolve(missing) });
    assert.equal(bad.ok, false);
    if (bad.ok) return;
    assert.match(bad.why, /^the check after installing failed: \/x\/python \(Python 3\.11\.7\) is missing peft$/);
    assert.equal(existsSync(venv), false);
  });
});
