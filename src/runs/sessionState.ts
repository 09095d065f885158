// How a session ended, from its engine's exit and what the engine said. Pure (no vscode): unit-tested.
import type { EngineEvent } from '../../protocol/events';
import * as path from 'node:path';
import type { WorkerExit } from '../engine/worker';
import type { SessionFile } from './sessionFiles';
import type { Session } from './types';

/** What a session runs, as messages name it ("a comparison is already running"). */
export function sessionNoun(kind: SessionFile['kind']): string {
  return { compare: 'comparison', resume: 'resumed run', sweep: 'sweep' }[kind];
}

/** The state of a session whose engine has exited. */
export function finalState(
  kind: SessionFile['kind'],
  stopRequested: boolean,
  exit: WorkerExit,
  events: readonly EngineEvent[],
  methods: readonly string[] = [],
): Session['state'] {
  if (exit.spawnError) return 'failed';
  if (stopRequested || exit.code === 130) return 'stopped';
  if (exit.code === 0) return 'finished';
  if (exit.code !== null) return 'failed';
  // Killed by a signal, or attached after a reload (no exit code): what the engine said decides.
  const markers = events.filter(
    (e) => e.type === 'run_started' || e.type === 'run_stopped' || e.type === 'run_finished',
  );
  // Stopped (e.g. from another window) after an earlier method's failure is still a stop: the last word counts.
  if (markers[markers.length - 1]?.type === 'run_stopped') return 'stopped';
  if (events.some((e) => e.type === 'error')) return 'failed';
  // A sweep is done when it said so (a failed trial is reported by the exit code, lost here).
  if (kind === 'sweep') return events.some((e) => e.type === 'sweep_finished') ? 'finished' : 'interrupted';
  // A comparison of one method emits no compare_finished: then every method's run_finished says it is done.
  const finished = new Set(events.flatMap((e) => (e.type === 'run_finished' ? [e.summary.method] : [])));
  const done =
    kind === 'compare'
      ? events.some((e) => e.type === 'compare_finished') ||
        (methods.length > 0 && methods.every((m) => finished.has(m)))
      : finished.size > 0;
  return done ? 'finished' : 'interrupted';
}

/** A stopped or interrupted session's run that began and did not finish: what the Resume button continues. */
export function resumableRunOf(s: Pick<Session, 'state' | 'events'>): string | undefined {
  if (s.state !== 'stopped' && s.state !== 'interrupted') return undefined;
  let last: string | undefined;
  for (const e of s.events) {
    if (e.type === 'run_started') last = e.run_id;
    else if ((e.type === 'run_finished' || e.type === 'error') && e.run_id === last) last = undefined;
  }
  return last;
}

/** Whether a session's engine is still at work (not yet exited). */
export function isActive(s: Pick<Session, 'state'>): boolean {
  return s.state === 'starting' || s.state === 'running' || s.state === 'stopping';
}

/** The engine session of a sweep (the latest, if it was resumed): the one whose sweep folder has this id. */
export function sessionOfSweep(sessions: readonly Session[], sweepId: string): Session | undefined {
  return [...sessions].reverse().find((s) => s.sweepDir !== undefined && path.basename(s.sweepDir) === sweepId);
}
