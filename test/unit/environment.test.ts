// Choosing the interpreter and reading the environment check.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  checkArgs,
  checkEnvironment,
  describeReport,
  parseCheckOutput,
  parseSubcommands,
  pickPython,
  venvHasEngine,
  venvPython,
} from '../../src/engine/environment';
import { REPO_ROOT } from './jsonl';

test('pickPython: setting, then the Python extension, then the workspace .venv, then python3', () => {
  const all = { setting: '/opt/py', pythonExtension: '/ext/py', workspaceVenv: '/w/.venv/bin/python' };
  assert.deepEqual(pickPython(all), { path: '/opt/py', source: 'setting' });
  assert.deepEqual(pickPython({ ...all, setting: '  ' }), { path: '/ext/py', source: 'python-extension' });
  assert.deepEqual(pickPython({ workspaceVenv: all.workspaceVenv }), {
    path: all.workspaceVenv,
    source: 'workspace-venv',
  });
  assert.deepEqual(pickPython({ platform: 'linux' }), { path: 'python3', source: 'default' });
  assert.deepEqual(pickPython({ platform: 'win32' }), { path: 'python', source: 'default' });
  assert.equal(venvPython('/w/.venv', 'linux'), '/w/.venv/bin/python');
});

test('the check runs python -c with arguments, never a shell string', () => {
  const args = checkArgs(false);
  assert.equal(args[0], '-c');
  assert.deepEqual(args.slice(2), ['quick', 'torch', 'transformers', 'peft', 'ladderlab']);
});

test('parseCheckOutput says exactly what is missing', () => {
  const out = JSON.stringify({
    python: '3.11.7',
    modules: {
      torch: { ok: true, version: '2.13.0' },
      transformers: { ok: true, version: '5.24.0' },
      peft: { ok: false, error: "ModuleNotFoundError: No module named 'peft'" },
      ladderlab: { ok: false, error: 'ImportError: cannot import name x' },
    },
  });
  const r = parseCheckOutput('/v/bin/python', `some banner\n${out}\n`);
  assert.equal(r.ok, false);
  assert.deepEqual(r.missing, ['peft', 'ladderlab']);
  assert.equal(
    describeReport(r),
    '/v/bin/python (Python 3.11.7) is missing peft, ladderlab (ImportError: cannot import name x)',
  );
  const bad = parseCheckOutput('/v/bin/python', 'Segmentation fault');
  assert.match(bad.problem!, /unexpected output/);
});

test('checkEnvironment: a missing interpreter is a problem, not an exception', async () => {
  const r = await checkEnvironment('/nonexistent/python3');
  assert.equal(r.ok, false);
  assert.match(r.problem!, /cannot run the Python interpreter \/nonexistent\/python3: not found/);
});

test('checkEnvironment (quick) runs a real python3 and reports every module', async (t) => {
  const r = await checkEnvironment('python3');
  if (r.problem?.includes('not found')) return t.skip('no python3 on PATH');
  assert.equal(r.problem, undefined);
  assert.match(r.pythonVersion!, /^3\./);
  assert.deepEqual(Object.keys(r.modules).sort(), ['ladderlab', 'peft', 'torch', 'transformers']);
});

test('parseSubcommands reads argparse usage', () => {
  assert.deepEqual(parseSubcommands('usage: ladderlab [-h] {run,compare} ...'), ['run', 'compare']);
  assert.deepEqual(parseSubcommands('usage: ladderlab [-h] {run,compare,estimate} ...'), [
    'run',
    'compare',
    'estimate',
  ]);
  assert.deepEqual(parseSubcommands(''), []);
});

test('venvHasEngine: a .venv counts only once the engine is installed in it (a half-made one is skipped)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'venv-'));
  try {
    const site = path.join(dir, 'lib', 'python3.11', 'site-packages');
    mkdirSync(path.join(site, 'torch-2.13.0.dist-info'), { recursive: true });
    assert.equal(venvHasEngine(dir, 'linux'), false, 'torch alone is not the engine');
    mkdirSync(path.join(site, 'ladderlab-0.1.0.dist-info'));
    assert.equal(venvHasEngine(dir, 'linux'), true);
    assert.equal(venvHasEngine(dir, 'win32'), false, 'Windows venvs keep packages in Lib/site-packages');
    mkdirSync(path.join(dir, 'Lib', 'site-packages', 'ladderlab-0.1.0.dist-info'), { recursive: true });
    assert.equal(venvHasEngine(dir, 'win32'), true);
    assert.equal(venvHasEngine(path.join(dir, 'missing'), 'linux'), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("venvHasEngine: this repository's own .venv (editable install) has the engine", (t) => {
  const venv = path.join(REPO_ROOT, '.venv');
  if (!existsSync(venv)) return t.skip('no .venv: run scripts/setup-engine');
  assert.equal(venvHasEngine(venv), true);
});
