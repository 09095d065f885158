// The extension's mirror of the engine's backbone-dependent rules (protocol/backboneRules.ts) agrees with the engine
// on the shared table engine/tests/fixtures/backbone-rules.json, message for message (the engine's side of the same
// table: engine/tests/test_backbone_rules.py). And the rules reach the places a run starts from.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { backboneProblems, shapeFromConfig } from '../../protocol/backboneRules';
import { DEFAULTS, experimentErrors, parseExperimentText } from '../../protocol/experiment';
import { DEFAULT_BACKBONE, PRESETS } from '../../src/views/backboneInfo';
import { experimentProblem } from '../../src/runs/launchChecks';
import table from '../../engine/tests/fixtures/backbone-rules.json';

interface Case {
  case: string;
  config: Record<string, unknown>;
  experiment: Record<string, unknown>;
  problems: { field: string; message: string; hint: string }[];
}
const TABLE = table as Case[];

test('the table has cases for every rule and every family', () => {
  assert.ok(TABLE.length >= 15);
  assert.deepEqual(
    new Set(TABLE.flatMap((c) => c.problems.map((p) => p.field))),
    new Set(['r', 'keep_layers', 'side_heads', 'freeze_layers']),
  );
});

for (const c of TABLE) {
  test(`same verdict as the engine: ${c.case}`, () => {
    const shape = shapeFromConfig(c.config);
    assert.ok(shape, 'a shape for every family the engine trains');
    const values = { ...DEFAULTS, ...c.experiment };
    assert.deepEqual(backboneProblems(values, shape), c.problems);
  });
}

test('the built-in backbone and every preset have a shape the rules can use', () => {
  assert.deepEqual(DEFAULT_BACKBONE.shape, {
    layers: 6,
    allLayers: 6,
    heads: 12,
    widths: [
      ['hidden', 384],
      ['feed-forward', 1536],
    ],
    attention: 'hidden',
  });
  for (const [name, cfg] of Object.entries(PRESETS)) assert.ok(shapeFromConfig(cfg), name);
  assert.equal(shapeFromConfig({ model_type: 'mamba', hidden_size: 64 }), null); // not trained: the engine says so
  assert.equal(shapeFromConfig({ model_type: 'bert', hidden_size: 64 }), null); // incomplete: not guessed
});

test('a file whose r does not divide the backbone gets an error on r, with what to choose', () => {
  const parsed = parseExperimentText('{"methods": ["lst", "lora"], "r": 5}');
  assert.deepEqual(parsed.errors, []); // nothing wrong without the backbone
  const errors = experimentErrors(parsed, DEFAULT_BACKBONE.shape);
  assert.deepEqual(
    errors.map((e) => e.field),
    ['r'],
  );
  assert.match(
    errors[0].message,
    /^r=5 does not divide the backbone's width \(hidden 384, feed-forward 1536\); choose r/,
  );
  assert.deepEqual(experimentErrors(parsed, null), []); // unknown backbone: the engine decides
});

test('a rule is not applied to a field that is already invalid (its value would be the default)', () => {
  const parsed = parseExperimentText('{"keep_layers": [0, 9], "r": 100}');
  const errors = experimentErrors(parsed, DEFAULT_BACKBONE.shape);
  assert.deepEqual(
    errors.map((e) => e.field),
    ['r', 'keep_layers'],
  );
  assert.match(errors[0].message, /r: must be at most 64/);
  assert.match(errors[1].message, /keep_layers \[9\] out of range: the backbone has 6 layers per stack; use 0-based/);
});

test('the launch check refuses a bad r with the message, naming the file', () => {
  const problem = experimentProblem('/w/a.ladder.json', '{"r": 64}', DEFAULT_BACKBONE.shape);
  assert.equal(
    problem,
    'a.ladder.json: r: the side attention width 6 (= 384/r) is not divisible by 12 heads; choose a smaller r or set side_heads to a divisor of 6',
  );
  assert.equal(experimentProblem('/w/a.ladder.json', '{"r": 16}', DEFAULT_BACKBONE.shape), undefined);
});
