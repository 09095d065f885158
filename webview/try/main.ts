// The Try-model webview: one or two text boxes, a Predict button, and the prediction with its class probabilities
// (or the regression score) and latency, from onnxruntime-node in the extension host. Export and measure buttons
// drive the host; everything shown comes from the host's state and result messages. A causal-LM run (engine mode)
// shows a prompt box instead, and the text the engine generated with its tokens per second.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import {
  ENGINE_GENERATION_NOTE,
  MAX_NEW_TOKENS,
  TryMessages,
  type GenerateResult,
  type InferenceFigures,
  type TryChannel,
  type TryResult,
  type TryState,
} from '../../protocol/webviews/try';
import { connect, el, saveState } from '../shared/vscodeApi';

const channel = connect<TryChannel>();

type TextArea = HTMLElement & { value: string };
const MIB = 1024 * 1024;

const root = document.getElementById('app')!;
const title = el('h1', { text: 'Try Model', attrs: { id: 'title' } });
const status = el('p', { className: 'muted', attrs: { id: 'status' } });
const errorBox = el('div', { className: 'error-banner', attrs: { id: 'error', role: 'alert', hidden: '' } });
const exportButton = el('vscode-button', { text: 'Export to ONNX', attrs: { id: 'export', hidden: '' } });
const reloadButton = el('vscode-button', { text: 'Reload', attrs: { id: 'reload', secondary: '' } });
const measureButton = el('vscode-button', {
  text: 'Measure latency & memory',
  attrs: { id: 'measure', secondary: '', hidden: '' },
});
const textA = el('vscode-textarea', {
  attrs: { id: 'text-a', rows: '4', placeholder: 'Type or paste a text…', 'aria-label': 'text' },
}) as unknown as TextArea;
const textB = el('vscode-textarea', {
  attrs: { id: 'text-b', rows: '3', placeholder: 'Second text (pair task)…', 'aria-label': 'second text', hidden: '' },
}) as unknown as TextArea;
const predictButton = el('vscode-button', { text: 'Predict', attrs: { id: 'predict', disabled: '' } });
const prediction = el('h2', { attrs: { id: 'prediction' } });
const probabilities = el('table', { className: 'results', attrs: { id: 'probabilities' } });
const latency = el('p', { className: 'muted small', attrs: { id: 'latency' } });
const inference = el('p', { className: 'muted small', attrs: { id: 'inference' } });
const form = el('section', { attrs: { id: 'form', hidden: '' } }, [
  textA,
  textB,
  el('div', { className: 'toolbar' }, [predictButton]),
]);

// Engine mode (causal-LM runs): a prompt, the generated text and how fast it came.
const promptBox = el('vscode-textarea', {
  attrs: { id: 'prompt', rows: '4', placeholder: 'Type a prompt…', 'aria-label': 'prompt' },
}) as unknown as TextArea;
const generateButton = el('vscode-button', { text: 'Generate', attrs: { id: 'generate', disabled: '' } });
const maxNewTokensBox = el('vscode-textfield', {
  attrs: { id: 'max-new-tokens', type: 'number', min: '1', max: String(MAX_NEW_TOKENS), value: '128' },
}) as unknown as TextArea;
const generatedText = el('pre', { className: 'generated', attrs: { id: 'generated-text' } });
const generatedFigures = el('p', { className: 'muted small', attrs: { id: 'generated-figures' } });
const engineNote = el('p', { className: 'muted small', attrs: { id: 'engine-note' }, text: ENGINE_GENERATION_NOTE });
const promptForm = el('section', { attrs: { id: 'prompt-form', hidden: '' } }, [
  promptBox,
  el('div', { className: 'toolbar' }, [
    generateButton,
    el('label', { text: 'Max new tokens', attrs: { for: 'max-new-tokens' } }),
    maxNewTokensBox,
  ]),
  generatedText,
  generatedFigures,
  engineNote,
]);

root.append(
  el('header', { className: 'toolbar' }, [
    title,
    el('span', { className: 'spacer' }),
    exportButton,
    measureButton,
    reloadButton,
  ]),
  status,
  errorBox,
  form,
  promptForm,
  prediction,
  probabilities,
  latency,
  inference,
);

let state: TryState | null = null;

exportButton.addEventListener('click', () => channel.post({ type: TryMessages.export }));
reloadButton.addEventListener('click', () => channel.post({ type: TryMessages.reload }));
measureButton.addEventListener('click', () => channel.post({ type: TryMessages.measure }));
predictButton.addEventListener('click', predict);
generateButton.addEventListener('click', generate);
promptBox.addEventListener('keydown', (e: KeyboardEvent) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) generate();
});

function generate(): void {
  if (!state || state.status !== 'ready' || state.mode !== 'engine') return;
  const prompt = promptBox.value.trim();
  if (!prompt) return showError('Type a prompt first.');
  const maxNewTokens = Number(maxNewTokensBox.value);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1 || maxNewTokens > MAX_NEW_TOKENS)
    return showError(`Max new tokens: a whole number from 1 to ${MAX_NEW_TOKENS}.`);
  showError(null);
  generateButton.setAttribute('disabled', '');
  generatedText.textContent = '';
  generatedFigures.textContent = 'Generating…';
  channel.post({ type: TryMessages.generate, prompt, maxNewTokens });
}

function renderGenerated(r: GenerateResult): void {
  generateButton.toggleAttribute('disabled', state?.status !== 'ready');
  generatedText.textContent = r.ok ? r.text : '';
  generatedFigures.textContent = r.ok
    ? `${r.tokens} tokens in ${r.seconds.toFixed(2)} s${r.tokensPerSecond !== null ? ` · ${r.tokensPerSecond.toFixed(1)} tokens/s` : ''}`
    : '';
  showError(r.ok ? null : r.error);
}
textA.addEventListener('keydown', (e: KeyboardEvent) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) predict();
});

function predict(): void {
  if (!state || state.status !== 'ready') return;
  const a = textA.value.trim();
  const b = state.pair ? textB.value.trim() : null;
  if (!a || (state.pair && !b)) {
    showError(state.pair ? 'Type both texts: this task reads a pair.' : 'Type a text first.');
    return;
  }
  showError(null);
  predictButton.setAttribute('disabled', '');
  channel.post({ type: TryMessages.predict, textA: a, textB: b });
}

function showError(message: string | null): void {
  errorBox.textContent = message ?? '';
  errorBox.toggleAttribute('hidden', !message);
}

function figuresText(f: InferenceFigures | null): string {
  if (!f) return 'Inference figures: not measured yet.';
  return `Inference (onnxruntime-node ${f.onnxruntime}, CPU, batch 1, ${f.input_tokens} tokens): median latency ${f.latency_ms_median.toFixed(2)} ms over ${f.runs} runs · session ${(f.session_bytes / MIB).toFixed(1)} MiB · peak RSS +${(f.peak_rss_delta_bytes / MIB).toFixed(1)} MiB`;
}

function renderState(s: TryState): void {
  saveState({ runId: s.runId }); // all a reloaded window needs to reopen this run's panel
  state = s;
  root.dataset.status = s.status;
  title.textContent = `Try Model: ${s.method}${s.task ? ` · ${s.task}` : ''}`;
  const engine = s.mode === 'engine';
  engineNote.textContent = ENGINE_GENERATION_NOTE + (s.device ? `; the model runs on ${s.device}` : '');
  status.textContent =
    s.busy ??
    (engine && s.status === 'ready' ? `Run ${s.runId}: type a prompt and press Generate.` : null) ??
    (s.status === 'needs-export'
      ? `Run ${s.runId} has no ONNX export yet. Export it to try the model here.`
      : s.status === 'ready'
        ? `Run ${s.runId}: ${s.labels ? `classes ${s.labels.join(', ')}` : 'regression score'}. Type ${s.pair ? 'two texts' : 'a text'} and press Predict.`
        : `Run ${s.runId}`);
  showError(s.status === 'error' ? s.error : null);
  exportButton.toggleAttribute('hidden', engine || !(s.status === 'needs-export' || s.status === 'error'));
  measureButton.toggleAttribute('hidden', engine || s.status !== 'ready');
  form.toggleAttribute('hidden', engine || (s.status !== 'ready' && s.status !== 'busy'));
  promptForm.toggleAttribute('hidden', !engine || (s.status !== 'ready' && s.status !== 'busy'));
  generateButton.toggleAttribute('disabled', s.status !== 'ready');
  inference.toggleAttribute('hidden', engine);
  textB.toggleAttribute('hidden', !s.pair);
  predictButton.toggleAttribute('disabled', s.status !== 'ready');
  if (s.status === 'error') clearResult();
  inference.textContent = figuresText(s.inference);
  inference.dataset.measured = String(s.inference !== null);
}

function clearResult(): void {
  prediction.textContent = '';
  delete prediction.dataset.label;
  probabilities.replaceChildren();
  latency.textContent = '';
}

function renderResult(r: TryResult): void {
  predictButton.toggleAttribute('disabled', state?.status !== 'ready');
  if (!r.ok) {
    clearResult();
    showError(r.error);
    return;
  }
  prediction.textContent = r.label !== null ? `Prediction: ${r.label}` : `Score: ${r.score?.toFixed(4)}`;
  prediction.dataset.label = r.label ?? String(r.score);
  probabilities.replaceChildren(
    ...r.probabilities.map((p) =>
      el('tr', { attrs: { 'data-label': p.label } }, [
        el('td', { text: p.label }),
        el('td', {}, [el('progress', { attrs: { max: '1', value: String(p.p) } })]),
        el('td', { className: 'num', text: `${(100 * p.p).toFixed(1)} %` }),
      ]),
    ),
  );
  latency.textContent = `${r.latencyMs.toFixed(2)} ms (onnxruntime run) · ${r.tokens} tokens`;
}

channel.onMessage((m) => {
  if (m.type === TryMessages.state) renderState(m.state);
  else if (m.type === TryMessages.result) renderResult(m.result);
  else if (m.type === TryMessages.generating) {
    generatedText.textContent = m.text;
    generatedFigures.textContent = `Generating… ${m.tokens} tokens`;
  } else if (m.type === TryMessages.generated) renderGenerated(m.result);
});
channel.post({ type: TryMessages.ready });
