// The text of `ladderlab estimate --json` for the user: the CodeLens title (each method's predicted training peak
// and the fits verdict), its tooltip, the hover's table (the breakdown per method) and the notification. Pure (no
// vscode) so it is unit-tested; the output is engine CLI output, so it is checked here before use, not trusted.
import { methodLabel, mib } from './format';

/** The roles of the estimate's breakdown, in the engine's order (memory_trace.ROLES less "buffer"), and their names. */
export const COMPONENTS = [
  ['param', 'parameters'],
  ['grad', 'gradients'],
  ['optimizer', 'optimizer states'],
  ['activation', 'saved activations'],
  ['transient', 'transient'],
] as const;
type Component = (typeof COMPONENTS)[number][0];

export interface Verdict {
  gpu_bytes: number;
  needed_bytes: number;
  fits: boolean;
}

export interface EstimateRow {
  method: string;
  peak_bytes: number;
  components: Record<Component, number>;
  verdict: Verdict | null;
}

export interface EstimateResult {
  backbone: string;
  device: string;
  batch_size: number;
  max_length: number;
  /** The batch's length: the longest tokenised training example, or max_length when the data could not be read. */
  length: number;
  length_from: 'data' | 'max_length';
  length_note?: string;
  train_examples?: number;
  precision: string;
  rows: EstimateRow[];
}

const isBytes = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function rowError(row: unknown): string | undefined {
  if (!isObject(row) || typeof row.method !== 'string' || !isBytes(row.peak_bytes))
    return 'an estimate row is malformed';
  const parts = row.components;
  if (!isObject(parts) || COMPONENTS.some(([key]) => !isBytes(parts[key])))
    return `the estimate of ${row.method} has no breakdown`;
  const v = row.verdict;
  const verdictOk =
    v === null || (isObject(v) && isBytes(v.gpu_bytes) && isBytes(v.needed_bytes) && typeof v.fits === 'boolean');
  return verdictOk ? undefined : `the verdict of ${row.method} is malformed`;
}

/** The estimate from the engine's stdout, or an error saying what was wrong with it. */
export function parseEstimate(stdout: string): EstimateResult | { error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    return { error: 'the engine printed no JSON estimate' };
  }
  if (!isObject(raw) || !Array.isArray(raw.rows) || typeof raw.device !== 'string')
    return { error: 'the estimate has no rows' };
  for (const key of ['batch_size', 'max_length', 'length'] as const)
    if (!isBytes(raw[key])) return { error: `the estimate has no ${key} (an engine older than this extension?)` };
  if (raw.length_from !== 'data' && raw.length_from !== 'max_length')
    return { error: 'the estimate does not say where its length comes from' };
  for (const row of raw.rows) {
    const error = rowError(row);
    if (error) return { error };
  }
  return raw as unknown as EstimateResult;
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(bytes < 10 * 2 ** 30 ? 1 : 0)} GiB`;
/** GiB from 1 GiB up, MiB below. */
export const size = (bytes: number) => (bytes >= 2 ** 30 ? gib(bytes) : mib(bytes));
/** A GPU size as typed: "8 GiB", "7.5 GiB". */
const gpuSize = (bytes: number) => `${Number((bytes / 2 ** 30).toFixed(2))} GiB`;

/** "fits 8 GiB" / "Full FT does not fit 8 GiB" / "none fits 8 GiB"; undefined without a GPU size. */
export function verdictText(result: EstimateResult): string | undefined {
  const judged = result.rows.filter((r) => r.verdict);
  if (judged.length === 0) return undefined;
  const gpu = gpuSize(judged[0].verdict!.gpu_bytes);
  const misfits = judged.filter((r) => !r.verdict!.fits).map((r) => methodLabel(r.method));
  if (misfits.length === 0) return `fits ${gpu}`;
  if (misfits.length === judged.length) return `${misfits.length > 1 ? 'none fits' : 'does not fit'} ${gpu}`;
  return `${misfits.join(', ')} ${misfits.length > 1 ? 'do' : 'does'} not fit ${gpu}`;
}

/** The batch the estimate assumed, and why: "batch 8 × 32 tokens (the longest of 1,000 training examples)". */
export function batchText(result: EstimateResult): string {
  const why =
    result.length_from === 'data'
      ? `the longest of ${result.train_examples?.toLocaleString('en-US') ?? 'the'} training examples; max_length ${result.max_length}`
      : `max_length: ${result.length_note ?? 'the data was not read'}`;
  return `batch ${result.batch_size} × ${result.length} tokens (${why})`;
}

/** The CodeLens: "Estimate: LST 1.2 GiB · LoRA 3.4 GiB — fits 8 GiB"; `stale` when the file changed since. */
export function estimateLensTitle(result: EstimateResult, stale = false): string {
  const peaks = result.rows.map((r) => `${methodLabel(r.method)} ${size(r.peak_bytes)}`).join(' · ');
  const verdict = verdictText(result);
  const assumed = result.length_from === 'max_length' ? ' (at max_length)' : '';
  return `Estimate${assumed}: ${peaks}${verdict ? ` — ${verdict}` : ''}${stale ? ' · file changed: re-estimate' : ''}`;
}

/** The notification and the log line: what the lens says, with the batch and device it is for. */
export function estimateSummary(result: EstimateResult): string {
  return `${estimateLensTitle(result)}. Training peak on ${result.device}, ${result.precision}, ${batchText(result)}.`;
}

function rowVerdict(v: Verdict | null): string {
  if (!v) return '—';
  return v.fits
    ? `fits ${gpuSize(v.gpu_bytes)}`
    : `does not fit ${gpuSize(v.gpu_bytes)} (needs ${gib(v.needed_bytes)})`;
}

/** The lens's tooltip (plain text): the breakdown, one line per method. */
export function estimateTooltip(result: EstimateResult): string {
  const lines = result.rows.map(
    (r) =>
      `${methodLabel(r.method)}: ${size(r.peak_bytes)} = ` +
      COMPONENTS.map(([key, name]) => `${name} ${size(r.components[key])}`).join(' + ') +
      (r.verdict ? ` — ${rowVerdict(r.verdict)}` : ''),
  );
  return [...lines, `${result.device}, ${result.precision}, ${batchText(result)}`, 'Click to estimate again.'].join(
    '\n',
  );
}

export interface HoverContext {
  /** The GPU size the verdict used, as the user set it (GiB); null: this machine's GPU. */
  gpuGiB: number | null;
  /** When the estimate was made (ms since the epoch) and whether the file changed since. */
  at: number;
  stale: boolean;
  /** A command link that asks for a GPU size and estimates again (markdown link target). */
  changeGpuLink?: string;
}

/** The hover: a table per method (breakdown, total, verdict), the batch it assumed and for which GPU. */
export function estimateHoverMarkdown(result: EstimateResult, ctx: HoverContext): string {
  const head = ['method', ...COMPONENTS.map(([, name]) => name), 'total', 'verdict'];
  const rows = result.rows.map((r) =>
    [
      methodLabel(r.method),
      ...COMPONENTS.map(([key]) => size(r.components[key])),
      `**${size(r.peak_bytes)}**`,
      rowVerdict(r.verdict),
    ].join(' | '),
  );
  const gpu =
    ctx.gpuGiB !== null
      ? `Verdict for a GPU of ${ctx.gpuGiB} GiB (your setting)`
      : result.rows.some((r) => r.verdict)
        ? "Verdict for this machine's GPU"
        : 'No verdict: no GPU here and no GPU size set';
  const slack = ', counting +10% allocator slack and, on a GPU, 512 MiB of CUDA context';
  const lines = [
    `**Memory estimate** — training peak per method on ${result.device}, ${result.precision}, ${result.backbone}`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r} |`),
    '',
    result.length_from === 'data'
      ? `For ${batchText(result)}.`
      : `**Assumes max_length** (${result.length} tokens, batch ${result.batch_size}): ${result.length_note ?? 'the data was not read'}.`,
    '',
    `${gpu}${result.rows.some((r) => r.verdict) ? slack : ''}.${ctx.changeGpuLink ? ` [Set the GPU size…](${ctx.changeGpuLink})` : ''}`,
    '',
    `Estimated ${new Date(ctx.at).toLocaleString()}${ctx.stale ? ' — **the file changed since**: click the Estimate lens to update' : ''}.`,
  ];
  return lines.join('\n');
}

/** The GPU size the user typed (GiB): a number in (0, 10000), or empty for this machine's GPU. */
export function parseGpuGiB(text: string): number | null | { error: string } {
  const t = text.trim();
  if (t === '') return null;
  const n = Number(t.replace(/\s*gi?b$/i, ''));
  if (!Number.isFinite(n) || n <= 0 || n >= 10_000)
    return { error: 'a GPU memory size in GiB, e.g. 8 or 24 (leave empty for this machine’s GPU)' };
  return n;
}
