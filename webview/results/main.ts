// The results webview: the comparison table, an accuracy-vs-memory scatter (the LST paper's Figure 1), a run
// picker and export buttons. The host computes and formats the table; this page only shows it.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import { methodName } from '../../protocol/runLabel';
import { ResultsMessages, type ResultsChannel, type ResultsState } from '../../protocol/webviews/results';
import { formatMiB, methodColor, SeriesChart, type SeriesSpec } from '../shared/chart';
import { connect, el } from '../shared/vscodeApi';

const channel = connect<ResultsChannel>();

const MIB = 1024 * 1024;
let state: ResultsState | null = null;

const root = document.getElementById('app')!;
const latestButton = el('vscode-button', { text: 'Latest comparison', attrs: { id: 'select-latest', secondary: '' } });
const csvButton = el('vscode-button', { text: 'Export CSV…', attrs: { id: 'export-csv' } });
const mdButton = el('vscode-button', { text: 'Export Markdown…', attrs: { id: 'export-md', secondary: '' } });
const tryButton = el('vscode-button', { text: 'Try Model…', attrs: { id: 'try-model', secondary: '' } });
const summary = el('p', { className: 'muted', attrs: { id: 'summary' } });
const table = el('table', { className: 'results', attrs: { id: 'results-table' } });
const notes = el('ul', { className: 'warnings', attrs: { id: 'results-notes', role: 'status' } });
const scatterCanvas = el('canvas', { attrs: { id: 'scatter-chart', role: 'img' } });
const scatterNote = el('p', { className: 'muted small', attrs: { id: 'scatter-note' } });
const picker = el('div', { className: 'picker', attrs: { id: 'run-picker' } });
// A sweep is one result: one row per sweep (best point, Pareto front), its trials shown as runs only on demand.
const sweepsSection = el('section', { attrs: { id: 'sweeps', hidden: '' } });
const sweepsTable = el('table', { className: 'results', attrs: { id: 'sweeps-table' } });
const trialsBox = el('vscode-checkbox', { attrs: { id: 'show-trials', label: 'Show the sweeps’ trials as runs' } });
sweepsSection.append(el('h2', { text: 'Sweeps' }), el('div', { className: 'table-wrap' }, [sweepsTable]), trialsBox);

root.append(
  el('header', { className: 'toolbar' }, [
    el('h1', { text: 'Results' }),
    el('span', { className: 'spacer' }),
    latestButton,
    csvButton,
    mdButton,
    tryButton,
  ]),
  sweepsSection,
  summary,
  el('div', { className: 'table-wrap' }, [table]),
  notes,
  el('figure', {}, [
    el('figcaption', { text: 'Score vs. peak training memory (up and to the left is better)' }),
    el('div', { className: 'chart-box' }, [scatterCanvas]),
    scatterNote,
  ]),
  el('details', { attrs: { id: 'picker-details' } }, [el('summary', { text: 'Choose runs' }), picker]),
);

const scatter = new SeriesChart(scatterCanvas, {
  type: 'scatter',
  xTitle: 'peak training memory (MiB)',
  yTitle: 'score',
  xTick: (v) => formatMiB(v),
  emptyText: 'No finished runs selected',
});

latestButton.addEventListener('click', () => channel.post({ type: ResultsMessages.selectLatest }));
csvButton.addEventListener('click', () => channel.post({ type: ResultsMessages.exportCsv }));
mdButton.addEventListener('click', () => channel.post({ type: ResultsMessages.exportMarkdown }));
tryButton.addEventListener('click', () => channel.post({ type: ResultsMessages.tryModel }));
trialsBox.addEventListener('change', () => channel.post({ type: ResultsMessages.showTrials, show: trialsBox.checked }));

function renderSweeps(s: ResultsState): void {
  sweepsSection.hidden = s.sweeps.length === 0;
  trialsBox.checked = s.showTrials;
  const headers = ['Sweep', 'Task', 'Trials', 'Best point', 'Best score', 'Peak memory (best)', 'Pareto front', ''];
  const head = el('thead', {}, [
    el(
      'tr',
      {},
      headers.map((h, i) => el('th', { text: h, className: i ? 'num' : '' })),
    ),
  ]);
  const rows = s.sweeps.map((w) => {
    const open = el('vscode-button', { text: 'Open Sweep', attrs: { secondary: '', 'data-sweep-id': w.sweepId } });
    open.addEventListener('click', () => channel.post({ type: ResultsMessages.openSweep, sweepId: w.sweepId }));
    const b = w.best;
    const score = b ? `${b.score.toFixed(1)}${b.std === null ? '' : ` ± ${b.std.toFixed(1)}`} (n=${b.n})` : '—';
    return el('tr', { attrs: { 'data-sweep-id': w.sweepId, 'data-best': b?.label ?? '' } }, [
      el('td', { text: w.sweepId }),
      el('td', { className: 'num', text: w.tasks.join(', ') || '—' }),
      el('td', { className: 'num', text: `${w.finished}/${w.trials}` }),
      el('td', { className: 'num', text: b?.label ?? w.problem ?? 'no results yet' }),
      el('td', { className: 'num', text: score }),
      el('td', { className: 'num', text: b?.peakBytes != null ? formatMiB(b.peakBytes / MIB) : '—' }),
      el('td', { className: 'num', text: b ? `${w.paretoSize} point${w.paretoSize === 1 ? '' : 's'}` : '—' }),
      el('td', {}, [open]),
    ]);
  });
  sweepsTable.replaceChildren(head, el('tbody', {}, rows));
  sweepsTable.dataset.rows = String(rows.length);
}

function renderTable(s: ResultsState): void {
  const t = s.table;
  const head = el('thead', {}, [
    el(
      'tr',
      {},
      t.columns.map((c, i) => el('th', { text: c, className: t.numeric[i] ? 'num' : '' })),
    ),
  ]);
  const body = el(
    'tbody',
    {},
    t.cells.map((cells, r) => {
      const row = t.rows[r];
      return el(
        'tr',
        {
          attrs: {
            'data-method': row.method,
            'data-label': row.label,
            'data-run-id': row.runId,
            'data-score': String(row.score ?? ''),
          },
        },
        cells.map((c, i) => el('td', { text: c, className: t.numeric[i] ? 'num' : '' })),
      );
    }),
  );
  table.replaceChildren(head, body);
  table.dataset.rows = String(t.rows.length);
  // Two runs whose accuracies the test set cannot tell apart: said under the table, not hidden in a tooltip.
  notes.replaceChildren(...t.notes.map((n) => el('li', { text: `⚠ ${n}` })));
  const tasks = [...new Set(t.rows.map((r) => r.task ?? '?'))];
  summary.textContent = t.rows.length
    ? `${t.rows.length} run${t.rows.length === 1 ? '' : 's'} · task ${tasks.join(', ')}`
    : s.sweeps.length && !s.showTrials && !s.choices.length
      ? 'No runs besides the sweeps’ trials: tick “Show the sweeps’ trials as runs” to compare them one by one.'
      : s.choices.length
        ? 'No runs selected: choose some below.'
        : 'No finished runs yet: start a comparison from the Ladder Lab sidebar.';
}

function renderScatter(s: ResultsState): void {
  const byMethod = new Map<string, { x: number; y: number; label: string }[]>();
  for (const r of s.table.rows) {
    if (r.peakBytes === null || r.score === null) continue;
    const list = byMethod.get(r.method) ?? [];
    list.push({ x: r.peakBytes / MIB, y: r.score, label: r.label });
    byMethod.set(r.method, list);
  }
  const series: SeriesSpec[] = [...byMethod].map(([method, pts]) => ({
    key: method,
    label: methodName(method),
    color: methodColor(method),
    points: pts.map(({ x, y }) => ({ x, y })),
    pointLabels: pts.map((p) => p.label),
  }));
  scatter.setSeries(series);
  // What each point is called, for tests and screen readers (the canvas draws the same labels beside the points).
  scatterCanvas.dataset.pointLabels = JSON.stringify(series.flatMap((x) => x.pointLabels ?? []));
  scatterCanvas.setAttribute(
    'aria-label',
    `Score vs. memory: ${series.flatMap((x) => x.pointLabels ?? []).join('; ')}`,
  );
  const kinds = new Set(s.table.rows.map((r) => r.peakKind));
  scatterNote.textContent = kinds.has('accounted')
    ? kinds.has('cuda')
      ? 'Mixed: CUDA peaks for GPU runs, accounted bytes for the others.'
      : 'Memory is accounted (parameters + gradients + optimizer state + saved-for-backward): these runs were not on CUDA.'
    : 'Memory is the CUDA peak allocated during training.';
}

function renderPicker(s: ResultsState): void {
  const selected = new Set(s.selected);
  picker.replaceChildren(
    ...s.choices.map((c) => {
      const when = c.startedAt ? new Date(c.startedAt * 1000).toLocaleString() : '';
      const box = el('vscode-checkbox', {
        attrs: {
          'data-run-id': c.id,
          label: `${c.label} · ${c.task ?? '?'} · score ${c.score?.toFixed(2) ?? '—'} · ${when} · ${c.id}`,
        },
      });
      box.checked = selected.has(c.id);
      box.addEventListener('change', sendSelection);
      return box;
    }),
  );
}

function sendSelection(): void {
  const ids = [...picker.querySelectorAll('vscode-checkbox')]
    .filter((b) => b.checked)
    .map((b) => b.dataset.runId!)
    .filter(Boolean);
  channel.post({ type: ResultsMessages.select, runIds: ids });
}

channel.onMessage((msg) => {
  if (msg.type !== ResultsMessages.state) return;
  state = msg.state;
  renderSweeps(state);
  renderTable(state);
  renderScatter(state);
  renderPicker(state);
});

channel.post({ type: ResultsMessages.ready });
