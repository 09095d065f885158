// The results table (rows, formatting), its CSV and Markdown exports, "latest comparison" grouping; and the
// experiment form's file functions and path policy, which decide what a webview may write.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { RunFinishedEvent, RunSummary } from '../../protocol/events';
import {
  buildTable,
  formatBytes,
  latestComparison,
  toCsv,
  toMarkdown,
  type FinishedRun,
} from '../../src/panels/resultsTable';
import { binomialSe } from '../../src/panels/resultsNoise';
import {
  applyPatch,
  DEFAULTS,
  parseExperimentText,
  STARTER_EXPERIMENT,
  type ExperimentFileValues,
  type ExperimentPatch,
} from '../../protocol/experiment';
import { infoFromConfig } from '../../src/views/backboneInfo';
import { acceptPaths, PathPolicy } from '../../src/views/pathPolicy';
import { checkJsonlFile, REPO_ROOT } from './jsonl';

const compare = checkJsonlFile(path.join(REPO_ROOT, 'engine/tests/fixtures/events/compare-lst-lora.jsonl'));
const finished = compare.events.filter((e): e is RunFinishedEvent => e.type === 'run_finished');
const config = { task: 'sst2', backbone: 'default', methods: ['lst', 'lora'], r: 8, epochs: 1 };

function run(
  id: string,
  summary: RunSummary,
  startedAt: number,
  cfg: Record<string, unknown> | null = config,
): FinishedRun {
  return { id, method: summary.method, startedAt, summary, config: cfg && { ...cfg, method: summary.method, lr: 0.1 } };
}
const runs = finished.map((e, i) => run(e.run_id, e.summary, 100 + i));

test('table rows from real summaries: accounted memory on CPU, metrics, score', () => {
  assert.equal(finished.length, 2);
  const t = buildTable(runs);
  assert.deepEqual(
    t.rows.map((r) => r.method),
    ['lst', 'lora'],
  );
  assert.deepEqual(t.metricNames, ['accuracy']);
  assert.deepEqual(t.columns, [
    'Run',
    'Task',
    'Trainable params',
    'Peak train memory',
    'Memory ÷ LoRA',
    'Saved for backward',
    'Step time',
    'Init time',
    'Val. score',
    'Accuracy',
    'Test score',
  ]);
  const lst = t.rows[0];
  const s = finished[0].summary;
  assert.equal(lst.peakKind, 'accounted');
  assert.equal(lst.peakBytes, s.memory.accounted_bytes);
  assert.equal(lst.savedBytes, s.memory.saved_for_backward_bytes);
  assert.equal(lst.score, s.metrics.score);
  assert.equal(lst.task, 'sst2');
  assert.equal(t.cells[0][0], 'LST r=8');
  assert.equal(t.cells[1][0], 'LoRA');
  assert.match(t.cells[0][3], /MiB \(accounted\)$/);
  assert.equal(t.cells[0].length, t.columns.length);
});

test('CUDA peaks win over accounted bytes; a missing score is the mean of the metrics', () => {
  const base = finished[1].summary;
  const cuda: RunSummary = {
    ...base,
    metrics: { f1: 80, accuracy: 70 },
    memory: { ...base.memory, train_peak_bytes: 3 * 1024 ** 3, accounted_bytes: 1 },
  };
  const t = buildTable([run('r1', cuda, 1)]);
  assert.equal(t.rows[0].peakKind, 'cuda');
  assert.equal(t.rows[0].peakBytes, 3 * 1024 ** 3);
  assert.equal(t.rows[0].score, 75);
  assert.deepEqual(t.metricNames, ['accuracy', 'f1']);
  assert.equal(t.cells[0][3], '3.00 GiB (CUDA peak)');
});

test('formatBytes', () => {
  assert.equal(formatBytes(null), '—');
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(2048), '2.0 KiB');
  assert.equal(formatBytes(104957952), '100.1 MiB');
  assert.equal(formatBytes(1.5 * 1024 ** 3), '1.50 GiB');
});

test('CSV: a header, one line per run, raw numbers, RFC 4180 quoting, formulas neutralised', () => {
  const t = buildTable(runs);
  const csv = toCsv(t);
  const lines = csv.trimEnd().split('\r\n');
  assert.equal(
    lines[0],
    'method,label,run_id,task,trainable_pct,peak_train_memory_mib,peak_kind,memory_vs_full,memory_vs_lora,' +
      'saved_for_backward_mib,step_s,init_s,validation_score,accuracy,test_score,test_examples,accuracy_se,duration_s',
  );
  assert.equal(lines.length, 3);
  assert.ok(lines[1].startsWith(`lst,LST r=8,${finished[0].run_id},sst2,1.4026,`), lines[1]);
  assert.ok(csv.endsWith('\r\n'));
  // Hostile text in a method name (a user-made run folder): quoted, and never a formula.
  const evil = buildTable([run('x', { ...finished[0].summary, method: '=HYPERLINK("http://x","a,b")' }, 1)]);
  const row = toCsv(evil).split('\r\n')[1];
  assert.ok(row.startsWith(`"'=HYPERLINK(""http://x"",""a,b"")",`), row);
  const neg = buildTable([run('y', { ...finished[0].summary, metrics: { matthews_corr: -12.5, score: -12.5 } }, 1)]);
  assert.match(toCsv(neg), /,-12\.5,-12\.5,/); // negative numbers stay numbers
});

test('Markdown: a GitHub table with escaped pipes and right-aligned numbers', () => {
  const t = buildTable(runs);
  const md = toMarkdown(t);
  const lines = md.split('\n');
  assert.equal(lines[0], '# Ladder Lab comparison');
  assert.equal(
    lines[2],
    '| Run | Task | Trainable params | Peak train memory | Memory ÷ LoRA | Saved for backward | Step time | Init time |' +
      ' Val. score | Accuracy | Test score |',
  );
  assert.equal(lines[3], '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  assert.ok(lines[4].startsWith('| LST r=8 | sst2 | 1.40 % |'), lines[4]);
  assert.ok(lines[5].startsWith('| LoRA | sst2 |'));
  const evil = toMarkdown(buildTable([{ ...run('x', finished[0].summary, 1), userLabel: 'a|b\nc' }]));
  assert.ok(evil.includes('| a\\|b c |'));
});

test('latest comparison: the newest run plus the newest run of each other method with the same config', () => {
  const [lst, lora] = finished.map((e) => e.summary);
  const all = [
    run('old-lst', lst, 1),
    run('old-lora', lora, 2),
    run('other-lst', lst, 3, { ...config, r: 16 }), // a different experiment in between
    run('new-lst', lst, 4),
    run('new-lora', lora, 5),
    run('no-config', lst, 0, null),
  ];
  assert.deepEqual(latestComparison(all), ['new-lst', 'new-lora']);
  assert.deepEqual(latestComparison([...all, run('newest-other', lst, 9, { ...config, task: 'stsb' })]), [
    'newest-other',
  ]);
  assert.deepEqual(latestComparison([run('lonely', lst, 1, null)]), ['lonely']);
  assert.deepEqual(latestComparison([]), []);
});

test('two LST variants and LoRA: labels and a column for each differing setting, timing, ratios, CSV alike', () => {
  const [lst, lora] = finished.map((e) => e.summary);
  const full = {
    ...lora,
    method: 'full',
    memory: { ...lora.memory, accounted_bytes: 4 * lst.memory.accounted_bytes! },
  };
  const timing = (stepS: number, initS: number) => ({ stepS, initS, testExamples: 200 });
  const table = buildTable([
    { ...run('a', { ...lst, metrics: { accuracy: 80, score: 80 } }, 1, { ...config, r: 4 }), timing: timing(2, 30) },
    { ...run('b', { ...lst, metrics: { accuracy: 90, score: 90 } }, 2, { ...config, r: 8 }), timing: timing(1.5, 0.5) },
    { ...run('c', lora, 3), timing: timing(3, 0.2) },
    run('d', full, 4),
  ]);
  assert.deepEqual(
    table.rows.map((r) => r.label),
    ['LST r=4', 'LST r=8', 'LoRA', 'Full fine-tuning'],
  );
  assert.deepEqual(table.settings, [{ name: 'r', label: 'Reduction factor' }]);
  const col = (name: string) => table.cells.map((c) => c[table.columns.indexOf(name)]);
  assert.deepEqual(col('Reduction factor'), ['4', '8', '—', '—']); // r is LST's: blank for the others
  assert.deepEqual(col('Step time'), ['2.00 s', '1.50 s', '3.00 s', '—']);
  assert.deepEqual(col('Init time'), ['30.0 s', '0.50 s', '0.20 s', '—']);
  assert.deepEqual(col('Memory ÷ full FT'), [
    '0.25×',
    '0.25×',
    (lora.memory.accounted_bytes! / full.memory.accounted_bytes).toFixed(2) + '×',
    '1.00×',
  ]);
  assert.equal(col('Memory ÷ LoRA')[2], '1.00×');
  assert.equal(col('Val. score')[0], lst.validation_metrics!.score.toFixed(2));
  // sqrt(0.8 * 0.2 / 200) * 100 = 2.83 points; the fourth run has no n, so no band.
  assert.deepEqual(col('± SE (accuracy)').slice(0, 2), ['±2.83', '±2.12']);
  assert.equal(col('± SE (accuracy)')[3], '—');
  const csv = toCsv(table).split('\r\n');
  const header = csv[0].split(',');
  assert.ok(header.includes('r') && header.includes('step_s') && header.includes('accuracy_se'));
  const first = csv[1].split(',');
  assert.equal(first[header.indexOf('r')], '4');
  assert.equal(first[header.indexOf('label')], 'LST r=4');
  assert.equal(first[header.indexOf('init_s')], '30');
  assert.equal(Number(first[header.indexOf('accuracy_se')]).toFixed(3), '2.828');
  assert.ok(toMarkdown(table).includes('| Run | Task | Reduction factor |'));
});

test('noise band: binomial SE, and a warning when two accuracies are within 2 SE of their difference', () => {
  assert.equal(binomialSe(50, 100), 5);
  assert.equal(binomialSe(100, 100), 0);
  assert.equal(binomialSe(null, 100), null);
  assert.equal(binomialSe(80, 0), null);
  const [lst] = finished.map((e) => e.summary);
  const at = (id: string, accuracy: number, r: number, n = 200): FinishedRun => ({
    ...run(id, { ...lst, metrics: { accuracy, score: accuracy } }, 1, { ...config, r }),
    timing: { stepS: null, initS: null, testExamples: n },
  });
  // 85.0 vs 86.5 on 200 examples: SE of the difference sqrt(0.85·0.15/200 + 0.865·0.135/200)·100 = 3.49 points.
  const close = buildTable([at('a', 85, 4), at('b', 86.5, 8)]);
  assert.equal(close.notes.length, 1);
  assert.match(
    close.notes[0],
    /^LST r=4 vs LST r=8: accuracies 1\.50 points apart, within 2 standard errors \(±6\.9\d\) on 200 test examples/,
  );
  // The same gap on 20,000 examples is real: no warning.
  assert.deepEqual(buildTable([at('a', 85, 4, 20000), at('b', 86.5, 8, 20000)]).notes, []);
  assert.ok(toMarkdown(close).includes('> ⚠ LST r=4 vs LST r=8'));
  // The summary's own test_examples serves where events.jsonl gave none (a torn or missing event log).
  const fromSummary = { ...at('c', 80, 4), timing: undefined };
  fromSummary.summary = { ...fromSummary.summary, test_examples: 100 };
  assert.equal(buildTable([fromSummary]).rows[0].accuracySe, 4);
});

test('latest comparison: runs that record their comparison are grouped by it', () => {
  const [lst, lora] = finished.map((e) => e.summary);
  const all = [
    run('c1-lst', lst, 1, { ...config, comparison: 'c1' }),
    run('c2-lst', lst, 2, { ...config, comparison: 'c2' }),
    run('c2-lst-r4', lst, 3, { ...config, r: 4, comparison: 'c2' }),
    run('c2-lora', lora, 4, { ...config, comparison: 'c2' }),
  ];
  assert.deepEqual(latestComparison(all), ['c2-lst', 'c2-lst-r4', 'c2-lora']);
});

// ---- experiment file <-> form ---------------------------------------------------------------------------------------

test('parseExperimentText: defaults, lenient lists, problems for what the form cannot show', () => {
  assert.deepEqual(parseExperimentText('').values, DEFAULTS);
  const p = parseExperimentText(
    JSON.stringify({ methods: 'lst, lora', keep_layers: '1,3,5', r: 4, lrs: { lora: 1e-3 }, epochs: 'three' }),
  );
  assert.deepEqual(p.values.methods, ['lst', 'lora']);
  assert.deepEqual(p.values.keep_layers, [1, 3, 5]);
  assert.equal(p.values.r, 4);
  assert.equal(p.values.epochs, DEFAULTS.epochs);
  assert.equal(p.errors.length, 1);
  assert.match(p.errors[0].message, /^epochs:/);
  assert.match(parseExperimentText('{"r": 8,}').errors[0].message, /not valid JSON/);
  assert.equal(parseExperimentText('[1]').raw, null);
});

test('applyPatch: changes only the patched keys, keeps the rest and its order, null removes', () => {
  const text = JSON.stringify(
    { task: 'sst2', $schema: 'x', lrs: { lora: 0.001 }, r: 8, data: '/d', keep_layers: [1] },
    null,
    2,
  );
  const out = JSON.parse(applyPatch(text, { r: 4, keep_layers: null, max_length: 32 })) as ExperimentFileValues;
  assert.deepEqual(Object.keys(out), ['task', '$schema', 'lrs', 'r', 'data', 'max_length']);
  assert.equal(out.r, 4);
  assert.deepEqual(out.lrs, { lora: 0.001 });
  // A new file starts from the one starter experiment (the same New Experiment writes).
  assert.deepEqual(JSON.parse(applyPatch(null, { r: 2 })), { ...STARTER_EXPERIMENT, r: 2 });
  assert.throws(() => applyPatch('[]', { r: 2 }));
  assert.throws(() => applyPatch('{oops', { r: 2 }));
  // Keys outside the form's fields are never written, whatever the patch object carries.
  const sneaky = JSON.parse('{"r": 4, "runs_dir": "/", "__proto__": {"x": 1}}') as ExperimentPatch;
  assert.deepEqual(JSON.parse(applyPatch('{}', sneaky)), { r: 4 });
});

test('backbone layer counts from config.json of each family', () => {
  assert.equal(infoFromConfig({ model_type: 'bert', num_hidden_layers: 6, hidden_size: 384 }, 'm').layers, 6);
  assert.equal(infoFromConfig({ model_type: 't5', num_layers: 12, d_model: 768 }, 'm').hidden, 768);
  assert.equal(infoFromConfig({ model_type: 'gpt2', n_layer: 12, n_embd: 768 }, 'm').layers, 12);
  assert.equal(infoFromConfig({ num_hidden_layers: '6' }, 'm').layers, null);
});

test('PathPolicy: inside the workspace or dialog-approved only; traversal and symlink escapes refused', () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'ladder-policy-'));
  try {
    const ws = path.join(tmp, 'ws');
    const outside = path.join(tmp, 'outside');
    mkdirSync(path.join(ws, 'data'), { recursive: true });
    mkdirSync(outside);
    symlinkSync(outside, path.join(ws, 'escape'));
    const policy = new PathPolicy(() => [ws]);
    assert.equal(policy.check('data'), path.join(ws, 'data'));
    assert.equal(policy.check(path.join(ws, 'data', 'new.csv')), path.join(ws, 'data', 'new.csv'));
    assert.equal(policy.check('../outside'), undefined);
    assert.equal(policy.check('data/../../outside'), undefined);
    assert.equal(policy.check(outside), undefined);
    assert.equal(policy.check('/etc/passwd'), undefined);
    assert.equal(policy.check('escape'), undefined); // a symlink inside that points outside
    assert.equal(policy.check('escape/sub/file.csv'), undefined);
    assert.equal(policy.check(`${ws}-sibling`), undefined); // a prefix is not a parent
    assert.equal(policy.check('a\0b'), undefined);
    // What the file already holds stays usable (the user wrote it); a dialog choice is allowed.
    const file = path.join(ws, 'a.ladder.json');
    const kept = acceptPaths(policy, { data: '/shared/data/SST-2' }, file, ['/shared/data/SST-2']);
    assert.deepEqual(kept, { accepted: { data: '/shared/data/SST-2' }, refused: [] });
    policy.approve(outside);
    assert.equal(policy.check(outside), outside);
    assert.equal(policy.display(path.join(ws, 'data')), 'data');
    assert.equal(policy.display(ws), '.'); // the experiment file's own folder, as the engine reads it
    assert.equal(policy.display(outside), outside);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
