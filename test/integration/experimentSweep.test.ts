// Issue 13, "sweep this" in the Experiment form, in the real extension host: the form's sweep messages write the
// file's sweep block (method-specific fields per method, following the methods chosen), the trial count shown is
// the engine's plan (`ladderlab sweep plan`), a grid the engine refuses is an error in its words (Run disabled),
// each trial gets the engine's memory estimate, and turning everything off removes the block.
import * as assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import * as vscode from 'vscode';
import { ExperimentMessages } from '../../protocol/webviews/experiment';
import { api, writeExperiment } from './context';
import { test, waitFor } from './harness';

test('the form sweeps r and seeds into the file, shows the engine plan and estimate, and removes the block', async () => {
  const { panels } = await api();
  const view = panels.experiment;
  const uri = writeExperiment('form-sweep.ladder.json', {
    task: 'sst2',
    data: 'sample',
    text_columns: null,
    label_column: null,
    methods: ['lst', 'lora'],
    max_train_examples: 16,
    max_eval_examples: 8,
  });
  const sweepOf = () => (JSON.parse(readFileSync(uri.fsPath, 'utf8')) as { sweep?: unknown }).sweep;
  const planned = (count: number, estimated = false) =>
    waitFor(
      `the form to show ${count} planned trials${estimated ? ', estimated' : ''}`,
      async () => {
        const plan = (await view.currentState()).sweep?.plan;
        if (plan?.status !== 'planned' || plan.count !== count) return undefined;
        return !estimated || !plan.estimating ? plan : undefined;
      },
      estimated ? 120_000 : 20_000,
    );
  try {
    await vscode.window.showTextDocument(uri, { preview: false });
    await waitFor('the form to show the file', async () =>
      (await view.currentState()).file?.endsWith('form-sweep.ladder.json'),
    );
    assert.equal((await view.currentState()).sweep, null);

    await view.receive({ type: ExperimentMessages.sweepField, field: 'r', values: [4, 8] });
    await view.receive({ type: ExperimentMessages.sweepSeeds, count: 2 });
    assert.deepEqual(sweepOf(), { per_method: { lst: { r: [4, 8] } }, seeds: [42, 43] });
    const both = await planned(2 * 2 + 2); // LST r x seeds, LoRA once per seed: the engine's expansion
    assert.deepEqual(
      both.trials.map((t) => [t.method, t.point, t.seed]),
      [
        ['lst', { r: 4 }, 42],
        ['lst', { r: 4 }, 43],
        ['lst', { r: 8 }, 42],
        ['lst', { r: 8 }, 43],
        ['lora', {}, 42],
        ['lora', {}, 43],
      ],
    );

    // a value the field refuses never reaches the file: the message is dropped
    await view.receive({ type: ExperimentMessages.sweepField, field: 'r', values: [4, 100] });
    assert.deepEqual(sweepOf(), { per_method: { lst: { r: [4, 8] } }, seeds: [42, 43] });

    // per_method follows the methods: a baseline's field goes to each chosen baseline it applies to, and to the grid
    // when none is chosen, where the engine refuses it naming the field
    await view.receive({ type: ExperimentMessages.sweepField, field: 'freeze_layers', values: [0, 1] });
    assert.deepEqual(sweepOf(), {
      per_method: { lst: { r: [4, 8] }, lora: { freeze_layers: [0, 1] } },
      seeds: [42, 43],
    });
    await view.receive({ type: ExperimentMessages.update, patch: { methods: ['lst', 'lora', 'full'] } });
    assert.deepEqual(sweepOf(), {
      per_method: { lst: { r: [4, 8] }, lora: { freeze_layers: [0, 1] }, full: { freeze_layers: [0, 1] } },
      seeds: [42, 43],
    });
    await view.receive({ type: ExperimentMessages.update, patch: { methods: ['lst'] } });
    assert.deepEqual(sweepOf(), {
      grid: { freeze_layers: [0, 1] },
      per_method: { lst: { r: [4, 8] } },
      seeds: [42, 43],
    });
    const refused = await waitFor('the engine to refuse freeze_layers without a baseline', async () => {
      const s = await view.currentState();
      return s.sweep?.plan.status === 'refused' ? s : undefined;
    });
    const error = refused.errors.find((e) => e.field === 'sweep');
    assert.ok(error, JSON.stringify(refused.errors));
    assert.match(
      error.message,
      /sweep\.grid\.freeze_layers: freeze_layers applies to adapter, lora, bitfit, full only/,
    );
    await view.receive({ type: ExperimentMessages.sweepField, field: 'freeze_layers', values: null });
    assert.deepEqual(sweepOf(), { per_method: { lst: { r: [4, 8] } }, seeds: [42, 43] });

    const lst = await planned(4, true);
    const peaks = lst.trials.map((t) => t.peak_bytes);
    assert.ok(
      peaks.every((p) => typeof p === 'number' && p > 0),
      `every trial has the engine's estimate: ${JSON.stringify(lst)}`,
    );
    assert.equal(peaks[0], peaks[1]); // seeds of one point share it
    assert.notEqual(peaks[0], peaks[2]); // r changes the side network's size
    assert.ok(lst.trials.every((t) => t.total_steps === Math.ceil(16 / 8)));

    await view.receive({ type: ExperimentMessages.sweepField, field: 'r', values: null });
    assert.deepEqual(sweepOf(), { seeds: [42, 43] });
    await view.receive({ type: ExperimentMessages.sweepSeeds, count: 1 });
    assert.equal(sweepOf(), undefined);
    assert.equal((await view.currentState()).sweep, null);
  } finally {
    await vscode.window.showTextDocument(uri, { preview: false });
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    rmSync(uri.fsPath, { force: true });
  }
}, 180_000);
