// The sweep's charts, drawn by the shared SeriesChart (webview/shared/chart.ts: theme, error bars, PNG): score vs
// peak training memory, one line per method joined along the swept size with the Pareto front dashed through ringed
// points (the LST paper's Figure 5), or score vs a swept field (Figure 6's layers dropped / frozen, Figure 7's r with
// a line per init), chosen in an x-axis picker. The host builds every series (src/sweeps/sweepTable.ts,
// sweepFigures.ts); this only draws the one picked.
import { MEMORY_AXIS as MEMORY, type SweepFigure, type SweepState } from '../../protocol/webviews/sweep';
import { formatMiB, methodColor, PALETTE, SeriesChart, type PaletteColor, type SeriesSpec } from '../shared/chart';
import { el } from '../shared/vscodeApi';

const MEMORY_TITLE = 'peak training memory';

/** Line colours: the method's own when each method has one line, else one palette colour per line. */
function colours(figure: SweepFigure): PaletteColor[] {
  const methods = figure.series.map((s) => s.method);
  if (new Set(methods).size === methods.length) return methods.map(methodColor);
  return figure.series.map((_, i) => PALETTE[i % PALETTE.length]);
}

export class TradeoffChart {
  private readonly chart: SeriesChart;
  private readonly picker = el('select', { attrs: { id: 'chart-axis', 'aria-label': 'x axis' } });
  private figures: SweepFigure[] = [];

  /** `exportChart`: the picked chart as CSV or Markdown (the host saves it; PNG is the page's own button). */
  constructor(
    private readonly canvas: HTMLCanvasElement,
    exportChart: (axis: string, kind: 'csv' | 'md') => void,
  ) {
    this.chart = new SeriesChart(canvas, {
      type: 'scatter',
      xTitle: MEMORY_TITLE,
      yTitle: 'score (mean ± std over seeds)',
      xTick: formatMiB,
      emptyText: 'No finished grid points yet',
    });
    // The picker and the chart's exports sit above the chart's box, in the chart's figure.
    const button = (text: string, id: string, kind: 'csv' | 'md') => {
      const b = el('vscode-button', { text, attrs: { id, secondary: '' } });
      b.addEventListener('click', () => exportChart(this.picker.value || MEMORY, kind));
      return b;
    };
    canvas.parentElement!.before(
      el('div', { className: 'toolbar' }, [
        el('label', { className: 'muted small', text: 'x axis ' }, [this.picker]),
        el('span', { className: 'spacer' }),
        button('Chart CSV…', 'export-chart-csv', 'csv'),
        button('Chart Markdown…', 'export-chart-md', 'md'),
      ]),
    );
    this.picker.addEventListener('change', () => this.draw());
  }

  /** The sweep's charts: peak memory's first, then one per swept field; the picked axis stays picked. */
  setState(state: SweepState): void {
    const picked = this.picker.value || MEMORY;
    this.figures = [{ axis: MEMORY, title: MEMORY_TITLE, series: state.chart }, ...state.figures];
    this.picker.replaceChildren(...this.figures.map((f) => el('option', { text: f.title, attrs: { value: f.axis } })));
    this.picker.value = this.figures.some((f) => f.axis === picked) ? picked : MEMORY;
    this.picker.hidden = this.figures.length < 2;
    this.draw();
  }

  private draw(): void {
    const figure = this.figures.find((f) => f.axis === this.picker.value) ?? this.figures[0];
    if (!figure) return;
    const memory = figure.axis === MEMORY;
    const colour = colours(figure);
    const lines: SeriesSpec[] = figure.series.map((s, i) => ({
      key: `${s.method}:${s.label}`,
      label: s.label,
      color: colour[i],
      points: s.points.map(({ x, y }) => ({ x, y })),
      std: s.points.map((p) => p.std),
      ringed: s.points.map((p) => p.onPareto),
      joined: true,
    }));
    // The Pareto front of score vs memory is a line on the memory axis only (elsewhere its points stay ringed).
    const front = memory
      ? figure.series
          .flatMap((s) => s.points.filter((p) => p.onPareto))
          .sort((a, b) => a.x - b.x)
          .map(({ x, y }) => ({ x, y }))
      : [];
    const frontLine: SeriesSpec[] = front.length
      ? [{ key: 'pareto', label: 'Pareto front', color: 'foreground', points: front, dashed: true, joined: true }]
      : [];
    const whole = figure.series.every((s) => s.points.every((p) => Number.isInteger(p.x)));
    this.chart.setXAxis(figure.title, memory ? formatMiB : undefined, !memory && whole);
    this.chart.setSeries([...lines, ...frontLine]);
    const caption = this.canvas.closest('figure')?.querySelector('figcaption');
    if (caption)
      caption.textContent = memory
        ? 'Score vs. peak training memory, joined along the swept size (up and left is better)'
        : `Score vs. ${figure.title}, one line per method and the other swept fields`;
    // What is drawn, for tests and screen readers (the canvas has no text of its own).
    this.canvas.dataset.axis = figure.axis;
    this.canvas.dataset.points = String(lines.reduce((n, d) => n + d.points.length, 0));
    this.canvas.dataset.pareto = String(front.length);
    this.canvas.dataset.lines = JSON.stringify(figure.series.map((s) => s.label));
    this.canvas.setAttribute(
      'aria-label',
      figure.series.length
        ? `Score vs ${figure.title}: ` +
            figure.series.map((s) => `${s.label}: ${s.points.map((p) => p.label).join(', ')}`).join('; ')
        : 'No finished grid points yet',
    );
  }

  toPng(): string {
    return this.chart.toPng();
  }
}
