// Try Model on a causal-LM run (task instruct), the parts that run without VS Code: the try/generate message's
// validator, the reading of `ladderlab generate`'s stdout lines (engine/src/ladderlab/cli_generate.py writes them),
// tokens per second, the engine's failure in one sentence; and the Experiment form's check of instruction data.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { MAX_NEW_TOKENS, MAX_TRY_TEXT, parseTryMessage, TryMessages } from '../../protocol/webviews/try';
import { engineFailure, readGeneratorLine, tokensPerSecond } from '../../src/inference/engineGenerator';
import {
  CHECKED_LINES,
  INSTRUCT_FORMAT_HINT,
  instructFileProblem,
  instructLineProblem,
  instructTextProblem,
} from '../../src/views/instructData';
import instructLines from '../../engine/tests/fixtures/instruct-lines.json';

test('try/generate: a prompt of 1 to MAX_TRY_TEXT characters and an optional max_new_tokens pass as a fresh object', () => {
  assert.deepEqual(parseTryMessage({ type: TryMessages.generate, prompt: 'question 1', extra: 1 }), {
    type: TryMessages.generate,
    prompt: 'question 1',
    maxNewTokens: null, // the engine's default
  });
  assert.deepEqual(parseTryMessage({ type: TryMessages.generate, prompt: 'q', maxNewTokens: MAX_NEW_TOKENS }), {
    type: TryMessages.generate,
    prompt: 'q',
    maxNewTokens: MAX_NEW_TOKENS,
  });
  for (const bad of [
    { type: TryMessages.generate },
    { type: TryMessages.generate, prompt: '' },
    { type: TryMessages.generate, prompt: 'x'.repeat(MAX_TRY_TEXT + 1) },
    { type: TryMessages.generate, prompt: ['a'] },
    { type: TryMessages.generate, prompt: 'q', maxNewTokens: 0 },
    { type: TryMessages.generate, prompt: 'q', maxNewTokens: MAX_NEW_TOKENS + 1 },
    { type: TryMessages.generate, prompt: 'q', maxNewTokens: 2.5 },
    { type: TryMessages.generate, prompt: 'q', maxNewTokens: '128' },
    { type: TryMessages.generated, result: {} }, // host -> webview only
    JSON.parse('{"type": "try/generate", "__proto__": {"prompt": "inherited"}}') as unknown,
  ])
    assert.equal(parseTryMessage(bad), undefined, JSON.stringify(bad)?.slice(0, 80));
});

test("generate worker lines: ready, an answer, a request's error; anything else is not a line of the protocol", () => {
  assert.deepEqual(
    readGeneratorLine('{"ready": true, "method": "lst", "task": "instruct", "chat": false, "max_new_tokens": 128}'),
    { kind: 'ready', method: 'lst', chat: false, device: null }, // an engine from before --device
  );
  assert.deepEqual(readGeneratorLine('{"ready": true, "method": "lora", "chat": true, "device": "cuda"}'), {
    kind: 'ready',
    method: 'lora',
    chat: true,
    device: 'cuda',
  });
  assert.deepEqual(readGeneratorLine('{"partial": "apple", "tokens": 1}'), {
    kind: 'partial',
    text: 'apple',
    tokens: 1,
  });
  assert.deepEqual(readGeneratorLine('{"text": "apple river", "tokens": 3, "seconds": 0.05}'), {
    kind: 'answer',
    answer: { text: 'apple river', tokens: 3, seconds: 0.05 },
  });
  assert.deepEqual(readGeneratorLine('{"error": "a request is not JSON (Expecting value)", "hint": "send one"}'), {
    kind: 'error',
    message: 'a request is not JSON (Expecting value) (send one)',
  });
  for (const bad of ['', 'Loading weights', '[1]', 'null', '{"text": "a", "tokens": -1, "seconds": 1}', '{"ready": 1}'])
    assert.equal(readGeneratorLine(bad), undefined, bad);
});

test('tokens per second, and the engine failure taken from its own lines', () => {
  assert.equal(tokensPerSecond({ text: 'a', tokens: 10, seconds: 0.5 }), 20);
  assert.equal(tokensPerSecond({ text: '', tokens: 1, seconds: 0 }), null);
  const stderr =
    'Traceback noise\nladderlab: error: run folder not found: /x\n  hint: pass a folder under .ladderlab/runs\n';
  assert.equal(
    engineFailure(stderr, 2),
    'the engine stopped (exit 2): ladderlab: error: run folder not found: /x hint: pass a folder under .ladderlab/runs',
  );
  assert.equal(engineFailure('a\nb\nlast words', 1), 'the engine stopped (exit 1): b last words');
});

test("instruction data lines: the engine reader's two forms pass, each wrong shape is named", () => {
  assert.equal(instructLineProblem('{"prompt": "q", "response": "a"}'), undefined);
  const chat = {
    messages: [
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'a' },
    ],
  };
  assert.equal(instructLineProblem(JSON.stringify(chat)), undefined);
  assert.equal(instructLineProblem('{"prompt": "q"'), 'not JSON');
  assert.equal(instructLineProblem('{"text": "q", "label": 1}'), 'neither prompt/response strings nor a messages list');
  assert.equal(
    instructLineProblem('{"prompt": "q", "response": 3}'),
    'neither prompt/response strings nor a messages list',
  );
  assert.match(
    instructLineProblem(JSON.stringify({ messages: [chat.messages[1], chat.messages[0]] }))!,
    /the last message is "user": end each chat with the assistant's answer/,
  );
});

test("instruction data lines: the engine reader's shared table (engine/tests/fixtures/instruct-lines.json)", () => {
  // test_llama_family.py runs the same table through the engine's reader
  for (const c of instructLines as { case: string; line: string; problem: string | null }[]) {
    const problem = instructLineProblem(c.line);
    if (c.problem === null) assert.equal(problem, undefined, c.case);
    else assert.ok(problem?.startsWith(c.problem), `${c.case}: ${problem}`);
  }
});

test('instruction data files: the first problem with its line number, only the first lines checked', async () => {
  const good = '{"prompt": "q", "response": "a"}\n';
  assert.equal(instructTextProblem(good.repeat(3), 'd.jsonl'), undefined);
  assert.equal(
    instructTextProblem(good + '\n' + 'text,label\n', 'd.jsonl'),
    `d.jsonl line 3: not JSON; ${INSTRUCT_FORMAT_HINT}`,
  );
  assert.equal(instructTextProblem(good.repeat(CHECKED_LINES) + 'oops\n', 'd.jsonl'), undefined);
  assert.equal(instructTextProblem('\n\n', 'e.jsonl'), `e.jsonl has no examples; ${INSTRUCT_FORMAT_HINT}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'instruct-data-'));
  try {
    const file = path.join(dir, 'train.csv');
    writeFileSync(file, 'sentence,label\nfine,1\n');
    assert.equal(await instructFileProblem(file, 'train.csv'), `train.csv line 1: not JSON; ${INSTRUCT_FORMAT_HINT}`);
    const big = path.join(dir, 'big.jsonl'); // larger than one read: the line cut at its end is not judged
    writeFileSync(big, good.repeat(20_000));
    assert.equal(await instructFileProblem(big, 'big.jsonl'), undefined);
    assert.equal(await instructFileProblem(path.join(dir, 'missing.jsonl'), 'missing.jsonl'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
