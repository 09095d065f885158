// Chart helpers on chart.js 4 for the webviews. Every colour, font and grid line comes from VS Code's theme CSS
// variables, read with getComputedStyle, and is read again when the theme changes, so the charts stay readable
// in dark, light and high-contrast themes. Each chart keeps `data-points` / `data-series` attributes on its canvas
// up to date: tests (and screen readers, via the aria-label) read what is drawn without decoding pixels. Error bars
// (a sweep's seed std) are a 20-line plugin of our own rather than npm chartjs-chart-error-bars, which replaces the
// scatter controller and wants its own data shape, and would ship in the extension.
import {
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  ScatterController,
  Tooltip,
  type ChartDataset,
  type ChartTypeRegistry,
  type Plugin,
} from 'chart.js';
import type { Point } from './series';
import { onThemeChange } from './vscodeApi';

Chart.register(LineController, ScatterController, LineElement, PointElement, LinearScale, Legend, Tooltip, Filler);

/** Named palette entries map to VS Code's chart colour variables (what the built-in charts use). */
export const PALETTE = ['green', 'blue', 'orange', 'purple', 'yellow', 'red'] as const;
export type PaletteColor = (typeof PALETTE)[number] | 'foreground';
const METHOD_COLORS: Record<string, PaletteColor> = {
  lst: 'green',
  lora: 'blue',
  adapter: 'orange',
  bitfit: 'purple',
  prompt: 'yellow',
  full: 'red',
};

export function methodColor(method: string | null): PaletteColor {
  if (method === null) return 'foreground';
  if (METHOD_COLORS[method]) return METHOD_COLORS[method];
  let h = 0;
  for (const c of method) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

export interface Theme {
  foreground: string;
  muted: string;
  grid: string;
  background: string;
  fontFamily: string;
  fontSize: number;
  colors: Record<PaletteColor, string>;
}

/** Reads the theme from VS Code's CSS variables (the body's computed colour when a variable is missing). */
export function readTheme(): Theme {
  const root = getComputedStyle(document.documentElement);
  const body = getComputedStyle(document.body);
  const v = (name: string, fallback: string) => root.getPropertyValue(name).trim() || fallback;
  const foreground = v('--vscode-charts-foreground', v('--vscode-foreground', body.color));
  const colors = { foreground } as Record<PaletteColor, string>;
  for (const name of PALETTE) colors[name] = v(`--vscode-charts-${name}`, foreground);
  return {
    foreground,
    muted: v('--vscode-descriptionForeground', foreground),
    grid: v('--vscode-charts-lines', v('--vscode-widget-border', body.color)),
    background: v('--vscode-editor-background', body.backgroundColor),
    fontFamily: v('--vscode-font-family', body.fontFamily),
    fontSize: parseFloat(v('--vscode-font-size', body.fontSize)) || 13,
    colors,
  };
}

export interface SeriesSpec {
  key: string;
  label: string;
  color: PaletteColor;
  points: Point[];
  dashed?: boolean;
  showPoints?: boolean;
  /** Text drawn next to each point (scatter labels). */
  pointLabels?: string[];
  /** Per point, the half-height of an error bar (mean ± std), drawn as a capped whisker. */
  std?: number[];
  /** Per point, whether it is drawn larger, as a ring (e.g. on a Pareto front). */
  ringed?: boolean[];
  /** A scatter series whose points are joined by a line (in the order given). */
  joined?: boolean;
}

export interface ChartOptions {
  type: 'line' | 'scatter';
  xTitle: string;
  yTitle: string;
  /** Formats tick values of the axes. */
  xTick?: (v: number) => string;
  yTick?: (v: number) => string;
  beginAtZero?: boolean;
  /** Whole-number ticks on x (steps). */
  integerX?: boolean;
  emptyText: string;
}

type Dataset = ChartDataset<'line' | 'scatter', Point[]> & {
  _color: PaletteColor;
  _dashed: boolean;
  _labels?: string[];
  _std?: number[];
};

const CAP = 4; // half-width of an error bar's caps, px

// Draws mean ± std whiskers at the points of the datasets that carry a std.
const errorBarPlugin: Plugin = {
  id: 'ladderErrorBars',
  afterDatasetsDraw(chart) {
    const { ctx, scales } = chart;
    const theme = (chart.options.plugins as { ladderTheme?: Theme }).ladderTheme;
    chart.data.datasets.forEach((ds, i) => {
      const d = ds as Dataset;
      if (!d._std || !chart.isDatasetVisible(i)) return;
      ctx.save();
      ctx.strokeStyle = theme?.colors[d._color] ?? '#888';
      ctx.lineWidth = 1.5;
      d.data.forEach((p, j) => {
        const std = d._std![j];
        if (!(std > 0)) return;
        const x = scales.x.getPixelForValue(p.x);
        const top = scales.y.getPixelForValue(p.y + std);
        const bottom = scales.y.getPixelForValue(p.y - std);
        ctx.beginPath();
        ctx.moveTo(x, top);
        ctx.lineTo(x, bottom);
        for (const y of [top, bottom]) {
          ctx.moveTo(x - CAP, y);
          ctx.lineTo(x + CAP, y);
        }
        ctx.stroke();
      });
      ctx.restore();
    });
  },
};

// Draws each dataset's point labels next to its points (chart.js has no built-in data labels).
const pointLabelPlugin: Plugin = {
  id: 'ladderPointLabels',
  afterDatasetsDraw(chart) {
    const ctx = chart.ctx;
    const theme = (chart.options.plugins as { ladderTheme?: Theme }).ladderTheme;
    chart.data.datasets.forEach((ds, i) => {
      const labels = (ds as Dataset)._labels;
      if (!labels || !chart.isDatasetVisible(i)) return;
      const meta = chart.getDatasetMeta(i);
      ctx.save();
      ctx.fillStyle = theme?.foreground ?? '#888';
      ctx.font = `${theme?.fontSize ?? 12}px ${theme?.fontFamily ?? 'sans-serif'}`;
      ctx.textBaseline = 'middle';
      meta.data.forEach((pt, j) => {
        if (labels[j]) ctx.fillText(labels[j], pt.x + 7, pt.y - 8);
      });
      ctx.restore();
    });
  },
};

// Writes a message in the middle of an empty chart instead of bare axes.
const emptyPlugin: Plugin = {
  id: 'ladderEmpty',
  afterDraw(chart) {
    const hasData = chart.data.datasets.some((d) => (d.data as unknown[]).length > 0);
    const text = (chart.options.plugins as { ladderEmptyText?: string }).ladderEmptyText;
    if (hasData || !text) return;
    const theme = (chart.options.plugins as { ladderTheme?: Theme }).ladderTheme;
    const { ctx, chartArea } = chart;
    ctx.save();
    ctx.fillStyle = theme?.muted ?? '#888';
    ctx.font = `${theme?.fontSize ?? 12}px ${theme?.fontFamily ?? 'sans-serif'}`;
    ctx.textAlign = 'center';
    ctx.fillText(text, (chartArea.left + chartArea.right) / 2, (chartArea.top + chartArea.bottom) / 2);
    ctx.restore();
  },
};

/** A line or scatter chart whose series are replaced wholesale by `setSeries` (cheap at monitor sizes). */
export class SeriesChart {
  private readonly chart: Chart<keyof ChartTypeRegistry, Point[]>;
  private theme = readTheme();

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly options: ChartOptions,
  ) {
    const scale = (title: string, tick?: (v: number) => string, beginAtZero = false, integer = false) => ({
      type: 'linear' as const,
      beginAtZero,
      title: { display: true, text: title },
      ticks: {
        ...(tick ? { callback: (v: string | number) => tick(Number(v)) } : {}),
        ...(integer ? { precision: 0 } : {}),
      },
    });
    this.chart = new Chart(canvas, {
      type: options.type,
      data: { datasets: [] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: false,
        // Line data comes sorted by x; a scatter's joined lines follow a swept size, not x.
        normalized: options.type !== 'scatter',
        interaction: { mode: options.type === 'scatter' ? 'nearest' : 'index', intersect: false },
        scales: {
          x: scale(options.xTitle, options.xTick, options.type === 'scatter', options.integerX),
          y: scale(options.yTitle, options.yTick, options.beginAtZero),
        },
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 14, boxHeight: 2 } },
          tooltip: { enabled: true },
          ...({ ladderEmptyText: options.emptyText } as object),
        },
      },
      plugins: [pointLabelPlugin, errorBarPlugin, emptyPlugin],
    });
    this.applyTheme();
    onThemeChange(() => {
      this.theme = readTheme();
      this.applyTheme();
      this.chart.update('none');
    });
    this.updateAttributes();
  }

  setSeries(series: SeriesSpec[]): void {
    this.chart.data.datasets = series.map((s) => this.dataset(s));
    // The y range holds the error bars too (chart.js fits the points only).
    const ends = series.flatMap((s) => (s.std ? s.points.flatMap((p, i) => [p.y - s.std![i], p.y + s.std![i]]) : []));
    const y = this.chart.options.scales!.y!;
    y.suggestedMin = ends.length ? Math.min(...ends) : undefined;
    y.suggestedMax = ends.length ? Math.max(...ends) : undefined;
    this.chart.update('none');
    this.updateAttributes();
  }

  /** A new x axis (title, tick format, whole-number ticks), e.g. when a sweep's chart goes from peak memory to r. */
  setXAxis(title: string, tick?: (v: number) => string, integer = false): void {
    this.options.xTitle = title;
    const x = this.chart.options.scales!.x as {
      title: { text: string };
      ticks: { callback?: unknown; precision?: number };
    };
    x.title.text = title;
    x.ticks.callback = tick ? (v: string | number) => tick(Number(v)) : undefined;
    x.ticks.precision = integer ? 0 : undefined;
    this.chart.update('none');
    this.updateAttributes();
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

  private dataset(s: SeriesSpec): Dataset {
    const color = this.theme.colors[s.color];
    const showPoints = s.showPoints ?? (this.options.type === 'scatter' || s.points.length < 40);
    const radius = this.options.type === 'scatter' ? 6 : showPoints ? 3 : 0;
    return {
      label: s.label,
      data: s.points,
      borderColor: color,
      backgroundColor: color,
      borderWidth: 2,
      borderDash: s.dashed ? [6, 4] : [],
      pointRadius: s.ringed ? s.ringed.map((r) => (r ? radius + 3 : radius)) : radius,
      pointBorderWidth: s.ringed ? s.ringed.map((r) => (r ? 3 : 1)) : 1,
      pointHoverRadius: 6,
      tension: 0,
      ...(s.joined ? { showLine: true } : {}),
      _color: s.color,
      _dashed: !!s.dashed,
      _labels: s.pointLabels,
      _std: s.std,
    };
  }

  private applyTheme(): void {
    const t = this.theme;
    const o = this.chart.options;
    o.color = t.foreground;
    o.font = { family: t.fontFamily, size: t.fontSize };
    for (const axis of ['x', 'y'] as const) {
      const sc = o.scales?.[axis] as
        { grid?: object; border?: object; ticks: { color?: string }; title: { color?: string } } | undefined;
      if (!sc) continue;
      sc.grid = { color: t.grid };
      sc.border = { color: t.grid };
      sc.ticks.color = t.muted;
      sc.title.color = t.foreground;
    }
    if (o.plugins?.legend?.labels) o.plugins.legend.labels.color = t.foreground;
    (o.plugins as { ladderTheme?: Theme }).ladderTheme = t;
    for (const ds of this.chart.data.datasets as Dataset[]) {
      const c = t.colors[ds._color];
      ds.borderColor = c;
      ds.backgroundColor = c;
    }
  }

  private updateAttributes(): void {
    const datasets = this.chart.data.datasets;
    const points = datasets.reduce((n, d) => n + d.data.length, 0);
    this.canvas.dataset.points = String(points);
    this.canvas.dataset.series = String(datasets.length);
    this.canvas.setAttribute(
      'aria-label',
      `${this.options.yTitle} by ${this.options.xTitle}: ` +
        (datasets.length
          ? datasets.map((d) => `${d.label} (${d.data.length} points)`).join(', ')
          : this.options.emptyText),
    );
  }
}

export function formatMiB(mib: number): string {
  if (mib >= 1024) return `${(mib / 1024).toFixed(mib >= 10240 ? 0 : 1)} GiB`;
  if (mib >= 10) return `${Math.round(mib)} MiB`;
  return `${mib.toFixed(1)} MiB`;
}
