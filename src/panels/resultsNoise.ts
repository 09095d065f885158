// How far apart two runs' test accuracies must be before the test set can tell them apart. Pure: unit-tested.
// A test accuracy p on n examples is a binomial proportion: its standard error is sqrt(p(1-p)/n); two independent
// runs' difference has the standard error sqrt(se1² + se2²). Within 2 of those the difference is noise
// (about a 95 % band), which is what a researcher reading "LST r=4 85.0 vs r=8 85.5" needs to be told.
import type { ResultRow } from '../../protocol/webviews/results';

/** How many standard errors of the difference count as "cannot tell apart". */
export const NOISE_SE = 2;

/** The binomial standard error of an accuracy (in points, 0–100) measured on n examples, in points. */
export function binomialSe(accuracyPct: number | null | undefined, n: number | null | undefined): number | null {
  if (accuracyPct === null || accuracyPct === undefined || !Number.isFinite(accuracyPct)) return null;
  if (!n || n <= 0) return null;
  const p = Math.min(1, Math.max(0, accuracyPct / 100));
  return Math.sqrt((p * (1 - p)) / n) * 100;
}

/** One warning per pair of runs whose test accuracies differ by less than NOISE_SE standard errors. */
export function noiseNotes(rows: readonly ResultRow[]): string[] {
  const notes: string[] = [];
  const measured = rows.filter((r) => r.accuracySe !== null && r.metrics.accuracy != null);
  for (let i = 0; i < measured.length; i++) {
    for (let j = i + 1; j < measured.length; j++) {
      const a = measured[i];
      const b = measured[j];
      const diff = Math.abs(a.metrics.accuracy! - b.metrics.accuracy!);
      const se = Math.hypot(a.accuracySe!, b.accuracySe!);
      if (diff < NOISE_SE * se)
        notes.push(
          `${a.label} vs ${b.label}: accuracies ${diff.toFixed(2)} points apart, within ${NOISE_SE} standard errors ` +
            `(±${(NOISE_SE * se).toFixed(2)}) on ${sizes(a, b)} test examples: this test set cannot tell them apart.`,
        );
    }
  }
  return notes;
}

function sizes(a: ResultRow, b: ResultRow): string {
  return a.testExamples === b.testExamples ? `${a.testExamples}` : `${a.testExamples} / ${b.testExamples}`;
}
