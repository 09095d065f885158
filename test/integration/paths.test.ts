// Issue 11, item 7, in the real extension host: a data path typed into the Experiment form of a file in a subfolder
// is read from that file's folder (".." allowed) and written as typed; one outside the workspace is not written and
// stays in the field with the reason (an error that disables Run), never dropped silently; fixing it clears it.
import * as assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ExperimentMessages } from '../../protocol/webviews/experiment';
import { api, workspaceDir, writeExperiment } from './context';
import { test, waitFor } from './harness';

test('a typed data path follows the rule of Browse: ".." from the file\'s folder written, outside refused beside Data', async () => {
  const { panels } = await api();
  const ws = workspaceDir();
  mkdirSync(path.join(ws, 'paths-exp'), { recursive: true });
  mkdirSync(path.join(ws, 'paths-data', 'SST-2'), { recursive: true });
  const uri = writeExperiment(path.join('paths-exp', 'typed.ladder.json'), {
    task: 'sst2',
    text_columns: null,
    label_column: null,
  });
  const dataOf = () => (JSON.parse(readFileSync(uri.fsPath, 'utf8')) as { data?: unknown }).data;
  const before = (await panels.experiment.currentState()).file; // shown again afterwards, for the tests that follow
  try {
    await vscode.window.showTextDocument(uri, { preview: false });
    const view = panels.experiment;
    await waitFor(
      'the form to show the file',
      async () => (await view.currentState()).file?.endsWith('typed.ladder.json'),
      10_000,
    );

    await view.receive({ type: ExperimentMessages.update, patch: { data: '../paths-data/SST-2' } });
    assert.equal(dataOf(), '../paths-data/SST-2'); // as the engine reads it: from the file's folder

    await view.receive({ type: ExperimentMessages.update, patch: { data: '../../elsewhere/SST-2' } });
    assert.equal(dataOf(), '../paths-data/SST-2'); // not written
    const refused = await view.currentState();
    const error = refused.errors.find((e) => e.field === 'data');
    assert.ok(error, `an error beside Data: ${JSON.stringify(refused.errors)}`);
    assert.match(error.message, /outside the workspace/);
    assert.match(error.message, /Browse/);
    assert.equal(refused.shown.data, '../../elsewhere/SST-2'); // the typed value stays in the field

    await view.receive({ type: ExperimentMessages.update, patch: { data: './../paths-data/SST-2' } });
    const fixed = await view.currentState();
    assert.deepEqual(
      fixed.errors.filter((e) => e.field === 'data'),
      [],
    );
    assert.equal(dataOf(), '../paths-data/SST-2');
  } finally {
    await vscode.window.showTextDocument(uri, { preview: false });
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    if (before) {
      await vscode.window.showTextDocument(vscode.Uri.file(path.join(ws, before)), { preview: false });
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    }
    rmSync(path.join(ws, 'paths-exp'), { recursive: true, force: true });
    rmSync(path.join(ws, 'paths-data'), { recursive: true, force: true });
  }
});
