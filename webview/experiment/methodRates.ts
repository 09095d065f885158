// The `lrs` field (per-method learning rates) as one input per method, beside the methods it applies to: empty
// means the method's default (lr, else the paper's, shown as the placeholder), a number sets lrs[method]. The
// value is checked with the rules of `lr` (the same range the engine's validate applies to each rate).
import {
  METHODS,
  fieldSpec,
  fieldText,
  lrFor,
  parseFieldText,
  valueProblem,
  type ExperimentPatch,
  type ExperimentValues,
} from '../../protocol/experiment';
import type { VscodeTextfield } from '@vscode-elements/elements/dist/vscode-textfield/vscode-textfield.js';
import { el } from '../shared/vscodeApi';

export interface MethodRates {
  elements: HTMLElement[];
  render(values: ExperimentValues): void;
}

export function methodRates(
  send: (patch: ExperimentPatch) => void,
  current: () => ExperimentValues | undefined,
  problem: (control: HTMLElement, message: string | undefined) => void,
): MethodRates {
  const lrSpec = fieldSpec('lr')!;
  const lrsSpec = fieldSpec('lrs')!;
  const methodLabels = fieldSpec('methods')!.choiceLabels ?? {};
  const rows = METHODS.map((method) => {
    const input = el('vscode-textfield', {
      attrs: { id: `lr-${method}`, 'data-method': method, title: lrsSpec.help },
    }) as VscodeTextfield & HTMLElement;
    input.addEventListener('change', () => {
      const values = current();
      if (!values) return;
      const parsed = parseFieldText(lrSpec, input.value);
      const message =
        'error' in parsed ? parsed.error : parsed.value === null ? undefined : valueProblem(lrSpec, parsed.value);
      if (message !== undefined || !('value' in parsed))
        return problem(input, `${methodLabels[method] ?? method} learning rate: ${message}`);
      problem(input, undefined);
      const rates: Record<string, number> = { ...(values.lrs ?? {}) };
      if (parsed.value === null) delete rates[method];
      else rates[method] = parsed.value as number;
      send({ lrs: Object.keys(rates).length ? rates : null });
    });
    const row = el('div', { className: 'field', attrs: { 'data-lr': method } }, [
      el('label', { text: `${methodLabels[method] ?? method}: learning rate`, attrs: { for: `lr-${method}` } }),
      input,
    ]);
    return { method, input, row };
  });
  return {
    elements: [
      el('div', { className: 'label', text: `${lrsSpec.label} (empty: ${lrsSpec.nullMeans})` }),
      ...rows.map((r) => r.row),
    ],
    render(values) {
      const own = values.lrs ?? {};
      for (const { method, input, row } of rows) {
        row.hidden = !values.methods.includes(method);
        input.placeholder = fieldText(lrSpec, lrFor({ ...values, lrs: null }, method));
        const text = method in own ? String(own[method]) : '';
        if (!input.matches(':focus-within') && input.value !== text) input.value = text;
      }
    },
  };
}
