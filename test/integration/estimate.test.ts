// Ladder Lab: Estimate Memory in the extension host, with the real engine (the repository's .venv): the lens follows
// the selected engine without a window reload, and an estimate stays on the file (lens, tooltip, hover).
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { StoredEstimate } from '../../src/views/estimate';
import { api, writeExperiment } from './context';
import { test, waitFor } from './harness';

const lensTitles = async (uri: vscode.Uri) =>
  (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 10)).map(
    (l) => l.command?.title ?? '',
  );

const hoverText = async (uri: vscode.Uri, word: string) => {
  const doc = await vscode.workspace.openTextDocument(uri);
  const line = doc
    .getText()
    .split('\n')
    .findIndex((l) => l.includes(`"${word}"`));
  const hovers = await vscode.commands.executeCommand<vscode.Hover[]>(
    'vscode.executeHoverProvider',
    uri,
    new vscode.Position(line, 5),
  );
  return hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
};

test('the Estimate lens follows ladderLab.pythonPath without a reload: gone without the engine, back with it', async () => {
  await api();
  const uri = writeExperiment('estimate-probe.ladder.json', { methods: ['lst'] });
  await vscode.window.showTextDocument(uri);
  const config = vscode.workspace.getConfiguration('ladderLab');
  const engine = config.get<string>('pythonPath');
  assert.ok(engine, 'the test workspace names the engine in ladderLab.pythonPath');
  const hasLens = async () => (await lensTitles(uri)).some((t) => t.includes('Estimate memory'));
  try {
    await waitFor('the Estimate lens with the engine selected', hasLens, 30_000);
    // An interpreter without the engine: the lens goes, with no reload.
    await config.update(
      'pythonPath',
      process.platform === 'win32' ? 'python' : 'python3',
      vscode.ConfigurationTarget.Workspace,
    );
    await waitFor('the Estimate lens to go', async () => !(await hasLens()), 30_000);
    // The engine selected again: it comes back.
    await config.update('pythonPath', engine, vscode.ConfigurationTarget.Workspace);
    await waitFor('the Estimate lens to come back', hasLens, 30_000);
  } finally {
    await config.update('pythonPath', engine, vscode.ConfigurationTarget.Workspace);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  }
}, 100_000);

test('Estimate Memory gives a result that stays: the lens with peaks and verdict, a hover with the breakdown', async () => {
  const { estimates } = await api();
  // 128 tokens allowed, but the fixture's sentences are a few dozen: the estimate's length comes from the data.
  const uri = writeExperiment('estimate.ladder.json', { methods: ['lst', 'lora'], max_length: 128 });
  await vscode.window.showTextDocument(uri);
  const stored = await vscode.commands.executeCommand<StoredEstimate | undefined>('ladderLab.estimateMemory', uri, {
    gpuGiB: 8,
  });
  assert.ok(stored, 'no estimate came back (see the Ladder Lab output)');
  const r = stored.result;
  assert.deepEqual(
    r.rows.map((row) => row.method),
    ['lst', 'lora'],
  );
  assert.equal(r.length_from, 'data');
  assert.ok(r.length > 0 && r.length < 128, `length ${r.length}`);
  assert.ok(r.rows.every((row) => row.verdict?.gpu_bytes === 8 * 2 ** 30 && row.verdict.fits));
  assert.deepEqual(estimates.get(uri), stored);
  assert.equal(estimates.gpuGiB, 8); // remembered for the next estimate

  const titles = await waitFor(
    'the estimate in the lens',
    async () => {
      const t = await lensTitles(uri);
      return t.some((x) => x.startsWith('$(dashboard) Estimate: ')) ? t : undefined;
    },
    10_000,
  );
  const lens = titles.find((x) => x.startsWith('$(dashboard) Estimate: '))!;
  assert.match(lens, /^\$\(dashboard\) Estimate: LST [\d.]+ [MG]iB · LoRA [\d.]+ [MG]iB — fits 8 GiB$/);

  const md = await hoverText(uri, 'methods');
  assert.match(
    md,
    /\| method \| parameters \| gradients \| optimizer states \| saved activations \| transient \| total \| verdict \|/,
  );
  assert.match(md, /\| LoRA \| .* \| \*\*[\d.]+ [MG]iB\*\* \| fits 8 GiB \|/);
  assert.match(
    md,
    new RegExp(`batch \\d+ × ${r.length} tokens \\(the longest of \\d+ training examples; max_length 128\\)`),
  );
  assert.match(md, /Verdict for a GPU of 8 GiB \(your setting\)/);

  // An edit after the estimate: the result stays, marked as being of the file before the edit.
  const doc = await vscode.workspace.openTextDocument(uri);
  const edit = new vscode.WorkspaceEdit();
  const at = doc.getText().indexOf('"max_length": 128');
  edit.replace(
    uri,
    new vscode.Range(doc.positionAt(at), doc.positionAt(at + '"max_length": 128'.length)),
    '"max_length": 64',
  );
  await vscode.workspace.applyEdit(edit);
  await waitFor(
    'the lens to say the file changed',
    async () =>
      (await lensTitles(uri)).some(
        (t) => t.startsWith('$(dashboard) Estimate: ') && t.endsWith('file changed: re-estimate'),
      ),
    10_000,
  );
  await vscode.commands.executeCommand('workbench.action.files.revert');
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}, 400_000);
