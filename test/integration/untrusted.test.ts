// Run in a workspace that is NOT trusted (Restricted Mode): the runner's second code-server pass, with workspace
// trust on. The extension still activates ("limited" support), lists results, and launches nothing.
import * as assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Session } from '../../src/runs/types';
import { api, repoRoot, workspaceDir, writeExperiment } from './context';
import { test } from './harness';

const suite = 'untrusted' as const;

test('the workspace is in Restricted Mode and the extension is active', async () => {
  assert.equal(vscode.workspace.isTrusted, false, 'the runner should have opened an untrusted workspace');
  assert.ok((await api()).runs);
}, 30_000, suite);

test('results already on disk are listed', async () => {
  // One finished run, made from the engine's recorded event fixture.
  const lines = readFileSync(path.join(repoRoot(), 'engine/tests/fixtures/events/compare-lst-lora.jsonl'), 'utf8').trim().split('\n');
  const id: string = JSON.parse(lines[0]).run_id;
  const dir = path.join(workspaceDir(), '.ladderlab/runs', id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ method: 'lst' }));
  writeFileSync(path.join(dir, 'events.jsonl'), lines.filter((l) => JSON.parse(l).run_id === id).join('\n') + '\n');
  const { runs, runsTree } = await api();
  const record = (await runs.listRuns()).find((r) => r.id === id);
  assert.equal(record?.status, 'finished');
  assert.ok((await runsTree.getChildren()).some((r) => r.id === id));
}, 30_000, suite);

test('Run Comparison launches nothing and says why', async () => {
  const { runs } = await api();
  const uri = writeExperiment('tiny.ladder.json', { methods: ['lst'] });
  const session = await vscode.commands.executeCommand<Session | undefined>('ladderLab.runComparison', uri);
  assert.equal(session, undefined);
  assert.equal(runs.sessions().length, 0);
  await assert.rejects(runs.startComparison(uri.fsPath), /Restricted Mode/);
  assert.equal(runs.sessions().length, 0);
}, 30_000, suite);
