// A form control for any experiment field, made from its declaration (protocol/experimentFields.ts): a select for a
// field with choices or suggestions, a text input for the rest. Its id is the field's name. A change is parsed and
// checked with the same rules the host and the engine apply, then sent as a patch; a bad text is marked, not sent.
import type { VscodeSingleSelect } from '@vscode-elements/elements/dist/vscode-single-select/vscode-single-select.js';
import type { VscodeTextfield } from '@vscode-elements/elements/dist/vscode-textfield/vscode-textfield.js';
import {
  fieldText,
  parseFieldText,
  valueProblem,
  type ExperimentPatch,
  type FieldSpec,
} from '../../protocol/experiment';
import { el } from '../shared/vscodeApi';

export type Control = (VscodeSingleSelect | VscodeTextfield) & HTMLElement;

export interface FieldRow {
  spec: FieldSpec;
  row: HTMLElement;
  control: Control;
  error: HTMLElement; // the file's error for this field, beside the control
}

/** Where a control reports: the patch to send, or the problem to show (undefined clears it). */
export interface FieldSink {
  send(patch: ExperimentPatch): void;
  problem(control: HTMLElement, message: string | undefined): void;
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
  const row = el('div', { className: 'field', attrs: { 'data-field': spec.name } }, [label, control, error]);
  return { spec, row, control, error };
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
