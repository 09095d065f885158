// Tokenisation for exported models with Hugging Face's own JavaScript tokenizers (@huggingface/tokenizers),
// from the tokenizer.json the export copied from the backbone. The library has no truncation, so the engine's
// rule (transformers: truncation=True, i.e. longest_first, right side) is applied to the tokens before the
// library's post-processor adds the special tokens ([CLS] a [SEP] b [SEP] for BERT).
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ExportError } from './manifest';

// The package's own declarations do not resolve under node16 resolution (its types/index.d.ts re-exports
// extension-less relative paths from an ES module package, so the compiler would see `any`). What this module
// uses, as the package's types/core/Tokenizer.d.ts and PostProcessor.d.ts declare it:
export interface Tokenizer {
  readonly post_processor: PostProcessor | null;
  tokenize(text: string): string[];
  token_to_id(token: string): number | undefined;
}

interface PostProcessor {
  post_process(tokens: string[], pair: string[] | null, options: { add_special_tokens: boolean }): PostProcessed;
}

interface PostProcessed {
  tokens: string[];
  token_type_ids?: number[];
}

// The package ships an ES module and a CommonJS build; the extension bundle is CommonJS, so it takes the latter.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Tokenizer: TokenizerClass } = require('@huggingface/tokenizers') as {
  Tokenizer: new (json: object, config: object) => Tokenizer;
};

export interface TokenizedInput {
  input_ids: number[];
  attention_mask: number[];
  token_type_ids: number[];
}

export async function loadTokenizer(exportDir: string, file = 'tokenizer.json'): Promise<Tokenizer> {
  const read = async (name: string) => {
    const full = path.join(exportDir, name);
    try {
      return JSON.parse(await readFile(full, 'utf8')) as object;
    } catch (e) {
      throw new ExportError(`cannot read ${full}: ${(e as Error).message}. Export the run again.`);
    }
  };
  return new TokenizerClass(await read(file), await read('tokenizer_config.json'));
}

/** Drops tokens from the end of the longer sequence until both fit (Hugging Face's longest_first). */
export function truncateLongestFirst(a: string[], b: string[] | null, budget: number): [string[], string[] | null] {
  if (!b) return [a.slice(0, Math.max(0, budget)), null];
  let [na, nb] = [a.length, b.length];
  while (na + nb > budget) {
    if (na > nb) na--;
    else nb--;
  }
  return [a.slice(0, na), b.slice(0, nb)];
}

export function encodeForModel(
  tokenizer: Tokenizer,
  textA: string,
  textB: string | null,
  maxLength: number,
): TokenizedInput {
  const post = tokenizer.post_processor;
  if (!post) throw new ExportError('the tokenizer has no post-processor, so special tokens cannot be added');
  const a = tokenizer.tokenize(textA);
  const b = textB === null ? null : tokenizer.tokenize(textB);
  const specials = post.post_process([], b ? [] : null, { add_special_tokens: true }).tokens.length;
  const [ta, tb] = truncateLongestFirst(a, b, maxLength - specials);
  const out = post.post_process(ta, tb, { add_special_tokens: true });
  const unk = tokenizer.token_to_id('[UNK]');
  const ids = out.tokens.map((t) => {
    const id = tokenizer.token_to_id(t) ?? unk;
    if (id === undefined) throw new ExportError(`token ${JSON.stringify(t)} is not in the vocabulary`);
    return id;
  });
  return {
    input_ids: ids,
    attention_mask: ids.map(() => 1),
    token_type_ids: out.token_type_ids ?? ids.map(() => 0),
  };
}
