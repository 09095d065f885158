// Device-wide GPU memory, as nvidia-smi reports it, sampled every 2 s while a session starts or runs. This is
// what the whole GPU holds (other processes included), next to the engine's own per-process CUDA figures.
// A machine without nvidia-smi is the common case (CPU, macOS): the first failed spawn stops polling for good.
// No runtime vscode import: unit tests drive it with a fake run manager and a fake spawn.
import { execFile } from 'node:child_process';
import type * as vscode from 'vscode';
import type { GpuSample } from '../../protocol/webviews/common';
import type { RunManagerApi } from '../runs/types';

export const NVIDIA_SMI_ARGS = ['--query-gpu=memory.used,memory.total', '--format=csv,noheader,nounits'];
const MAX_SAMPLES = 3600; // two hours at one sample every 2 s

/** `1234, 81559` per GPU (MiB, as `nounits` prints them) -> one sample; undefined when nothing parses. */
export function parseNvidiaSmi(stdout: string, t: number): GpuSample | undefined {
  const gpus: GpuSample['gpus'] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const parts = line.split(',').map((s) => s.trim());
    if (parts.length < 2) continue;
    const used = Number(parts[0]);
    const total = Number(parts[1]);
    if (parts[0] === '' || parts[1] === '' || !Number.isFinite(used) || !Number.isFinite(total) || used < 0 || total <= 0) continue;
    gpus.push({ index: gpus.length, usedMiB: used, totalMiB: total });
  }
  return gpus.length ? { t, gpus } : undefined;
}

export type Exec = (
  file: string,
  args: string[],
  callback: (error: (Error & { code?: string | number | null }) | null, stdout: string) => void,
) => void;

const defaultExec: Exec = (file, args, callback) => {
  execFile(file, args, { timeout: 5000, windowsHide: true, encoding: 'utf8' }, (error, stdout) => callback(error, stdout));
};

type Listener<T> = (e: T) => unknown;

export class GpuMonitor implements vscode.Disposable {
  private readonly listeners = new Set<Listener<GpuSample>>();
  private readonly subscriptions: { dispose(): unknown }[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private inFlight = false;
  private absent = false;
  private sessionId: string | undefined;
  private buffer: GpuSample[] = [];

  constructor(
    private readonly runManager: Pick<RunManagerApi, 'onDidChangeSessions' | 'activeSession'>,
    private readonly options: { intervalMs?: number; command?: string; exec?: Exec; now?: () => number } = {},
  ) {
    this.subscriptions.push(runManager.onDidChangeSessions(() => this.update()));
    this.update();
  }

  /** Fires once per successful sample. */
  readonly onDidSample: vscode.Event<GpuSample> = (listener, thisArgs, disposables) => {
    const bound: Listener<GpuSample> = thisArgs ? listener.bind(thisArgs) : listener;
    this.listeners.add(bound);
    const d = { dispose: () => this.listeners.delete(bound) };
    if (Array.isArray(disposables)) disposables.push(d);
    return d;
  };

  /** The samples taken during the active (or last) session, oldest first. */
  samples(): GpuSample[] {
    return [...this.buffer];
  }

  /** False once nvidia-smi turned out not to be there. */
  get available(): boolean {
    return !this.absent;
  }

  get polling(): boolean {
    return this.timer !== undefined;
  }

  private update(): void {
    const s = this.runManager.activeSession();
    const live = s !== undefined && (s.state === 'starting' || s.state === 'running');
    if (live && s.id !== this.sessionId) {
      this.sessionId = s.id;
      this.buffer = [];
    }
    if (live && !this.absent) this.start();
    else this.stop();
  }

  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.poll(), this.options.intervalMs ?? 2000);
    this.timer.unref?.(); // never keep a process alive just to watch the GPU
    this.poll();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private poll(): void {
    if (this.inFlight || this.absent) return;
    this.inFlight = true;
    const exec = this.options.exec ?? defaultExec;
    exec(this.options.command ?? 'nvidia-smi', NVIDIA_SMI_ARGS, (error, stdout) => {
      this.inFlight = false;
      if (error) {
        // No binary (ENOENT/EACCES) or no driver (non-zero exit): GPUs cannot be watched here. Stay silent.
        if (error.code === 'ENOENT' || error.code === 'EACCES' || typeof error.code === 'number') {
          this.absent = true;
          this.stop();
        }
        return;
      }
      const sample = parseNvidiaSmi(stdout, (this.options.now ?? Date.now)() / 1000);
      if (!sample) return;
      this.buffer.push(sample);
      if (this.buffer.length > MAX_SAMPLES) this.buffer.splice(0, this.buffer.length - MAX_SAMPLES);
      for (const l of [...this.listeners]) l(sample);
    });
  }

  dispose(): void {
    this.stop();
    this.listeners.clear();
    for (const s of this.subscriptions) s.dispose();
  }
}
