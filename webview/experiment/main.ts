// The sidebar Experiment view: a form over the workspace's `*.ladder.json` experiment file. Every change is sent
// to the host as a patch of fields (the host validates it and writes the file); every `state` from the host (after
// a write, or when the file changed on disk) refreshes the form. The page keeps no experiment state of its own.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type { VscodeSingleSelect } from '@vscode-elements/elements/dist/vscode-single-select/vscode-single-select.js';
import type { VscodeTextfield } from '@vscode-elements/elements/dist/vscode-textfield/vscode-textfield.js';
import {
  ExperimentMessages, GLUE_TASKS, INITS, METHODS, PRECISIONS, R_MAX, R_MIN,
  type ExperimentFromWebview, type ExperimentPatch, type ExperimentState, type ExperimentToWebview, type ExperimentValues,
} from '../../protocol/messages';
import { el, onMessage, post } from '../shared/vscodeApi';

const METHOD_LABELS: Record<string, string> = {
  lst: 'LST (ladder side-tuning)', lora: 'LoRA', adapter: 'Adapter', bitfit: 'BitFit', prompt: 'Prompt tuning', full: 'Full fine-tuning',
};
const TASK_LABELS: Record<string, string> = {
  sst2: 'GLUE SST-2', mnli: 'GLUE MNLI', qnli: 'GLUE QNLI', qqp: 'GLUE QQP', rte: 'GLUE RTE', mrpc: 'GLUE MRPC',
  cola: 'GLUE CoLA', stsb: 'GLUE STS-B', imdb: 'IMDB reviews', file: 'Own file (.csv/.tsv/.jsonl)',
};

let state: ExperimentState | null = null;

function send(patch: ExperimentPatch): void {
  post<ExperimentFromWebview>({ type: ExperimentMessages.update, patch });
  // Show the change at once, so quick successive clicks (on the ladder) build on each other; the host's next
  // state (after it has checked and written the file) is what stays.
  if (state) {
    state = { ...state, values: { ...state.values, ...patch } };
    render(state);
  }
}

// ---- building blocks --------------------------------------------------------------------------------------------

function field(label: string, control: HTMLElement, hint?: HTMLElement | string): HTMLElement {
  const id = control.id;
  const row = el('div', { className: 'field' }, [el('label', { text: label, attrs: { for: id } }), control]);
  if (hint !== undefined) row.append(typeof hint === 'string' ? el('div', { className: 'hint', text: hint }) : hint);
  return row;
}

function select(id: string, options: [value: string, label: string][]): VscodeSingleSelect {
  const s = el('vscode-single-select', { attrs: { id } }) as VscodeSingleSelect;
  for (const [value, label] of options) s.append(el('vscode-option', { text: label, attrs: { value } }));
  return s;
}

function textfield(id: string, attrs: Record<string, string> = {}): VscodeTextfield {
  return el('vscode-textfield', { attrs: { id, ...attrs } }) as VscodeTextfield;
}

/** A number field: sends `name` when it holds a valid integer (or nothing, when `optional`) in range. */
function numberField(name: keyof ExperimentValues, min: number, max: number, optional = false, float = false): VscodeTextfield {
  const f = textfield(name, { type: float ? 'text' : 'number', min: String(min), max: String(max), placeholder: optional ? 'all' : '' });
  f.addEventListener('change', () => {
    const text = f.value.trim();
    if (text === '' && optional) return clearInvalid(f), send({ [name]: null });
    const v = Number(text);
    const ok = text !== '' && Number.isFinite(v) && (float || Number.isInteger(v)) && v >= min && v <= max;
    if (!ok) return markInvalid(f, `expected ${float ? 'a number' : 'a whole number'} from ${min} to ${max}`);
    clearInvalid(f);
    send({ [name]: v });
  });
  return f;
}

function markInvalid(f: HTMLElement, message: string): void {
  f.setAttribute('invalid', '');
  f.title = message;
  status.textContent = message;
}
function clearInvalid(f: HTMLElement): void {
  f.removeAttribute('invalid');
  f.title = '';
  status.textContent = '';
}

// ---- the form -----------------------------------------------------------------------------------------------------

const root = document.getElementById('app')!;
const fileLine = el('div', { className: 'file-line' });
const problems = el('div', { className: 'problems', attrs: { id: 'problems', role: 'alert' } });
const warnings = el('ul', { className: 'warnings', attrs: { id: 'warnings' } });
const status = el('div', { className: 'status', attrs: { id: 'status', 'aria-live': 'polite' } });

const backboneKind = select('backbone-kind', [['default', 'all-MiniLM-L6-v2 (built in)'], ['folder', 'Local checkpoint folder…']]);
const backbonePath = el('div', { className: 'path', attrs: { id: 'backbone-path' } });
const backboneBrowse = el('vscode-button', { text: 'Other folder…', attrs: { id: 'backbone-browse', secondary: '' } });
const backboneInfo = el('div', { className: 'hint', attrs: { id: 'backbone-info' } });

const task = select('task', [...GLUE_TASKS, 'imdb', 'file'].map((t) => [t, TASK_LABELS[t]] as [string, string]));
const data = textfield('data', { placeholder: 'default location' });
const dataBrowse = el('vscode-button', { text: 'Browse…', attrs: { id: 'data-browse', secondary: '' } });
const textColumns = textfield('text_columns', { placeholder: 'text or sentence1,sentence2' });
const labelColumn = textfield('label_column', { placeholder: 'label' });
const fileColumns = el('div', { className: 'file-columns' }, [
  field('Text column(s)', textColumns), field('Label column', labelColumn),
]);

const methodBoxes = METHODS.map((m) => {
  const box = el('vscode-checkbox', { attrs: { id: `method-${m}`, label: METHOD_LABELS[m], 'data-method': m } });
  box.addEventListener('change', () => {
    const chosen = METHODS.filter((x) => document.querySelector<HTMLInputElement & { checked: boolean }>(`#method-${x}`)?.checked);
    if (chosen.length === 0) {
      box.checked = true;
      status.textContent = 'Choose at least one method.';
      return;
    }
    send({ methods: chosen });
  });
  return box;
});

const r = numberField('r', R_MIN, R_MAX);
const rHint = el('div', { className: 'hint', attrs: { id: 'r-hint' } });
const ladder = el('div', { className: 'ladder', attrs: { id: 'ladder', role: 'group', 'aria-label': 'Side-network layers' } });
const ladderHint = el('div', { className: 'hint', attrs: { id: 'ladder-hint' } });
const keepAll = el('vscode-button', { text: 'Keep all', attrs: { id: 'keep-all', secondary: '' } });
const keepAlternate = el('vscode-button', { text: 'Every other', attrs: { id: 'keep-alternate', secondary: '' } });
const init = select('init', INITS.map((i) => [i, i === 'fisher' ? 'Fisher pruning (paper)' : i === 'magnitude' ? 'Magnitude pruning' : 'Random'] as [string, string]));
const fisherSamples = numberField('fisher_samples', 1, 100_000);

const lr = textfield('lr', { placeholder: 'paper default per method' });
const batch = numberField('batch_size', 1, 65_536);
const epochs = numberField('epochs', 1, 1000);
const maxLength = numberField('max_length', 1, 4096);
const seed = numberField('seed', 0, 2 ** 31 - 1);
const precision = select('precision', PRECISIONS.map((p) => [p, p === 'bf16' ? 'bf16 (autocast)' : 'fp32'] as [string, string]));
const device = select('device', [['auto', 'auto (CUDA if available)'], ['cpu', 'CPU'], ['cuda', 'CUDA']]);
const maxTrain = numberField('max_train_examples', 1, 1e9, true);
const maxEval = numberField('max_eval_examples', 1, 1e9, true);
const runButton = el('vscode-button', { text: 'Run comparison', attrs: { id: 'run' } });

root.append(
  fileLine,
  problems,
  warnings,
  el('section', {}, [
    el('h2', { text: 'Backbone' }),
    field('Model', backboneKind),
    el('div', { className: 'row', attrs: { id: 'backbone-folder-row' } }, [backbonePath, backboneBrowse]),
    backboneInfo,
  ]),
  el('section', {}, [
    el('h2', { text: 'Task and data' }),
    field('Task', task),
    field('Data', el('div', { className: 'row' }, [data, dataBrowse]), 'A GLUE task folder, reviews.json for IMDB, or your file.'),
    fileColumns,
  ]),
  el('section', {}, [el('h2', { text: 'Methods' }), el('div', { className: 'methods' }, methodBoxes)]),
  el('section', { attrs: { id: 'lst-section' } }, [
    el('h2', { text: 'Ladder side-tuning' }),
    field('Reduction factor r', r, rHint),
    el('div', { className: 'label' , text: 'Side-network layers (click a rung to keep or drop it)' }),
    ladder,
    el('div', { className: 'row' }, [keepAll, keepAlternate]),
    ladderHint,
    field('Initialisation', init),
    field('Fisher samples', fisherSamples),
  ]),
  el('section', {}, [
    el('h2', { text: 'Training' }),
    field('Learning rate', lr),
    field('Batch size', batch),
    field('Epochs', epochs),
    field('Max length (tokens)', maxLength),
    field('Seed', seed),
    field('Precision', precision),
    field('Device', device),
    field('Max train examples', maxTrain),
    field('Max eval examples', maxEval),
  ]),
  el('div', { className: 'actions' }, [runButton]),
  status,
);

// ---- events -------------------------------------------------------------------------------------------------------

backboneKind.addEventListener('change', () => {
  const v = backboneKind.value;
  if (v === 'folder') post<ExperimentFromWebview>({ type: ExperimentMessages.pickBackboneFolder });
  else send({ backbone: v });
});
backboneBrowse.addEventListener('click', () => post<ExperimentFromWebview>({ type: ExperimentMessages.pickBackboneFolder }));
task.addEventListener('change', () => send({ task: task.value as ExperimentValues['task'] }));
dataBrowse.addEventListener('click', () => {
  const t = state?.values.task;
  post<ExperimentFromWebview>({ type: ExperimentMessages.pickData, kind: t === 'imdb' || t === 'file' ? 'file' : 'folder' });
});
data.addEventListener('change', () => {
  const v = data.value.trim();
  send({ data: v === '' ? null : v });
});
textColumns.addEventListener('change', () => {
  const cols = textColumns.value.split(',').map((c) => c.trim()).filter(Boolean);
  send({ text_columns: cols.length ? cols : null });
});
labelColumn.addEventListener('change', () => send({ label_column: labelColumn.value.trim() || null }));
init.addEventListener('change', () => send({ init: init.value as ExperimentValues['init'] }));
precision.addEventListener('change', () => send({ precision: precision.value as ExperimentValues['precision'] }));
device.addEventListener('change', () => send({ device: device.value }));
lr.addEventListener('change', () => {
  const text = lr.value.trim();
  if (text === '') return clearInvalid(lr), send({ lr: null });
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0 || v >= 10) return markInvalid(lr, 'expected a learning rate like 3e-3, or empty for the paper default');
  clearInvalid(lr);
  send({ lr: v });
});
keepAll.addEventListener('click', () => send({ keep_layers: null }));
keepAlternate.addEventListener('click', () => {
  const n = state?.backbone.layers;
  if (!n) return;
  // Keep the odd layers (1, 3, 5, ...) and always the last one, the deepest features.
  const kept = Array.from({ length: n }, (_, i) => i).filter((i) => i % 2 === 1 || i === n - 1);
  send({ keep_layers: kept });
});
runButton.addEventListener('click', () => {
  if (!runButton.hasAttribute('disabled')) post<ExperimentFromWebview>({ type: ExperimentMessages.run });
});
fileLine.addEventListener('click', (e) => {
  if ((e.target as HTMLElement).tagName === 'A') {
    e.preventDefault();
    post<ExperimentFromWebview>({ type: ExperimentMessages.openFile });
  }
});

function toggleLayer(layer: number): void {
  const n = state?.backbone.layers;
  if (!state || !n) return;
  const kept = new Set(state.values.keep_layers ?? Array.from({ length: n }, (_, i) => i));
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

/** Sets a control's value unless the user is typing in it (a state arriving mid-edit must not eat keystrokes). */
function setValue(control: HTMLElement & { value: string }, value: string): void {
  if (control.matches(':focus-within') && control.value !== value) return;
  if (control.value !== value) control.value = value;
}

function renderLadder(s: ExperimentState): void {
  const n = s.backbone.layers;
  if (!n) {
    ladder.replaceChildren(el('div', { className: 'hint', text: 'The backbone\'s layer count is unknown (no readable config.json).' }));
    ladder.dataset.layers = '0';
    return;
  }
  const kept = new Set(s.values.keep_layers ?? Array.from({ length: n }, (_, i) => i));
  const rows: HTMLElement[] = [el('div', { className: 'ladder-end', text: 'task head' })];
  for (let i = n - 1; i >= 0; i--) {
    const on = kept.has(i);
    const rung = el('button', {
      className: `rung${on ? ' kept' : ''}`,
      attrs: {
        type: 'button', 'data-layer': String(i), 'aria-pressed': String(on),
        title: on ? `Layer ${i + 1}: its side block is kept (click to drop)` : `Layer ${i + 1}: dropped (click to keep)`,
      },
    }, [
      el('span', { className: 'bb', text: `layer ${i + 1}` }),
      el('span', { className: 'gate', text: on ? '⟶' : '' }),
      el('span', { className: 'side', text: on ? 'side block' : 'dropped' }),
    ]);
    rung.addEventListener('click', () => toggleLayer(i));
    rows.push(rung);
  }
  rows.push(el('div', { className: 'ladder-end', text: 'embeddings (input)' }));
  ladder.replaceChildren(...rows);
  ladder.dataset.layers = String(n);
  ladder.dataset.kept = [...kept].sort((a, b) => a - b).join(',');
  ladderHint.textContent = `${kept.size} of ${n} layers feed the side network` +
    (s.values.keep_layers === null ? ' (all: keep_layers unset).' : ` (keep_layers ${s.values.keep_layers.join(', ')}, 0-based).`);
}

function render(s: ExperimentState): void {
  const v = s.values;
  fileLine.replaceChildren(
    s.file ? el('span', {}, ['Experiment: ', el('a', { text: s.file, attrs: { href: '#', id: 'open-file' } })])
      : el('span', { className: 'muted', text: 'No *.ladder.json yet: the first change creates experiment.ladder.json.' }),
  );
  problems.replaceChildren(...s.problems.map((p) => el('div', { text: p })));
  problems.hidden = s.problems.length === 0;
  root.classList.toggle('readonly', s.problems.length > 0);
  warnings.replaceChildren(...s.warnings.map((w) => el('li', { text: w })));
  warnings.hidden = s.warnings.length === 0;

  // Backbone: add the preset options once (the host sends the list).
  if (backboneKind.querySelectorAll('vscode-option').length === 2) {
    for (const p of s.presets) backboneKind.insertBefore(el('vscode-option', { text: `${p} (random init)`, attrs: { value: `preset:${p}` } }), backboneKind.lastChild);
  }
  const isFolder = v.backbone !== 'default' && !v.backbone.startsWith('preset:');
  setValue(backboneKind, isFolder ? 'folder' : v.backbone);
  backbonePath.textContent = isFolder ? v.backbone : '';
  document.getElementById('backbone-folder-row')!.hidden = !isFolder;
  backboneInfo.textContent = s.backbone.label;

  setValue(task, v.task);
  setValue(data, v.data ?? '');
  fileColumns.hidden = v.task !== 'file';
  setValue(textColumns, (v.text_columns ?? []).join(','));
  setValue(labelColumn, v.label_column ?? '');

  for (const box of methodBoxes) box.checked = v.methods.includes(box.dataset.method as ExperimentValues['methods'][number]);
  document.getElementById('lst-section')!.classList.toggle('inactive', !v.methods.includes('lst'));

  setValue(r, String(v.r));
  const h = s.backbone.hidden;
  rHint.textContent = h
    ? (h % v.r === 0 ? `Side width ${h / v.r} (backbone hidden ${h} / ${v.r}).` : `r must divide the hidden size ${h}.`)
    : 'Side width = backbone hidden size / r.';
  rHint.classList.toggle('warn', !!h && h % v.r !== 0);
  renderLadder(s);
  setValue(init, v.init);
  setValue(fisherSamples, String(v.fisher_samples));

  setValue(lr, v.lr === null ? '' : String(v.lr));
  setValue(batch, String(v.batch_size));
  setValue(epochs, String(v.epochs));
  setValue(maxLength, String(v.max_length));
  setValue(seed, String(v.seed));
  setValue(precision, v.precision);
  setValue(device, v.device.startsWith('cuda') ? 'cuda' : v.device);
  setValue(maxTrain, v.max_train_examples === null ? '' : String(v.max_train_examples));
  setValue(maxEval, v.max_eval_examples === null ? '' : String(v.max_eval_examples));

  runButton.toggleAttribute('disabled', s.running || s.problems.length > 0);
  runButton.textContent = s.running ? 'Running…' : `Run ${v.methods.length > 1 ? 'comparison' : v.methods[0]}`;
  root.dataset.ready = 'true';
}

onMessage<ExperimentToWebview>((msg) => {
  if (msg.type !== ExperimentMessages.state) return;
  state = msg.state;
  render(state);
});

post<ExperimentFromWebview>({ type: ExperimentMessages.ready });
