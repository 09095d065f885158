// The host end of a webview's typed channel (src/panels/webviewChannel.ts, under every panel and the sidebar view):
// the ready handshake, untrusted messages parsed before any handler sees them, posts held back until the webview is
// ready. And the compile-fail fixture of the host side: `npm run typecheck` (tsc over test/) fails with "Unused
// '@ts-expect-error' directive" if any line below marked so ever compiles, i.e. if a message of another webview, or
// of the wrong direction, could be posted or handled. The webview side's fixture is webview/shared/typedChannels.check.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as vscode from 'vscode';
import type { RequestMessage } from '../../protocol/webviews/common';
import {
  MonitorMessages,
  parseMonitorMessage,
  type MonitorChannel,
  type MonitorFromWebview,
  type MonitorToWebview,
} from '../../protocol/webviews/monitor';
import {
  parseResultsMessage,
  ResultsMessages,
  type ResultsChannel,
  type ResultsFromWebview,
  type ResultsToWebview,
} from '../../protocol/webviews/results';
import type { TryChannel, TryToWebview } from '../../protocol/webviews/try';
import { WebviewChannel, type ChannelHandlers } from '../../src/panels/webviewChannel';

/** Stands in for VS Code's webview (the integration suite runs the real one): records posts, delivers messages. */
class RecordingWebview {
  public readonly posted: unknown[] = [];
  public listener: ((raw: unknown) => void) | undefined;
  postMessage(message: unknown): Thenable<boolean> {
    this.posted.push(message);
    return Promise.resolve(true);
  }
  onDidReceiveMessage(listener: (raw: unknown) => void): vscode.Disposable {
    this.listener = listener;
    return { dispose: () => (this.listener = undefined) };
  }
  send(raw: unknown): void {
    this.listener?.(raw);
  }
}

function monitorChannel() {
  const webview = new RecordingWebview();
  const seen: string[] = [];
  const channel = new WebviewChannel<MonitorChannel>(parseMonitorMessage, {
    onReady: () => void seen.push('ready'),
    onRequest: (message) => void seen.push(message.type),
  });
  channel.attach(webview as unknown as vscode.Webview);
  return { webview, seen, channel };
}

const gpu: MonitorToWebview = { type: MonitorMessages.gpu, sample: { t: 1, gpus: [] } };

test('channel: nothing is posted before the webview says ready; ready calls the ready handler, then posts go through', () => {
  const { webview, seen, channel } = monitorChannel();
  assert.equal(channel.post(gpu), false);
  assert.deepEqual(webview.posted, []);
  webview.send({ type: MonitorMessages.ready });
  assert.deepEqual(seen, ['ready']);
  assert.equal(channel.ready, true);
  assert.equal(channel.post(gpu), true);
  assert.deepEqual(webview.posted, [gpu]);
});

test('channel: a hidden webview is not ready until it says ready again', () => {
  const { webview, seen, channel } = monitorChannel();
  webview.send({ type: MonitorMessages.ready });
  channel.hidden();
  assert.equal(channel.post(gpu), false);
  webview.send({ type: MonitorMessages.ready });
  assert.equal(channel.post(gpu), true);
  assert.deepEqual(seen, ['ready', 'ready']);
  assert.equal(webview.posted.length, 1);
});

test("channel: only messages that pass the webview's validator reach the handler, as the validator's fresh copy", () => {
  const webview = new RecordingWebview();
  const seen: RequestMessage<MonitorChannel>[] = [];
  const channel = new WebviewChannel<MonitorChannel>(parseMonitorMessage, {
    onReady: () => {},
    onRequest: (m) => void seen.push(m),
  });
  channel.attach(webview as unknown as vscode.Webview);
  for (const bad of [
    { type: ResultsMessages.ready }, // another webview's ready
    { type: ResultsMessages.exportCsv },
    { type: MonitorMessages.stop, sessionId: '../x' },
    { type: MonitorMessages.state, session: null, events: [], gpu: [] }, // host -> webview only
    'monitor/ready',
    null,
    [],
    { type: 'monitor/unknown' },
  ])
    webview.send(bad);
  assert.equal(channel.ready, false, 'no ready came through');
  assert.deepEqual(seen, []);
  const stop = { type: MonitorMessages.stop, sessionId: 's-1', extra: 'dropped' };
  webview.send(stop);
  assert.deepEqual(seen, [{ type: MonitorMessages.stop, sessionId: 's-1' }]);
  assert.notEqual(seen[0], stop);
});

test('channel: receive() returns what the handler returns (panels await their async handlers through it)', async () => {
  let done = false;
  const channel = new WebviewChannel<ResultsChannel>(parseResultsMessage, {
    onReady: async () => {
      await new Promise((r) => setTimeout(r, 5));
      done = true;
    },
    onRequest: () => {},
  });
  await channel.receive({ type: ResultsMessages.ready });
  assert.equal(done, true);
});

test('channel: a new webview (the view resolved again) starts not ready; the old one is no longer heard; dispose stops all', () => {
  const { webview, seen, channel } = monitorChannel();
  webview.send({ type: MonitorMessages.ready });
  const next = new RecordingWebview();
  channel.attach(next as unknown as vscode.Webview);
  assert.equal(channel.ready, false);
  assert.equal(webview.listener, undefined);
  next.send({ type: MonitorMessages.ready });
  assert.equal(channel.post(gpu), true);
  assert.deepEqual(next.posted, [gpu]);
  channel.dispose();
  assert.equal(next.listener, undefined);
  assert.equal(channel.post(gpu), false);
  assert.deepEqual(seen, ['ready', 'ready']);
});

/** Never called: what the type checker must refuse. Each `@ts-expect-error` line fails `npm run typecheck` once it
 * compiles. The messages are typed variables, not literals, so that only the channel's types (not excess-property
 * checks) can refuse them. */
export function wrongMessagesDoNotCompile(
  monitor: WebviewChannel<MonitorChannel>,
  handlers: ChannelHandlers<MonitorChannel>,
  wrong: {
    results: ResultsToWebview;
    tryResult: TryToWebview;
    stop: MonitorFromWebview;
    exportCsv: ResultsFromWebview;
  },
): void {
  monitor.post(gpu); // the monitor's own message: fine
  // @ts-expect-error a results message cannot go through the monitor's channel
  monitor.post(wrong.results);
  // @ts-expect-error a Try Model message neither
  monitor.post(wrong.tryResult);
  // @ts-expect-error a webview -> host message is not posted to the webview
  monitor.post(wrong.stop);
  // @ts-expect-error the right type with another payload does not fit either
  monitor.post({ type: MonitorMessages.gpu, state: {} });
  // @ts-expect-error the monitor's request handler takes no results request
  void handlers.onRequest(wrong.exportCsv);
  // @ts-expect-error ready is the handshake, never a request
  void handlers.onRequest({ type: MonitorMessages.ready });
  // @ts-expect-error the results validator cannot feed the monitor's channel
  void new WebviewChannel<MonitorChannel>(parseResultsMessage, handlers);
  // @ts-expect-error nor the monitor's validator a Try Model channel
  void new WebviewChannel<TryChannel>(parseMonitorMessage, { onReady: () => {}, onRequest: () => {} });
}
