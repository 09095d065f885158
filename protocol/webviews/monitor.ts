// The run monitor panel's messages.
import type { EngineEvent } from '../events';
import { isSafeId, own, typeOf, type Channel, type GpuSample, type Obj } from './common';

export const MonitorMessages = {
  // webview -> host
  ready: 'monitor/ready',
  stop: 'monitor/stop',
  resume: 'monitor/resume', // { runId }: continue an interrupted run from its checkpoint
  // host -> webview
  state: 'monitor/state', // the whole session so far: sent on ready and when a new session starts
  event: 'monitor/event', // one live engine event of the shown session
  session: 'monitor/session', // the shown session's state changed (running -> stopping -> stopped ...)
  gpu: 'monitor/gpu', // one nvidia-smi sample
} as const;

export interface MonitorSessionInfo {
  id: string;
  state: 'starting' | 'running' | 'stopping' | 'finished' | 'failed' | 'stopped' | 'interrupted';
  methods: string[];
  experimentPath: string;
  /** Read back from the run folders (no live session, e.g. after a window reload): nothing to stop. */
  fromDisk?: boolean;
  /** A run of this session that stopped before its end and can be continued (the monitor's Resume button). */
  resumableRunId?: string;
  /** Seconds per step of the session's methods in their last run of this experiment: the ETA of those not run yet. */
  stepS?: Record<string, number>;
}

export type MonitorToWebview =
  | { type: typeof MonitorMessages.state; session: MonitorSessionInfo | null; events: EngineEvent[]; gpu: GpuSample[] }
  | { type: typeof MonitorMessages.event; sessionId: string; event: EngineEvent }
  | { type: typeof MonitorMessages.session; session: MonitorSessionInfo }
  | { type: typeof MonitorMessages.gpu; sample: GpuSample };
export type MonitorFromWebview =
  | { type: typeof MonitorMessages.ready }
  | { type: typeof MonitorMessages.stop; sessionId: string }
  | { type: typeof MonitorMessages.resume; runId: string };
export type MonitorChannel = Channel<MonitorToWebview, MonitorFromWebview>;

export function parseMonitorMessage(raw: unknown): MonitorFromWebview | undefined {
  const type = typeOf(raw, 'monitor/');
  switch (type) {
    case MonitorMessages.ready:
      return { type };
    case MonitorMessages.stop: {
      const sessionId = own(raw as Obj, 'sessionId');
      return isSafeId(sessionId) ? { type, sessionId } : undefined;
    }
    case MonitorMessages.resume: {
      const runId = own(raw as Obj, 'runId');
      return isSafeId(runId) ? { type, runId } : undefined;
    }
    default:
      return undefined;
  }
}
