// What the integration tests share: the extension's API, the repository root and the test workspace.
import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LadderLabApi } from '../../src/extension';
import type { RunManager } from '../../src/runs/runManager';
import type { Session } from '../../src/runs/types';
import { waitFor } from './harness';

export const EXTENSION_ID = 'ladderlab.ladder-lab';

export function extension(): vscode.Extension<LadderLabApi> {
  const ext = vscode.extensions.getExtension<LadderLabApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not loaded`);
  return ext;
}

/** The manifest VS Code loaded (the repository's package.json: the extension runs unpacked from it). */
export function packageJson(): typeof import('../../package.json') {
  return extension().packageJSON as typeof import('../../package.json');
}

export async function api(): Promise<LadderLabApi & { runs: RunManager }> {
  return (await extension().activate()) as LadderLabApi & { runs: RunManager };
}

/** The extension is loaded unpacked from the repository, so its path is the repository root. */
export function repoRoot(): string {
  return extension().extensionPath;
}

export function workspaceDir(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the tests need a workspace folder');
  return folder.uri.fsPath;
}

/** A tiny experiment: a random-init 2-layer BERT on the engine's 20-example CSV fixture (seconds on a CPU). */
export function writeExperiment(name: string, values: Record<string, unknown>): vscode.Uri {
  const file = path.join(workspaceDir(), name);
  const base = {
    backbone: 'preset:bert-tiny',
    task: 'file',
    data: path.join(repoRoot(), 'engine/tests/fixtures/files/sentiment.csv'),
    text_columns: ['text'],
    label_column: 'label',
    epochs: 1,
    max_length: 32,
    batch_size: 8,
    fisher_samples: 4,
  };
  writeFileSync(file, JSON.stringify({ ...base, ...values }, null, 2));
  return vscode.Uri.file(file);
}

export async function waitForState(session: Session, states: Session['state'][], ms: number): Promise<Session> {
  return waitFor(
    `session ${session.id} to reach ${states.join('/')} (now ${session.state})`,
    () => (states.includes(session.state) ? session : undefined),
    ms,
  );
}
