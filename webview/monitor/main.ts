// The run monitor webview: live loss per method, memory over time, progress with ETA, the phase, a Stop button.
// It holds no state the host cannot replay: on load it posts `ready` and rebuilds everything from the host's
// `state` message (the whole session's events), then folds in live `event` and `gpu` messages.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { EngineEvent } from '../../protocol/events';
import { MonitorMessages, type MonitorChannel, type MonitorSessionInfo } from '../../protocol/webviews/monitor';
import { formatMiB, methodColor, SeriesChart, type SeriesSpec } from '../shared/chart';
import { applyGpuSample, createModel, progress, type MonitorModel } from '../shared/series';
import { barFraction, etaText, phaseText, runText } from './progressText';
import { fold, modelOf } from './resume';
import { connect, el } from '../shared/vscodeApi';

const channel = connect<MonitorChannel>();

const STATE_LABELS: Record<MonitorSessionInfo['state'], string> = {
  starting: 'Starting',
  running: 'Running',
  stopping: 'Stopping…',
  finished: 'Finished',
  failed: 'Failed',
  stopped: 'Stopped',
  interrupted: 'Interrupted',
};

let session: MonitorSessionInfo | null = null;
let model: MonitorModel = createModel();

const root = document.getElementById('app')!;
const title = el('h1', { text: 'Run monitor' });
const badge = el('span', { className: 'badge', attrs: { id: 'session-state' } });
const stopButton = el('vscode-button', { text: 'Stop', attrs: { id: 'stop', secondary: '', disabled: '' } });
const resumeButton = el('vscode-button', { text: 'Resume', attrs: { id: 'resume', hidden: '' } });
// An engine error (out of memory above all) stays in view, with its hint, until another run starts.
const errorBanner = el('div', { className: 'error-banner', attrs: { id: 'error-banner', role: 'alert', hidden: '' } });
const sessionLine = el('p', { className: 'muted', attrs: { id: 'session-line' } });
const runLine = el('div', { className: 'run-line', attrs: { id: 'run-line' } });
const phaseLine = el('div', { className: 'phase', attrs: { id: 'phase' } });
const bar = el('progress', { attrs: { id: 'progress', max: '1', value: '0' } });
const etaLine = el('div', { className: 'muted', attrs: { id: 'eta' } });
const lossCanvas = el('canvas', { attrs: { id: 'loss-chart', role: 'img' } });
const memoryCanvas = el('canvas', { attrs: { id: 'memory-chart', role: 'img' } });
const memoryNote = el('p', { className: 'muted small', attrs: { id: 'memory-note' } });
const messages = el('ul', { className: 'messages', attrs: { id: 'messages' } });

root.append(
  el('header', { className: 'toolbar' }, [title, badge, el('span', { className: 'spacer' }), resumeButton, stopButton]),
  sessionLine,
  errorBanner,
  el('section', { className: 'progress-box' }, [runLine, phaseLine, bar, etaLine]),
  el('section', { className: 'charts' }, [
    el('figure', {}, [
      el('figcaption', { text: 'Training loss' }),
      el('div', { className: 'chart-box' }, [lossCanvas]),
    ]),
    el('figure', {}, [
      el('figcaption', { text: 'Memory' }),
      el('div', { className: 'chart-box' }, [memoryCanvas]),
      memoryNote,
    ]),
  ]),
  el('h2', { text: 'Messages' }),
  messages,
);

const lossChart = new SeriesChart(lossCanvas, {
  type: 'line',
  xTitle: 'step',
  yTitle: 'loss',
  integerX: true,
  emptyText: 'Loss appears with the first training step',
});
const memoryChart = new SeriesChart(memoryCanvas, {
  type: 'line',
  xTitle: 'seconds since start',
  yTitle: 'MiB',
  beginAtZero: true,
  yTick: (v) => formatMiB(v),
  emptyText: 'Memory appears with the first training step',
});

stopButton.addEventListener('click', () => {
  if (session && !stopButton.hasAttribute('disabled')) {
    channel.post({ type: MonitorMessages.stop, sessionId: session.id });
    stopButton.setAttribute('disabled', '');
  }
});

resumeButton.addEventListener('click', () => {
  const runId = session?.resumableRunId;
  if (runId && !resumeButton.hasAttribute('disabled')) {
    channel.post({ type: MonitorMessages.resume, runId });
    resumeButton.setAttribute('disabled', '');
  }
});

/** The last engine error of the shown session, if no run started after it. */
function lastError(events: readonly EngineEvent[]): Extract<EngineEvent, { type: 'error' }> | undefined {
  let found: Extract<EngineEvent, { type: 'error' }> | undefined;
  for (const e of events) {
    if (e.type === 'error') found = e;
    else if (e.type === 'run_started') found = undefined;
  }
  return found;
}

let shownEvents: EngineEvent[] = [];

function renderError(): void {
  const e = lastError(shownEvents);
  errorBanner.toggleAttribute('hidden', !e);
  if (!e) return;
  errorBanner.dataset.kind = e.kind;
  const head =
    e.kind === 'oom'
      ? `Out of memory${e.step !== undefined ? ` at step ${e.step}` : ''}`
      : e.kind === 'bad_input'
        ? 'Bad input'
        : 'Engine error';
  errorBanner.replaceChildren(
    el('strong', { text: `${head}: ` }),
    el('span', { className: 'error-message', text: e.message }),
    ...(e.hint ? [el('div', { className: 'error-hint', text: `Hint: ${e.hint}` })] : []),
  );
}

function renderSession(): void {
  const state = session?.state;
  badge.textContent = state ? STATE_LABELS[state] : 'No run yet';
  badge.dataset.state = state ?? 'none';
  const stoppable = (state === 'starting' || state === 'running') && !session?.fromDisk;
  stopButton.toggleAttribute('disabled', !stoppable);
  const resumable = !!session?.resumableRunId && !stoppable;
  resumeButton.toggleAttribute('hidden', !resumable);
  resumeButton.toggleAttribute('disabled', !resumable);
  sessionLine.textContent = session
    ? `${session.methods.join(' → ')} · ${session.experimentPath}${session.fromDisk ? ' · replayed from disk' : ''}`
    : 'Start a comparison from the Ladder Lab sidebar; its progress shows here.';
}

function renderProgress(): void {
  // Once the session stopped, failed, finished or was interrupted nothing is under way: no phase, no ETA.
  const live = !session || session.state === 'starting' || session.state === 'running';
  const p = progress(model, { live, stepS: session?.stepS });
  runLine.textContent = p.current ? runText(p) : session ? 'Waiting for the engine…' : '';
  phaseLine.textContent = phaseText(p, model.finished);
  phaseLine.dataset.phase = p.phase ?? '';
  const fraction = barFraction(p);
  bar.value = fraction;
  bar.dataset.fraction = fraction.toFixed(3);
  etaLine.textContent = etaText(p);
}

function renderCharts(): void {
  const loss: SeriesSpec[] = [...model.loss].map(([method, points]) => ({
    key: method,
    label: method,
    color: methodColor(method),
    points,
  }));
  lossChart.setSeries(loss);
  const memory: SeriesSpec[] = [...model.memory.values()].map((s) => ({
    key: s.key,
    label: s.label,
    color: methodColor(s.method),
    points: s.points,
    dashed: s.kind === 'reserved' || s.kind === 'gpu',
  }));
  memoryChart.setSeries(memory);
  const kinds = new Set([...model.memory.values()].map((s) => s.kind));
  memoryNote.textContent = kinds.has('saved')
    ? 'Off CUDA there is no allocator to ask: the line is the exact bytes of tensors saved for backward.'
    : kinds.has('allocated')
      ? 'CUDA memory allocated (solid) and reserved (dashed) by the training process.'
      : '';
}

function renderMessages(): void {
  messages.replaceChildren(
    ...model.messages.slice(-30).map((m) => el('li', { className: `msg-${m.level}`, text: m.text })),
  );
}

let scheduled = false;
function render(): void {
  // Coalesce bursts of events (a replay, a fast run) into one redraw per frame.
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    renderSession();
    renderError();
    renderProgress();
    renderCharts();
    renderMessages();
  });
}

channel.onMessage((msg) => {
  switch (msg.type) {
    case MonitorMessages.state:
      session = msg.session;
      shownEvents = [...msg.events];
      model = modelOf(msg.events, session?.methods ?? []);
      for (const sample of msg.gpu) applyGpuSample(model, sample);
      break;
    case MonitorMessages.event:
      if (!session || msg.sessionId !== session.id) return;
      fold(model, msg.event);
      shownEvents.push(msg.event);
      if (shownEvents.length > 20_000) shownEvents = shownEvents.slice(-10_000);
      break;
    case MonitorMessages.session:
      session = msg.session;
      break;
    case MonitorMessages.gpu:
      applyGpuSample(model, msg.sample);
      break;
    default:
      return;
  }
  render();
});

renderSession();
channel.post({ type: MonitorMessages.ready });
