// The form's Sweep section: how many seeds each grid point trains with, and, before launch, what the engine's plan
// says: how many trials the grid expands to, each grid point's predicted peak memory (the engine's estimate) and
// time (the host's, from earlier runs' step times), and the whole sweep's time. The fields swept are toggled beside
// their own controls (fieldControls.ts); this section only shows their result.
import type { VscodeTextfield } from '@vscode-elements/elements/dist/vscode-textfield/vscode-textfield.js';
import { MAX_SEEDS } from '../../protocol/sweepBlock';
import type { PlannedTrial, SweepState } from '../../protocol/webviews/experiment';
import { formatDuration } from '../shared/series';
import { el } from '../shared/vscodeApi';

export interface SweepSection {
  element: HTMLElement;
  render(sweep: SweepState | null): void;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes >= 100 * 2 ** 20 ? 0 : 1)} MiB`;

export function sweepSection(
  sendSeeds: (count: number) => void,
  problem: (control: HTMLElement, message: string | undefined) => void,
): SweepSection {
  const seeds = el('vscode-textfield', {
    attrs: { id: 'sweep-seeds', type: 'number', min: '1', max: String(MAX_SEEDS), value: '1' },
  }) as VscodeTextfield & HTMLElement;
  seeds.addEventListener('change', () => {
    const n = Number(seeds.value);
    if (!Number.isInteger(n) || n < 1 || n > MAX_SEEDS)
      return problem(seeds, `Seeds: a whole number from 1 to ${MAX_SEEDS}, got "${seeds.value}"`);
    problem(seeds, undefined);
    sendSeeds(n);
  });
  const note = el('div', { className: 'hint', attrs: { id: 'sweep-note' } });
  const count = el('div', { className: 'sweep-count', attrs: { id: 'sweep-count', 'aria-live': 'polite' } });
  const table = el('table', { className: 'results compact', attrs: { id: 'sweep-trials' } });
  const time = el('div', { className: 'hint', attrs: { id: 'sweep-time' } });
  const element = el('section', { attrs: { id: 'sweep-section' } }, [
    el('h2', { text: 'Sweep' }),
    el('div', {
      className: 'hint',
      text: 'Tick "sweep" beside a number or a choice to give it a list of values: each combination trains once per seed.',
    }),
    el('div', { className: 'field' }, [
      el('label', { text: 'Seeds per grid point', attrs: { for: 'sweep-seeds' } }),
      seeds,
    ]),
    note,
    count,
    table,
    time,
  ]);

  return {
    element,
    render(sweep) {
      const n = sweep?.seeds ?? 1;
      if (!seeds.matches(':focus-within') && seeds.value !== String(n)) seeds.value = String(n);
      note.textContent = sweep?.unsupported
        ? `The file's sweep block is shown but not edited here (${sweep.unsupported}); edit it in the file.`
        : '';
      note.hidden = !sweep?.unsupported;
      const plan = sweep?.plan;
      element.dataset.trials = plan?.status === 'planned' ? String(plan.count) : '';
      table.replaceChildren();
      time.textContent = '';
      if (!sweep || !plan) {
        count.textContent = 'No sweep: Run trains each method once.';
        return;
      }
      if (plan.status === 'waiting') count.textContent = plan.note;
      else if (plan.status === 'planning') count.textContent = 'Counting the trials…';
      else if (plan.status === 'refused') count.textContent = `The engine refuses this sweep: ${plan.message}`;
      else {
        count.textContent = `${plan.count} trial${plan.count === 1 ? '' : 's'}`;
        renderTrials(table, plan.trials);
        const memory = plan.estimating
          ? 'Estimating the peak memory of each grid point…'
          : plan.estimateError
            ? `No memory estimate: ${plan.estimateError}`
            : '';
        const total = plan.totalSeconds === null ? '' : `Estimated total time ${formatDuration(plan.totalSeconds)}. `;
        time.textContent = `${memory ? `${memory} ` : ''}${total}${plan.timeNote}`;
      }
    },
  };
}

/** One row per method and grid point (its seeds together): predicted peak and time per trial. */
function renderTrials(table: HTMLElement, trials: readonly PlannedTrial[]): void {
  const rows = new Map<string, { trial: PlannedTrial; seeds: number }>();
  for (const t of trials) {
    const key = JSON.stringify([t.method, t.point]);
    const row = rows.get(key);
    if (row) row.seeds++;
    else rows.set(key, { trial: t, seeds: 1 });
  }
  const head = el(
    'tr',
    {},
    [
      ['grid point', 'method and swept values'],
      ['seeds', 'trials of this point, one per seed'],
      ['peak', "each trial's predicted training peak (the engine's estimate)"],
      ['time', "each trial's estimated time"],
    ].map(([text, title]) => el('th', { text, attrs: { title } })),
  );
  const body = [...rows.values()].map(({ trial, seeds }) => {
    const point = Object.entries(trial.point).map(([k, v]) => `${k}=${String(v)}`);
    return el('tr', { attrs: { 'data-method': trial.method } }, [
      el('td', { text: [trial.method, ...point].join(' ') }),
      el('td', { className: 'num', text: String(seeds) }),
      el('td', { className: 'num peak', text: trial.peak_bytes === undefined ? '…' : mib(trial.peak_bytes) }),
      el('td', { className: 'num', text: trial.seconds == null ? '?' : formatDuration(trial.seconds) }),
    ]);
  });
  table.replaceChildren(el('thead', {}, [head]), el('tbody', {}, body));
}
