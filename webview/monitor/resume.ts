// The run monitor's model, aware of resumed runs (no DOM here: unit-tested under node).
import type { EngineEvent } from '../../protocol/events';
import { applyEvent, createModel, type MonitorModel } from '../shared/series';

/**
 * applyEvent, plus resumes: a resumed run's second run_started continues the run already charted (same line, same
 * progress entry) from its checkpoint step, and the steps after that checkpoint, which the engine redoes, are dropped
 * from the loss line so it does not fold back. Its memory lines get a gap (a NaN point, which chart.js does not
 * join across): the pause between the stop and the resume measured nothing.
 */
export function fold(m: MonitorModel, e: EngineEvent): void {
  if (e.type === 'run_started' && e.resumed) {
    const known = m.runs.find((r) => r.runId === e.run_id);
    if (known) {
      const from = e.resumed.step;
      Object.assign(known, {
        status: 'running',
        step: from,
        totalSteps: e.total_steps,
        error: null,
        lastStepTs: null,
        evalStartTs: null,
        phase: null, // what it does next comes with its next events, not what it did before the stop
      });
      const loss = m.loss.get(known.method);
      if (loss) loss.splice(0, loss.length, ...loss.filter((p) => p.x <= from));
      for (const line of m.memory.values())
        if (line.method === known.method && line.points.length) line.points.push({ x: e.ts - m.startTs!, y: NaN });
      m.finished = false;
      return;
    }
  }
  applyEvent(m, e);
}

export function modelOf(events: readonly EngineEvent[], methods: string[]): MonitorModel {
  const m = createModel(methods);
  for (const e of events) fold(m, e);
  return m;
}
