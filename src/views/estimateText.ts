// The text of `ladderlab estimate --json` for the user: one line per method with its predicted training peak and
// the fits verdict. Pure (no vscode) so it is unit-tested; the output is engine CLI output, so it is checked here
// before use instead of trusted.
import { methodLabel, mib } from './format';

export interface EstimateRow {
  method: string;
  peak_bytes: number;
  verdict: { gpu_bytes: number; needed_bytes: number; fits: boolean } | null;
}

export interface EstimateResult {
  device: string;
  batch_size: number;
  max_length: number;
  precision: string;
  rows: EstimateRow[];
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** The estimate from the engine's stdout, or an error saying what was wrong with it. */
export function parseEstimate(stdout: string): EstimateResult | { error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    return { error: 'the engine printed no JSON estimate' };
  }
  const r = raw as Partial<EstimateResult>;
  if (!r || typeof r !== 'object' || !Array.isArray(r.rows) || typeof r.device !== 'string')
    return { error: 'the estimate has no rows' };
  for (const row of r.rows) {
    const v = row?.verdict;
    const verdictOk =
      v === null ||
      (typeof v === 'object' && isNumber(v.gpu_bytes) && isNumber(v.needed_bytes) && typeof v.fits === 'boolean');
    if (typeof row?.method !== 'string' || !isNumber(row.peak_bytes) || !verdictOk)
      return { error: 'an estimate row is malformed' };
  }
  return r as EstimateResult;
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(bytes < 10 * 2 ** 30 ? 1 : 0)} GiB`;

/** "LST 1.2 GiB (fits) · LoRA 9.4 GiB (fits) · Full FT 15 GiB (does not fit 12 GiB)" */
export function estimateSummary(result: EstimateResult): string {
  const parts = result.rows.map((row) => {
    const size = row.peak_bytes >= 2 ** 30 ? gib(row.peak_bytes) : mib(row.peak_bytes);
    const v = row.verdict;
    return `${methodLabel(row.method)} ${size}${v ? (v.fits ? ' (fits)' : ` (does not fit ${gib(v.gpu_bytes)})`) : ''}`;
  });
  return `Training peak on ${result.device}, batch ${result.batch_size} × ${result.max_length} tokens, ${result.precision}: ${parts.join(' · ')}`;
}
