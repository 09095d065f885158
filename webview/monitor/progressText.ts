// What the monitor's progress box says: the run line, the phase line, the bar and the ETA line, from `progress()`.
// Pure (no DOM), so unit tests check the words on real engine event streams.
import { formatDuration, PHASE_LABELS, type InitState, type Progress, type RunInfo } from '../shared/series';

const RUN_STATUS: Record<RunInfo['status'], string> = {
  running: '',
  finished: ' · finished',
  failed: ' · failed',
  stopped: ' · stopped',
};

/** "Run 2 of 3: lora on cpu · step 40 / 75", plus how it ended and where its side network came from. */
export function runText(p: Progress): string {
  const r = p.current;
  if (!r) return '';
  const from = initNote(r.init);
  return (
    `Run ${p.runIndex + 1} of ${p.runCount}: ${r.method} on ${r.device} · step ${r.step} / ${r.totalSteps}` +
    (from ? ` · ${from}` : '') +
    RUN_STATUS[r.status]
  );
}

function initNote(init: InitState | null): string {
  if (init?.source === 'cache') return 'side network from cache';
  if (init?.source === 'checkpoint') return 'side network restored from its checkpoint (no init)';
  return '';
}

/** The phase; during LST's Fisher pass its own progress and ETA (never the training's). */
export function phaseText(p: Progress, finished: boolean): string {
  if (!p.phase) return finished ? 'Done' : '';
  const init = p.phase === 'pruning_init' || p.phase === 'distillation_init' ? p.init : null;
  if (init?.source === 'scores' && init.init !== 'magnitude' && init.total !== null) {
    const eta = init.etaS !== null && init.done! < init.total ? ` · ETA ${formatDuration(init.etaS)}` : '';
    const how = init.init === 'distillation' ? 'distillation' : 'Fisher scores';
    return `Initialising the side network (${how}): ${init.done}/${init.total} examples${eta}`;
  }
  if (init?.source === 'scores') return 'Initialising the side network (weight magnitudes)';
  if (init?.source === 'cache')
    return `Side network from cache (no ${init.init === 'distillation' ? 'distillation' : 'pruning'} to do)`;
  return PHASE_LABELS[p.phase];
}

/** The bar: the Fisher pass's own fraction while it runs (so it moves), else the whole session's. */
export function barFraction(p: Progress): number {
  return p.initFraction ?? p.fraction;
}

export function etaText(p: Progress): string {
  if (p.runEtaS === null) return '';
  const evaluation = p.evalIncluded ? '' : ' + evaluation';
  return (
    `ETA this run ${formatDuration(p.runEtaS)}${evaluation}` +
    (p.runCount > p.runIndex + 1 && p.sessionEtaS !== null
      ? ` · whole comparison ≈ ${formatDuration(p.sessionEtaS)}${evaluation}`
      : '')
  );
}
