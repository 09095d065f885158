// Activation, contributions and commands.
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { STARTER_EXPERIMENT } from '../../protocol/experiment';
import { ExperimentMessages } from '../../protocol/webviews/experiment';
import { api, extension, packageJson } from './context';
import { test, waitFor } from './harness';

test('the extension activates and returns its API', async () => {
  const a = await api();
  assert.ok(extension().isActive);
  assert.equal(typeof a.runs.listRuns, 'function');
  assert.equal(typeof a.runs.startComparison, 'function');
  assert.ok(a.runsTree);
});

test('a refused change in the Experiment form writes nothing, not even the starter file, in an empty workspace', async () => {
  const { panels } = await api();
  const ws = vscode.workspace.workspaceFolders![0].uri.fsPath;
  const experiments = () => readdirSync(ws).filter((f) => f.endsWith('.ladder.json'));
  assert.deepEqual(experiments(), [], 'the suite starts with no experiment file');
  await panels.experiment.receive({ type: ExperimentMessages.update, patch: { data: '/etc/passwd' } });
  assert.deepEqual(experiments(), [], 'a path outside the workspace was refused, yet a file was written');
});

test('every contributed command is registered', async () => {
  const contributed = packageJson().contributes.commands.map((c) => c.command);
  for (const id of [
    'ladderLab.newExperiment',
    'ladderLab.runExperiment',
    'ladderLab.runComparison',
    'ladderLab.stopRun',
    'ladderLab.openMonitor',
    'ladderLab.openResults',
    'ladderLab.selectPython',
    'ladderLab.setupEngine',
    'ladderLab.refreshRuns',
    'ladderLab.showEngineVersion',
  ]) {
    assert.ok(contributed.includes(id), `${id} is not contributed`);
  }
  const registered = new Set(await vscode.commands.getCommands(true));
  assert.deepEqual(
    contributed.filter((c) => !registered.has(c)),
    [],
  );
});

test('the experiment schema is contributed for *.ladder.json and exists', () => {
  const ext = extension();
  const entry = packageJson().contributes.jsonValidation.find((j) => j.fileMatch === '*.ladder.json');
  assert.ok(entry, 'no jsonValidation for *.ladder.json');
  const schemaFile = path.join(ext.extensionPath, entry.url);
  assert.ok(existsSync(schemaFile), `${schemaFile} is missing`);
  const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as {
    properties: { methods: { items: { enum: string[] } } };
  };
  assert.equal(schema.properties.methods.items.enum.includes('lst'), true);
});

test('the JSON language service validates *.ladder.json with the schema', async () => {
  const file = vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0].uri, 'schema-check.ladder.json');
  await vscode.workspace.fs.writeFile(file, Buffer.from('{\n  "r": 100,\n  "epoch": 3\n}\n'));
  await vscode.window.showTextDocument(file);
  const diagnostics = await waitFor(
    'schema diagnostics',
    () => {
      const d = vscode.languages.getDiagnostics(file);
      return d.length >= 2 ? d : undefined;
    },
    25_000,
  );
  const text = diagnostics.map((d) => d.message).join('\n');
  assert.match(text, /64/); // r's maximum
  assert.match(text, /epoch/i); // additionalProperties false
  await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  await vscode.workspace.fs.delete(file);
}, 40_000);

test('New Experiment writes the starter as NAME.ladder.json, opens it, and never replaces a file', async () => {
  // The name is passed as the command's argument: the input box (the palette's path) applies the same
  // experimentNameProblem checks, tested in test/unit/experiment-name.test.ts.
  const uri = await vscode.commands.executeCommand<vscode.Uri>('ladderLab.newExperiment', 'first trial');
  assert.ok(uri && existsSync(uri.fsPath), 'no file written');
  assert.equal(path.basename(uri.fsPath), 'first trial.ladder.json');
  assert.deepEqual(JSON.parse(readFileSync(uri.fsPath, 'utf8')), STARTER_EXPERIMENT);
  assert.equal(STARTER_EXPERIMENT.data, 'sample'); // data that exists wherever the engine is installed
  assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, uri.fsPath);
  // The same name again opens the existing file and leaves it as it was.
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  writeFileSync(uri.fsPath, '{"task": "sst2", "data": "sample", "epochs": 2}\n');
  const again = await vscode.commands.executeCommand<vscode.Uri>('ladderLab.newExperiment', 'first trial.ladder.json');
  assert.equal(again?.fsPath, uri.fsPath);
  assert.equal((JSON.parse(readFileSync(uri.fsPath, 'utf8')) as { epochs: number }).epochs, 2);
  assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, uri.fsPath);
  // A name that is a path writes nothing.
  const refused = await vscode.commands.executeCommand<vscode.Uri | undefined>('ladderLab.newExperiment', '../out');
  assert.equal(refused, undefined);
  assert.ok(!existsSync(path.join(path.dirname(uri.fsPath), '..', 'out.ladder.json')));
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  await vscode.workspace.fs.delete(uri);
});
