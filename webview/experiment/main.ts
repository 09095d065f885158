// The sidebar Experiment view: a form over the workspace's `*.ladder.json` experiment file. Every change is sent
// to the host as a patch of fields (the host validates it and writes the file); every `state` from the host (after
// a write, or when the file changed on disk) refreshes the form. The page keeps no experiment state of its own.
// Sections and fields come from the field declarations (protocol/experimentFields.ts): a new experiment field shows
// up here by itself. Five fields are drawn by hand: the backbone picker, the data path with Browse, the method
// checkboxes, the clickable ladder of kept layers (numbered from 0, as keep_layers) and the per-method learning
// rates (methodRates.ts). A field the file gets wrong shows the file's own value with its error beside it.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import { FORM_FIELDS, GROUPS, METHODS, fieldSpec, type ExperimentPatch, type Method } from '../../protocol/experiment';
import { ExperimentMessages, type ExperimentChannel, type ExperimentState } from '../../protocol/webviews/experiment';
import { connect, el } from '../shared/vscodeApi';
import { fieldError, fieldRow, showError, showSweep, showValue, sweepEditor, type FieldRow } from './fieldControls';
import { methodRates } from './methodRates';
import { sweepSection } from './sweepSection';

const channel = connect<ExperimentChannel>();
const CUSTOM = new Set(['backbone', 'data', 'methods', 'keep_layers', 'lrs']);
const COLLAPSED = new Set(['levers', 'output']); // rarely changed: folded until opened

let state: ExperimentState | null = null;

function send(patch: ExperimentPatch): void {
  channel.post({ type: ExperimentMessages.update, patch });
  // Show the change at once, so quick successive clicks (on the ladder) build on each other; the host's next
  // state (after it has checked and written the file) is what stays.
  if (state) {
    state = { ...state, values: { ...state.values, ...patch }, shown: { ...state.shown, ...patch } };
    render(state);
  }
}

function sendSweep(field: string, values: unknown[] | null): void {
  channel.post({ type: ExperimentMessages.sweepField, field, values });
}

const current = (field: string): unknown => (state?.values as Record<string, unknown> | undefined)?.[field];

function problem(control: HTMLElement, message: string | undefined): void {
  control.toggleAttribute('invalid', message !== undefined);
  control.title = message ?? '';
  status.textContent = message ?? '';
}

// ---- the hand-drawn fields --------------------------------------------------------------------------------------

const root = document.getElementById('app')!;
const fileLine = el('div', { className: 'file-line' });
const problems = el('div', { className: 'problems', attrs: { id: 'problems', role: 'alert' } });
const warnings = el('ul', { className: 'warnings', attrs: { id: 'warnings' } });
const status = el('div', { className: 'status', attrs: { id: 'status', 'aria-live': 'polite' } });

const backboneKind = el('vscode-single-select', { attrs: { id: 'backbone-kind' } });
backboneKind.append(
  el('vscode-option', { text: 'all-MiniLM-L6-v2 (built in)', attrs: { value: 'default' } }),
  el('vscode-option', { text: 'Local checkpoint folder…', attrs: { value: 'folder' } }),
);
const backbonePath = el('div', { className: 'path', attrs: { id: 'backbone-path' } });
const backboneBrowse = el('vscode-button', { text: 'Other folder…', attrs: { id: 'backbone-browse', secondary: '' } });
const backboneFolderRow = el('div', { className: 'row', attrs: { id: 'backbone-folder-row' } }, [
  backbonePath,
  backboneBrowse,
]);
const backboneInfo = el('div', { className: 'hint', attrs: { id: 'backbone-info' } });

const data = el('vscode-textfield', { attrs: { id: 'data', placeholder: fieldSpec('data')!.nullMeans! } });
const dataBrowse = el('vscode-button', { text: 'Browse…', attrs: { id: 'data-browse', secondary: '' } });

const methodsSpec = fieldSpec('methods')!;
const methodBoxes = METHODS.map((m) => {
  const box = el('vscode-checkbox', {
    attrs: { id: `method-${m}`, label: methodsSpec.choiceLabels?.[m] ?? m, 'data-method': m },
  });
  box.addEventListener('change', () => {
    const chosen = METHODS.filter(
      (x) => document.querySelector<HTMLInputElement & { checked: boolean }>(`#method-${x}`)?.checked,
    );
    if (chosen.length === 0) {
      box.checked = true;
      status.textContent = 'Choose at least one method.';
      return;
    }
    send({ methods: chosen });
  });
  return box;
});

const rHint = el('div', { className: 'hint', attrs: { id: 'r-hint' } });
const ladder = el('div', {
  className: 'ladder',
  attrs: { id: 'ladder', role: 'group', 'aria-label': 'Side-network layers' },
});
const ladderHint = el('div', { className: 'hint', attrs: { id: 'ladder-hint' } });
const keepAll = el('vscode-button', { text: 'Keep all', attrs: { id: 'keep-all', secondary: '' } });
const keepAlternate = el('vscode-button', { text: 'Every other', attrs: { id: 'keep-alternate', secondary: '' } });
const runButton = el('vscode-button', { text: 'Run comparison', attrs: { id: 'run' } });
const rates = methodRates(send, () => state?.values, problem);
const sweep = sweepSection((count) => channel.post({ type: ExperimentMessages.sweepSeeds, count }), problem);
/** The error slots of the hand-drawn fields (the generated rows carry their own). */
const customErrors: Record<string, HTMLElement> = Object.fromEntries(
  [...CUSTOM].map((name) => [name, fieldError(name)]),
);

const backboneSpec = fieldSpec('backbone')!;
const backboneSweep = {
  spec: backboneSpec,
  control: backboneKind,
  sweep: sweepEditor(backboneSpec, backboneKind, { send, problem, sweep: sendSweep, current }),
};

const custom: Record<string, HTMLElement[]> = {
  backbone: [
    el('div', { className: 'field' }, [
      el('div', { className: 'row field-head' }, [
        el('label', { text: 'Model', attrs: { for: 'backbone-kind' } }),
        backboneSweep.sweep.toggle,
      ]),
      backboneKind,
      backboneSweep.sweep.list,
    ]),
    backboneFolderRow,
    backboneInfo,
    customErrors.backbone,
  ],
  data: [
    el('div', { className: 'field' }, [
      el('label', { text: 'Data', attrs: { for: 'data', title: fieldSpec('data')!.help } }),
      el('div', { className: 'row' }, [data, dataBrowse]),
      el('div', {
        className: 'hint',
        text: "A GLUE task folder, reviews.json for IMDB, your file, or a .jsonl of prompt/response (or chat messages) for instruction tuning. Relative paths are read from the experiment file's folder (.. and ~ allowed); a folder outside the workspace needs Browse.",
      }),
      customErrors.data,
    ]),
  ],
  methods: [el('div', { className: 'methods' }, methodBoxes), customErrors.methods],
  keep_layers: [
    el('div', { className: 'label', text: 'Side-network layers (click a rung to keep or drop it)' }),
    ladder,
    el('div', { className: 'row' }, [keepAll, keepAlternate]),
    ladderHint,
    customErrors.keep_layers,
  ],
  lrs: [...rates.elements, customErrors.lrs],
};

// ---- the form: one section per field group ----------------------------------------------------------------------

const rows: FieldRow[] = [];
const sections = GROUPS.map(({ id, label }) => {
  const body: HTMLElement[] = [];
  for (const spec of FORM_FIELDS.filter((f) => f.group === id)) {
    if (CUSTOM.has(spec.name)) body.push(...custom[spec.name]);
    else {
      const row = fieldRow(spec, { send, problem, sweep: sendSweep, current });
      rows.push(row);
      body.push(row.row);
      if (spec.name === 'r') body.push(rHint);
    }
  }
  if (COLLAPSED.has(id)) {
    return el('details', { attrs: { id: `${id}-section` } }, [el('summary', { text: label }), ...body]);
  }
  return el('section', { attrs: { id: `${id}-section` } }, [el('h2', { text: label }), ...body]);
});

root.append(
  fileLine,
  problems,
  warnings,
  ...sections,
  sweep.element,
  el('div', { className: 'actions' }, [runButton]),
  status,
);

// ---- events -------------------------------------------------------------------------------------------------------

backboneKind.addEventListener('change', () => {
  const v = backboneKind.value;
  if (v === 'folder') channel.post({ type: ExperimentMessages.pickBackboneFolder });
  else send({ backbone: v });
});
backboneBrowse.addEventListener('click', () => channel.post({ type: ExperimentMessages.pickBackboneFolder }));
dataBrowse.addEventListener('click', () => {
  const t = state?.values.task;
  const file = t === 'imdb' || t === 'file' || t === 'instruct'; // instruct: a .jsonl (the host's dialog filters it)
  channel.post({ type: ExperimentMessages.pickData, kind: file ? 'file' : 'folder' });
});
data.addEventListener('change', () => {
  const v = data.value.trim();
  send({ data: v === '' ? null : v });
});
keepAll.addEventListener('click', () => send({ keep_layers: null }));
keepAlternate.addEventListener('click', () => {
  const n = state?.backbone.layers;
  if (!n) return;
  // Keep the odd layers (1, 3, 5, ...) and always the last one, the deepest features.
  send({ keep_layers: Array.from({ length: n }, (_, i) => i).filter((i) => i % 2 === 1 || i === n - 1) });
});
runButton.addEventListener('click', () => {
  if (!runButton.hasAttribute('disabled')) channel.post({ type: ExperimentMessages.run });
});
fileLine.addEventListener('click', (e) => {
  if ((e.target as HTMLElement).tagName === 'A') {
    e.preventDefault();
    channel.post({ type: ExperimentMessages.openFile });
  }
});

/** The file's kept layers, out-of-range ones too (their error shows beside the ladder; a click writes them away). */
function keptLayers(s: ExperimentState): number[] | null {
  const shown = s.shown.keep_layers;
  return Array.isArray(shown) && shown.every((x) => Number.isInteger(x)) ? (shown as number[]) : s.values.keep_layers;
}

function toggleLayer(layer: number): void {
  const n = state?.backbone.layers;
  if (!state || !n) return;
  const kept = new Set(keptLayers(state) ?? Array.from({ length: n }, (_, i) => i));
  if (kept.has(layer)) kept.delete(layer);
  else kept.add(layer);
  if (kept.size === 0) {
    status.textContent = 'Keep at least one layer.';
    return;
  }
  const list = [...kept].filter((i) => i < n).sort((a, b) => a - b);
  send({ keep_layers: list.length === n ? null : list });
}

// ---- rendering ----------------------------------------------------------------------------------------------------

function renderLadder(s: ExperimentState): void {
  const n = s.backbone.layers;
  if (!n) {
    ladder.replaceChildren(
      el('div', { className: 'hint', text: "The backbone's layer count is unknown (no readable config.json)." }),
    );
    ladder.dataset.layers = '0';
    return;
  }
  const kept = new Set(keptLayers(s) ?? Array.from({ length: n }, (_, i) => i));
  const rungs: HTMLElement[] = [el('div', { className: 'ladder-end', text: 'task head' })];
  for (let i = n - 1; i >= 0; i--) {
    const on = kept.has(i);
    const rung = el(
      'button',
      {
        className: `rung${on ? ' kept' : ''}`,
        attrs: {
          type: 'button',
          'data-layer': String(i),
          'aria-pressed': String(on),
          // 0-based, as keep_layers in the file and on the command line
          title: on ? `Layer ${i}: its side block is kept (click to drop)` : `Layer ${i}: dropped (click to keep)`,
        },
      },
      [
        el('span', { className: 'bb', text: `layer ${i}` }),
        el('span', { className: 'gate', text: on ? '⟶' : '' }),
        el('span', { className: 'side', text: on ? 'side block' : 'dropped' }),
      ],
    );
    rung.addEventListener('click', () => toggleLayer(i));
    rungs.push(rung);
  }
  rungs.push(el('div', { className: 'ladder-end', text: 'embeddings (input)' }));
  ladder.replaceChildren(...rungs);
  ladder.dataset.layers = String(n);
  ladder.dataset.kept = [...kept].sort((a, b) => a - b).join(',');
  const listed = keptLayers(s);
  ladderHint.textContent =
    `${[...kept].filter((i) => i < n).length} of ${n} layers (0 to ${n - 1}) feed the side network` +
    (listed === null ? ' (all: keep_layers unset).' : ` (keep_layers ${listed.join(', ')}).`);
}

function renderBackbone(s: ExperimentState): void {
  const v = s.values.backbone;
  if (backboneKind.querySelectorAll('vscode-option').length === 2) {
    for (const p of s.presets)
      backboneKind.insertBefore(
        el('vscode-option', { text: `${p} (random init)`, attrs: { value: `preset:${p}` } }),
        backboneKind.lastChild,
      );
  }
  // The cache's models (the host refreshes them), between the presets and "folder…"; a hub id not among them
  // (not cached: the engine will say how to get it) is shown as itself.
  const choices = [...s.cached];
  if (s.backboneIsHubId && !choices.some((c) => c.value === v))
    choices.push({ value: v, label: `${v} (hub id, not in the cache)` });
  const signature = JSON.stringify(choices);
  if (backboneKind.dataset.cached !== signature) {
    // Rebuilt only when they changed: an open dropdown is left alone by the states in between.
    backboneKind.dataset.cached = signature;
    for (const option of backboneKind.querySelectorAll('vscode-option[data-cached]')) option.remove();
    for (const c of choices)
      backboneKind.insertBefore(
        el('vscode-option', { text: c.label, attrs: { value: c.value, 'data-cached': '' } }),
        backboneKind.lastChild,
      );
  }
  const isFolder = v !== 'default' && !v.startsWith('preset:') && !s.backboneIsHubId;
  if (!backboneKind.matches(':focus-within')) backboneKind.value = isFolder ? 'folder' : v;
  backbonePath.textContent = isFolder ? v : '';
  showSweep(backboneSweep, s.sweep?.fields.backbone);
  backboneFolderRow.hidden = !isFolder || backboneKind.hidden;
  backboneInfo.textContent = s.backbone.label;
}

function render(s: ExperimentState): void {
  const v = s.values;
  fileLine.replaceChildren(
    s.file
      ? el('span', {}, ['Experiment: ', el('a', { text: s.file, attrs: { href: '#', id: 'open-file' } })])
      : el('span', {
          className: 'muted',
          text: 'No *.ladder.json yet: the first change creates experiment.ladder.json.',
        }),
  );
  problems.replaceChildren(...s.problems.map((p) => el('div', { text: p })));
  problems.hidden = s.problems.length === 0;
  root.classList.toggle('readonly', s.problems.length > 0);
  warnings.replaceChildren(...s.errors.map((e) => el('li', { text: e.message })));
  warnings.hidden = s.errors.length === 0;
  const errorOf = new Map<string, string>();
  for (const e of s.errors)
    errorOf.set(e.field, errorOf.has(e.field) ? `${errorOf.get(e.field)}; ${e.message}` : e.message);

  renderBackbone(s);
  // With an error, the value as the file (or the refused typed path) has it, beside the reason.
  const dataShown = errorOf.has('data') ? s.shown.data : v.data;
  if (!data.matches(':focus-within')) data.value = typeof dataShown === 'string' ? dataShown : '';
  // The file's own list, also when it names an unknown method (its error shows below the boxes).
  const listed: unknown[] = Array.isArray(s.shown.methods) ? s.shown.methods : v.methods;
  for (const box of methodBoxes) box.checked = listed.includes(box.dataset.method);
  const chosen = (methods: readonly string[] | undefined) =>
    !methods || methods.some((m) => v.methods.includes(m as Method));
  for (const field of rows) {
    const { spec, row, control, error } = field;
    // A field the file gets wrong shows the file's own value beside its error, so it can be fixed where it is.
    const message = errorOf.get(spec.name);
    showValue(control, spec, message === undefined ? v[spec.name] : s.shown[spec.name]);
    showError(error, control, message);
    showSweep(field, s.sweep?.fields[spec.name]);
    row.classList.toggle('inactive', !chosen(spec.methods));
    if (spec.name === 'text_columns' || spec.name === 'label_column') row.hidden = v.task !== 'file';
    if (spec.name === 'answer_extraction') row.hidden = v.task !== 'instruct';
  }
  for (const id of ['lst', 'levers'])
    document.getElementById(`${id}-section`)!.classList.toggle('inactive', !v.methods.includes('lst'));

  for (const [name, slot] of Object.entries(customErrors)) {
    const control =
      name === 'data' ? data : name === 'backbone' ? backboneKind : name === 'keep_layers' ? ladder : null;
    showError(slot, control, errorOf.get(name));
  }
  // The rules about r are the host's (protocol/backboneRules.ts); an error shows beside the field, the width here.
  const h = s.backbone.hidden;
  const rs = (s.sweep?.fields.r as number[] | undefined) ?? [v.r]; // each value of a swept r
  rHint.textContent =
    h && !errorOf.has('r') && rs.every((r) => Number.isInteger(h / r))
      ? `Side width ${rs.map((r) => h / r).join(', ')} (backbone hidden ${h} / ${rs.join(', ')}).`
      : 'Side width = backbone hidden size / r.';
  renderLadder(s);
  rates.render(v);
  sweep.render(s.sweep);

  const blocked = s.problems.length > 0 || s.errors.length > 0;
  runButton.toggleAttribute('disabled', s.running || blocked);
  runButton.title = blocked ? 'Fix the errors shown above first: the engine would refuse this experiment.' : '';
  const plan = s.sweep?.plan;
  const trials = plan?.status === 'planned' ? ` (${plan.count} trial${plan.count === 1 ? '' : 's'})` : '';
  runButton.textContent = s.running
    ? 'Running…'
    : s.sweep
      ? `Run sweep${trials}`
      : `Run ${v.methods.length > 1 ? 'comparison' : v.methods[0]}`;
  root.dataset.ready = 'true';
}

channel.onMessage((msg) => {
  if (msg.type !== ExperimentMessages.state) return;
  state = msg.state;
  render(state);
});

channel.post({ type: ExperimentMessages.ready });
