// A form control for any experiment field, made from its declaration (protocol/experimentFields.ts): a select for a
// field with choices or suggestions, a text input for the rest. Its id is the field's name. A change is parsed and
// checked with the same rules the host and the engine apply, then sent as a patch; a bad text is marked, not sent.
// A number or a choice also gets "sweep" beside it (protocol/sweepBlock.ts): ticked, its control becomes a list
// editor ("4, 8, 16"), each value checked as the control checks one, and the list goes to the file's sweep block.
import type { VscodeCheckbox } from '@vscode-elements/elements/dist/vscode-checkbox/vscode-checkbox.js';
import type { VscodeSingleSelect } from '@vscode-elements/elements/dist/vscode-single-select/vscode-single-select.js';
import type { VscodeTextfield } from '@vscode-elements/elements/dist/vscode-textfield/vscode-textfield.js';
import {
  fieldText,
  parseFieldText,
  valueProblem,
  type ExperimentPatch,
  type FieldSpec,
} from '../../protocol/experiment';
import { isSweepable, parseSweepText } from '../../protocol/sweepBlock';
import { el } from '../shared/vscodeApi';

export type Control = (VscodeSingleSelect | VscodeTextfield) & HTMLElement;

export interface FieldRow {
  spec: FieldSpec;
  row: HTMLElement;
  control: Control;
  error: HTMLElement; // the file's error for this field, beside the control
  sweep?: SweepEditor; // numbers and choices only
}

export interface SweepEditor {
  toggle: VscodeCheckbox & HTMLElement;
  list: VscodeTextfield & HTMLElement;
}

/** Where a control reports: the patch to send, or the problem to show (undefined clears it). */
export interface FieldSink {
  send(patch: ExperimentPatch): void;
  problem(control: HTMLElement, message: string | undefined): void;
  /** Sweep the field over these values (null: no longer swept); `current` is its single value now. */
  sweep(field: string, values: unknown[] | null): void;
  current(field: string): unknown;
}

export function fieldRow(spec: FieldSpec, sink: FieldSink): FieldRow {
  const options = spec.choices ?? spec.suggestions;
  const control: Control = options ? select(spec, options) : textInput(spec);
  control.addEventListener('change', () => {
    // An emptied field goes back to the engine's default: null where that is the default, else the default itself.
    const parsed =
      control.value.trim() === ''
        ? { value: spec.nullable ? null : spec.default }
        : parseFieldText(spec, control.value);
    const problem =
      'error' in parsed ? parsed.error : parsed.value === null ? undefined : valueProblem(spec, parsed.value);
    if (problem !== undefined || !('value' in parsed)) return sink.problem(control, `${spec.label}: ${problem}`);
    sink.problem(control, undefined);
    sink.send({ [spec.name]: parsed.value });
  });
  const label = el('label', {
    text: spec.unit ? `${spec.label} (${spec.unit})` : spec.label,
    attrs: { for: spec.name, title: spec.help },
  });
  const error = fieldError(spec.name);
  const sweep = isSweepable(spec.name) ? sweepEditor(spec, control, sink) : undefined;
  const head = sweep ? el('div', { className: 'row field-head' }, [label, sweep.toggle]) : label;
  const parts = sweep ? [head, control, sweep.list, error] : [head, control, error];
  const row = el('div', { className: 'field', attrs: { 'data-field': spec.name } }, parts);
  return { spec, row, control, error, sweep };
}

/** The toggle and list editor of a swept field beside `control` (exported for the hand-drawn backbone picker). */
export function sweepEditor(spec: FieldSpec, control: HTMLElement, sink: FieldSink): SweepEditor {
  const toggle = el('vscode-checkbox', {
    attrs: { id: `sweep-toggle-${spec.name}`, label: 'sweep', title: `Try several values of ${spec.label}` },
  }) as VscodeCheckbox & HTMLElement;
  const choices = spec.choices ?? spec.suggestions;
  const list = el('vscode-textfield', {
    attrs: {
      id: `sweep-${spec.name}`,
      title: `Values of ${spec.label} to sweep, comma-separated`,
      placeholder:
        spec.name === 'backbone' ? 'default, preset:bert-tiny, …' : choices ? choices.join(', ') : 'e.g. 4, 8, 16',
    },
  }) as VscodeTextfield & HTMLElement;
  list.hidden = true;
  toggle.addEventListener('change', () => {
    const value = sink.current(spec.name);
    if (!toggle.checked) return sink.sweep(spec.name, null);
    showSweeping({ control, sweep: { toggle, list } }, true);
    // starts from the field's value: add the others to the list
    const first =
      value === null || value === undefined
        ? { error: `${spec.label}: type the values to sweep` }
        : parseSweepText(spec, fieldText(spec, value));
    if ('error' in first) return sink.problem(list, first.error);
    list.value = fieldText(spec, value);
    sink.sweep(spec.name, first.values);
  });
  list.addEventListener('change', () => {
    const parsed = parseSweepText(spec, list.value);
    if ('error' in parsed) return sink.problem(list, parsed.error);
    sink.problem(list, undefined);
    sink.sweep(spec.name, parsed.values);
  });
  return { toggle, list };
}

/** Shows a field swept over `values` (its list editor in place of its control), or not swept (undefined). */
export function showSweep(
  row: { spec: FieldSpec; control: HTMLElement; sweep?: SweepEditor },
  values: readonly unknown[] | undefined,
): void {
  if (!row.sweep) return;
  const { toggle, list } = row.sweep;
  showSweeping(row, values !== undefined || (toggle.checked && list.matches(':focus-within')));
  if (values === undefined) return;
  const text = values.map((v) => fieldText(row.spec, v)).join(', ');
  if (!list.matches(':focus-within') && list.value !== text) list.value = text;
}

function showSweeping(row: { control: HTMLElement; sweep?: SweepEditor }, on: boolean): void {
  if (!row.sweep) return;
  row.sweep.toggle.checked = on;
  row.sweep.list.hidden = !on;
  row.control.hidden = on;
}

/** The element that shows a field's error from the file (hidden when there is none). */
export function fieldError(name: string): HTMLElement {
  const error = el('div', { className: 'field-error', attrs: { id: `${name}-error`, role: 'alert' } });
  error.hidden = true;
  return error;
}

/** Shows the file's error for a field (or clears it), on its control and beside it. */
export function showError(error: HTMLElement, control: HTMLElement | null, message: string | undefined): void {
  error.textContent = message ?? '';
  error.hidden = message === undefined;
  control?.toggleAttribute('invalid', message !== undefined);
}

function select(spec: FieldSpec, options: readonly string[]): VscodeSingleSelect {
  const s = el('vscode-single-select', { attrs: { id: spec.name, title: spec.help } });
  for (const value of options)
    s.append(el('vscode-option', { text: spec.choiceLabels?.[value] ?? value, attrs: { value } }));
  return s;
}

function textInput(spec: FieldSpec): VscodeTextfield {
  const numeric = spec.kind === 'int';
  const attrs: Record<string, string> = { id: spec.name, title: spec.help, type: numeric ? 'number' : 'text' };
  if (numeric && spec.minimum !== undefined) attrs.min = String(spec.minimum);
  if (numeric && spec.maximum !== undefined) attrs.max = String(spec.maximum);
  attrs.placeholder = spec.nullMeans ?? fieldText(spec, spec.default);
  return el('vscode-textfield', { attrs });
}

/** Shows `value` unless the user is typing there (a state arriving mid-edit must not eat keystrokes). */
export function showValue(control: Control, spec: FieldSpec, value: unknown): void {
  const text = fieldText(spec, value);
  if (control.matches(':focus-within') && control.value !== text) return;
  if (
    control.tagName === 'VSCODE-SINGLE-SELECT' &&
    text !== '' &&
    !control.querySelector(`vscode-option[value="${CSS.escape(text)}"]`)
  ) {
    control.append(el('vscode-option', { text, attrs: { value: text } })); // e.g. device cuda:1, typed in the file
  }
  if (control.value !== text) control.value = text;
}
