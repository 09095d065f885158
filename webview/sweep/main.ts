// The sweep webview: the trials' live grid, the Table 1 layout (mean with the std as a subscript, n of seeds, peak
// memory, the GLUE average when there is one), the trade-off chart and export buttons; while the sweep's engine runs,
// its progress and ETA with Stop, and Resume when it has unfinished trials and no engine. The host reads the sweep
// folder and the engine's events and builds every row, series and figure (src/sweeps/sweepTable.ts,
// src/sweeps/sweepProgress.ts); this page only shows them.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import {
  SweepMessages,
  TRIAL_STATES,
  type SweepChannel,
  type SweepLive,
  type SweepState,
} from '../../protocol/webviews/sweep';
import { formatMiB } from '../shared/chart';
import { formatDuration } from '../shared/series';
import { connect, el, saveState } from '../shared/vscodeApi';
import { TradeoffChart } from './tradeoffChart';

const channel = connect<SweepChannel>();
const MIB = 1024 * 1024;

const root = document.getElementById('app')!;
const title = el('h1', { text: 'Sweep' });
const csvButton = el('vscode-button', { text: 'Export CSV…', attrs: { id: 'export-csv' } });
const mdButton = el('vscode-button', { text: 'Export Markdown…', attrs: { id: 'export-md', secondary: '' } });
const pngButton = el('vscode-button', { text: 'Export PNG…', attrs: { id: 'export-png', secondary: '' } });
const stopButton = el('vscode-button', { text: 'Stop sweep', attrs: { id: 'stop-sweep', secondary: '', hidden: '' } });
const resumeButton = el('vscode-button', { text: 'Resume sweep', attrs: { id: 'resume-sweep', hidden: '' } });
const progressLine = el('div', { attrs: { id: 'sweep-progress' } });
const bar = el('progress', { attrs: { id: 'sweep-bar', max: '1', value: '0' } });
const etaLine = el('div', { className: 'muted', attrs: { id: 'sweep-eta' } });
const progressBox = el('section', { className: 'progress-box', attrs: { hidden: '' } }, [progressLine, bar, etaLine]);
const problems = el('div', { className: 'problems', attrs: { id: 'sweep-problems', role: 'alert', hidden: '' } });
const counts = el('p', { className: 'muted', attrs: { id: 'trial-counts' } });
const grid = el('div', { className: 'trial-grid', attrs: { id: 'trial-grid' } });
const table = el('table', { className: 'results', attrs: { id: 'sweep-table' } });
const tableNote = el('p', { className: 'muted small', attrs: { id: 'table-note' } });
const canvas = el('canvas', { attrs: { id: 'tradeoff-chart', role: 'img' } });

root.append(
  el('header', { className: 'toolbar' }, [
    title,
    el('span', { className: 'spacer' }),
    resumeButton,
    stopButton,
    csvButton,
    mdButton,
    pngButton,
  ]),
  problems,
  progressBox,
  counts,
  el('h2', { text: 'Trials' }),
  grid,
  el('h2', { text: 'Results (mean ± std over seeds)' }),
  el('div', { className: 'table-wrap' }, [table]),
  tableNote,
  el('figure', {}, [
    el('figcaption', { text: 'Score vs. peak training memory, joined along the swept size (up and left is better)' }),
    el('div', { className: 'chart-box' }, [canvas]),
  ]),
);

const chart = new TradeoffChart(canvas, (axis, kind) => channel.post({ type: SweepMessages.exportChart, axis, kind }));

csvButton.addEventListener('click', () => channel.post({ type: SweepMessages.exportCsv }));
mdButton.addEventListener('click', () => channel.post({ type: SweepMessages.exportMarkdown }));
pngButton.addEventListener('click', () => channel.post({ type: SweepMessages.exportPng, dataUrl: chart.toPng() }));
for (const [button, type] of [
  [stopButton, SweepMessages.stop],
  [resumeButton, SweepMessages.resume],
] as const)
  button.addEventListener('click', () => {
    if (button.hasAttribute('disabled')) return;
    button.setAttribute('disabled', ''); // until the host says what applies now
    channel.post({ type });
  });

/** The engine's side: progress of the whole sweep and its ETA while it runs; Stop, or Resume when it applies. */
function renderLive(live: SweepLive): void {
  const p = live.progress;
  progressBox.hidden = !live.engine;
  stopButton.hidden = !live.engine;
  stopButton.toggleAttribute('disabled', !live.canStop);
  resumeButton.hidden = !!live.engine || !live.unfinished;
  resumeButton.toggleAttribute('disabled', live.resumeBlocked !== null);
  resumeButton.title = live.resumeBlocked ?? 'Continue the unfinished trials: ladderlab sweep resume';
  if (!live.engine) return;
  if (!p) {
    progressLine.textContent = live.engine === 'stopping' ? 'Stopping…' : 'Starting the sweep…';
    etaLine.textContent = '';
    return;
  }
  const r = p.running;
  const step = r && r.totalSteps ? r.step / r.totalSteps : 0;
  bar.value = p.total ? (p.done + step) / p.total : 0;
  bar.dataset.fraction = bar.value.toFixed(3);
  const failed = p.failed ? ` (${p.failed} failed)` : '';
  const trial = r
    ? ` · trial ${r.trialId}: ${r.totalSteps ? `step ${r.step} / ${r.totalSteps}` : 'running'}` +
      (p.alsoRunning ? ` and ${p.alsoRunning} more running` : '')
    : '';
  progressLine.textContent = `${p.done} of ${p.total} trials done${failed}${trial}`;
  etaLine.textContent =
    live.engine === 'stopping'
      ? 'Stopping: the running trial saves a checkpoint; the rest stay queued.'
      : p.etaS === null
        ? 'ETA after the first trial'
        : `ETA ${formatDuration(p.etaS)}`;
}

function renderGrid(s: SweepState): void {
  const total = TRIAL_STATES.reduce((n, k) => n + s.counts[k], 0);
  counts.textContent = `${total} trials: ${TRIAL_STATES.filter((k) => s.counts[k])
    .map((k) => `${s.counts[k]} ${k}`)
    .join(' · ')}`;
  grid.replaceChildren(
    ...s.grid.flatMap((cell) => [
      el('span', { text: cell.label }),
      el(
        'span',
        { className: 'trial-chips', attrs: { 'data-label': cell.label } },
        cell.trials.map((t) =>
          el('span', {
            className: 'badge',
            text: `seed ${t.seed}: ${t.status}`,
            attrs: { 'data-state': t.status, 'data-trial-id': t.trialId, title: t.runId ?? 'no run folder yet' },
          }),
        ),
      ),
    ]),
  );
}

/** "50.0" with "±0.4" as a subscript: Table 1's way of writing mean and std. */
function scoreCell(score: { mean: number; std: number } | null): HTMLTableCellElement {
  if (!score) return el('td', { className: 'num', text: '—' });
  return el('td', { className: 'num' }, [score.mean.toFixed(1), el('sub', { text: `±${score.std.toFixed(1)}` })]);
}

function renderTable(s: SweepState): void {
  const t = s.table;
  const headers = ['method', ...t.tasks, ...(t.hasGlueAverage ? ['GLUE avg'] : []), 'n seeds', 'peak memory'];
  const head = el('thead', {}, [
    el(
      'tr',
      {},
      headers.map((h, i) => el('th', { text: h, className: i ? 'num' : '' })),
    ),
  ]);
  const body = el(
    'tbody',
    {},
    t.rows.map((r) =>
      el('tr', { className: r.onPareto ? 'pareto' : '', attrs: { 'data-method': r.method, 'data-label': r.label } }, [
        el('td', { text: r.onPareto ? `${r.label} ★` : r.label }),
        ...r.scores.map(scoreCell),
        ...(t.hasGlueAverage ? [el('td', { className: 'num', text: r.glueAverage?.toFixed(1) ?? '—' })] : []),
        el('td', { className: 'num', text: `${r.n}/${r.trials}` }),
        el('td', { className: 'num', text: r.peakBytes === null ? '—' : formatMiB(r.peakBytes / MIB) }),
      ]),
    ),
  );
  table.replaceChildren(head, body);
  table.dataset.rows = String(t.rows.length);
  tableNote.textContent = t.rows.length
    ? '★ on the Pareto front of score vs peak memory. Peak memory: the CUDA peak on a GPU, else the accounted bytes.'
    : 'No results yet: results.json is written when the sweep ends (or by `ladderlab sweep report`).';
}

channel.onMessage((msg) => {
  if (msg.type === SweepMessages.live) return renderLive(msg.live);
  if (msg.type !== SweepMessages.state) return;
  const s = msg.state;
  saveState({ sweepId: s.sweepId }); // all a reloaded window needs to reopen this sweep's panel
  title.textContent = `Sweep ${s.sweepId}`;
  problems.hidden = s.problems.length === 0;
  problems.replaceChildren(...s.problems.map((p) => el('div', { text: p })));
  renderGrid(s);
  renderTable(s);
  chart.setState(s);
});

channel.post({ type: SweepMessages.ready });
