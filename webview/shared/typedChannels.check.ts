// The webview side's compile-fail fixture (the host side's is test/unit/typed-channels.test.ts): type-checked by
// `npm run typecheck:webview` (webview/tsconfig.json includes this folder) and bundled into no app. Each
// `@ts-expect-error` line fails that check with "Unused '@ts-expect-error' directive" once it compiles, i.e. once a
// page could post another webview's message (or a host -> webview one), or read another webview's messages.
import {
  MonitorMessages,
  type MonitorChannel,
  type MonitorFromWebview,
  type MonitorToWebview,
} from '../../protocol/webviews/monitor';
import type { ResultsChannel, ResultsFromWebview } from '../../protocol/webviews/results';
import type { TryFromWebview } from '../../protocol/webviews/try';
import type { WebviewEnd } from './vscodeApi';

/** Never called. The messages are typed variables, not literals, so only the channel's types can refuse them. */
export function wrongMessagesDoNotCompile(
  monitor: WebviewEnd<MonitorChannel>,
  results: WebviewEnd<ResultsChannel>,
  wrong: {
    selectLatest: ResultsFromWebview;
    predict: TryFromWebview;
    stop: MonitorFromWebview;
    state: MonitorToWebview;
  },
): void {
  monitor.post({ type: MonitorMessages.ready }); // the monitor page's own message: fine
  // @ts-expect-error a results message cannot go through the monitor's channel
  monitor.post(wrong.selectLatest);
  // @ts-expect-error a Try Model message neither
  monitor.post(wrong.predict);
  // @ts-expect-error a page does not post host -> webview messages
  monitor.post(wrong.state);
  // @ts-expect-error the results page cannot post the monitor's Stop
  results.post(wrong.stop);
  // @ts-expect-error the right type with another payload does not fit either
  monitor.post({ type: MonitorMessages.stop, runId: 'r' });
  // @ts-expect-error the results page hears results messages: a listener for the monitor's does not fit
  results.onMessage((message: MonitorToWebview) => void message);
}
