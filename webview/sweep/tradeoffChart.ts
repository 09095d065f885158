// The sweep's trade-off chart (the LST paper's Figure 5): score vs peak training memory, one line per method joined
// along the swept size, the seeds' standard deviation as error bars, the Pareto front as a dashed line through
// ringed points. Error bars are a tiny chart.js plugin of our own rather than npm chartjs-chart-error-bars: that
// package replaces the scatter controller and wants its own {yMin, yMax} data shape for what is 20 lines of drawing
// here, and every byte of it would ship in the extension. Colours and fonts come from the theme (shared/chart.ts).
import {
  Chart,
  Legend,
  LinearScale,
  LineElement,
  PointElement,
  ScatterController,
  Tooltip,
  type ChartDataset,
  type Plugin,
} from 'chart.js';
import { methodName } from '../../protocol/runLabel';
import type { TradeoffSeries } from '../../protocol/webviews/sweep';
import { formatMiB, methodColor, readTheme, type PaletteColor, type Theme } from '../shared/chart';
import { onThemeChange } from '../shared/vscodeApi';

Chart.register(ScatterController, LineElement, PointElement, LinearScale, Legend, Tooltip);

type Datum = { x: number; y: number; std: number };
type Dataset = ChartDataset<'scatter', Datum[]> & { _color: PaletteColor; _errorBars: boolean };

const CAP = 4; // half-width of an error bar's caps, px

/** The theme the chart was last coloured with (TradeoffChart.applyTheme keeps it in the options). */
const theme = (chart: Chart): Theme => (chart.options.plugins as { ladderTheme: Theme }).ladderTheme;

// Draws mean ± std whiskers at every point of the datasets that ask for them.
const errorBarPlugin: Plugin<'scatter'> = {
  id: 'ladderErrorBars',
  afterDatasetsDraw(chart) {
    const { ctx, scales } = chart;
    chart.data.datasets.forEach((ds, i) => {
      const d = ds as unknown as Dataset;
      if (!d._errorBars || !chart.isDatasetVisible(i)) return;
      ctx.save();
      ctx.strokeStyle = theme(chart).colors[d._color];
      ctx.lineWidth = 1.5;
      for (const p of d.data) {
        if (!(p.std > 0)) continue;
        const x = scales.x.getPixelForValue(p.x);
        const top = scales.y.getPixelForValue(p.y + p.std);
        const bottom = scales.y.getPixelForValue(p.y - p.std);
        ctx.beginPath();
        ctx.moveTo(x, top);
        ctx.lineTo(x, bottom);
        ctx.moveTo(x - CAP, top);
        ctx.lineTo(x + CAP, top);
        ctx.moveTo(x - CAP, bottom);
        ctx.lineTo(x + CAP, bottom);
        ctx.stroke();
      }
      ctx.restore();
    });
  },
};

export class TradeoffChart {
  private readonly chart: Chart<'scatter', Datum[]>;
  private theme: Theme = readTheme();

  constructor(private readonly canvas: HTMLCanvasElement) {
    const axis = (text: string, tick?: (v: number) => string) => ({
      type: 'linear' as const,
      title: { display: true, text },
      ticks: tick ? { callback: (v: string | number) => tick(Number(v)) } : {},
    });
    this.chart = new Chart<'scatter', Datum[]>(canvas, {
      type: 'scatter',
      data: { datasets: [] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: false,
        scales: { x: axis('peak training memory', formatMiB), y: axis('score (mean ± std over seeds)') },
        plugins: {
          legend: { position: 'bottom' },
          tooltip: {
            callbacks: {
              label: (item) => {
                const p = item.raw as Datum;
                return `${item.dataset.label}: ${p.y.toFixed(1)} ± ${p.std.toFixed(1)} at ${formatMiB(p.x)}`;
              },
            },
          },
        },
      },
      plugins: [errorBarPlugin],
    });
    onThemeChange(() => {
      this.theme = readTheme();
      this.applyTheme();
      this.chart.update('none');
    });
    this.applyTheme();
  }

  setSeries(series: TradeoffSeries[]): void {
    const lines: Dataset[] = series.map((s) => ({
      label: s.sizeField ? `${methodName(s.method)} (by ${s.sizeField})` : methodName(s.method),
      data: s.points.map(({ x, y, std }) => ({ x, y, std })),
      showLine: true,
      // A point on the Pareto front is drawn larger, as a ring around the method's colour.
      pointRadius: s.points.map((p) => (p.onPareto ? 8 : 5)),
      pointBorderWidth: s.points.map((p) => (p.onPareto ? 3 : 1)),
      _color: methodColor(s.method),
      _errorBars: true,
    }));
    const front = series
      .flatMap((s) => s.points.filter((p) => p.onPareto))
      .sort((a, b) => a.x - b.x)
      .map(({ x, y, std }) => ({ x, y, std }));
    const frontLine: Dataset = {
      label: 'Pareto front',
      data: front,
      showLine: true,
      borderDash: [6, 4],
      pointRadius: 0,
      _color: 'foreground',
      _errorBars: false,
    };
    this.chart.data.datasets = front.length ? [...lines, frontLine] : lines;
    // The y range holds the error bars too (chart.js fits the points only).
    const ends = series.flatMap((s) => s.points.flatMap((p) => [p.y - p.std, p.y + p.std]));
    const y = this.chart.options.scales!.y!;
    y.suggestedMin = ends.length ? Math.min(...ends) : undefined;
    y.suggestedMax = ends.length ? Math.max(...ends) : undefined;
    this.applyTheme();
    this.chart.update('none');
    // What is drawn, for tests and screen readers (the canvas has no text of its own).
    this.canvas.dataset.points = String(lines.reduce((n, d) => n + d.data.length, 0));
    this.canvas.dataset.pareto = String(front.length);
    this.canvas.setAttribute(
      'aria-label',
      series.length
        ? series.map((s) => `${methodName(s.method)}: ${s.points.map((p) => p.label).join(', ')}`).join('; ')
        : 'No finished grid points yet',
    );
  }

  /** The chart as a PNG data URL on the theme's background (a transparent PNG is unreadable in other viewers). */
  toPng(): string {
    const out = document.createElement('canvas');
    out.width = this.canvas.width;
    out.height = this.canvas.height;
    const ctx = out.getContext('2d')!;
    ctx.fillStyle = this.theme.background;
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.drawImage(this.canvas, 0, 0);
    return out.toDataURL('image/png');
  }

  private applyTheme(): void {
    const t = this.theme;
    const o = this.chart.options;
    o.color = t.foreground;
    o.font = { family: t.fontFamily, size: t.fontSize };
    for (const axis of [o.scales!.x!, o.scales!.y!]) {
      axis.grid = { color: t.grid };
      if (axis.ticks) axis.ticks.color = t.muted; // assigned, not spread: chart.js's option proxies do not spread
      (axis as { title: { color?: string } }).title.color = t.foreground;
    }
    (o.plugins as { ladderTheme?: Theme }).ladderTheme = t;
    for (const ds of this.chart.data.datasets as Dataset[]) {
      ds.borderColor = t.colors[ds._color];
      ds.backgroundColor = t.colors[ds._color];
    }
  }
}
