// Hugging Face hub names as the engine reads them, and the models of the user's Hugging Face cache as
// `ladderlab cache list --json` reports them (engine/src/ladderlab/hub.py). A backbone written `org/name` or
// `org/name@revision` is a hub id unless a folder by that name lies beside the experiment file; data written
// `org/name` or `org/name:config` is a hub dataset on the same terms (data/hf_datasets.py). The engine's tests and
// test/unit/hub-cache.test.ts read the same cases (engine/tests/fixtures/hub-names.json).

const HUB_ID = /^([A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*)(?:@([\w./-]+))?$/;
const DATASET = /^([A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*)(?::([\w.-]+))?$/;
// huggingface_hub's validate_repo_id, which the engine calls: each part starts and ends with a letter, digit or _,
// the name has at most 96 characters, and no "--", ".." or trailing ".git".
const PART = /^\w(?:[\w.-]*\w)?$/;

function validRepoId(repo: string): boolean {
  const [org, name] = repo.split('/');
  return (
    PART.test(org) &&
    PART.test(name) &&
    name.length <= 96 &&
    !repo.includes('--') &&
    !repo.includes('..') &&
    !repo.endsWith('.git')
  );
}

/** `{repo, revision}` when `value` is written as a hub model id; null for anything else (a path, a word). */
export function parseHubId(value: string): { repo: string; revision: string | null } | null {
  const m = HUB_ID.exec(value);
  if (!m || value.startsWith('.') || value.includes('//') || !validRepoId(m[1])) return null;
  return { repo: m[1], revision: m[2] ?? null };
}

/** `{repo, config}` when `value` is written as a hub dataset name; null otherwise. */
export function parseDatasetName(value: string): { repo: string; config: string | null } | null {
  const m = DATASET.exec(value);
  if (!m || value.startsWith('.')) return null;
  return { repo: m[1], config: m[2] ?? null };
}

/** A cached model snapshot, as the engine lists it. */
export interface CachedModel {
  backbone: string; // what to write as the backbone: org/name (the main ref) or org/name@ref-or-commit
  id: string;
  revision: string; // the commit
  refs: string[];
  sizeBytes: number;
  modelType: string | null;
  architectures: string[];
  supported: boolean; // a Ladder Lab family trains it
  path: string; // the snapshot folder (config.json is read from there)
}

/** A choice of the form's backbone picker. */
export interface CachedChoice {
  value: string;
  label: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const MAX_MODELS = 500;

/** The engine's `cache list --json` output; an entry that is not what the engine writes is left out. */
export function parseCacheListing(stdout: string): { cache: string; models: CachedModel[] } | { error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    return { error: 'the engine did not print a JSON cache listing' };
  }
  if (!isRecord(raw) || !isString(raw.cache) || !Array.isArray(raw.models))
    return { error: 'the engine printed no cache listing ({cache, models})' };
  const models: CachedModel[] = [];
  for (const m of raw.models.slice(0, MAX_MODELS)) {
    if (!isRecord(m) || !isString(m.backbone) || !isString(m.id) || !isString(m.revision) || !isString(m.path))
      continue;
    if (parseHubId(m.backbone) === null || typeof m.size_bytes !== 'number' || !(m.size_bytes >= 0)) continue;
    models.push({
      backbone: m.backbone,
      id: m.id,
      revision: m.revision,
      refs: Array.isArray(m.refs) ? m.refs.filter(isString) : [],
      sizeBytes: m.size_bytes,
      modelType: isString(m.model_type) ? m.model_type : null,
      architectures: Array.isArray(m.architectures) ? m.architectures.filter(isString) : [],
      supported: m.supported === true,
      path: m.path,
    });
  }
  return { cache: raw.cache, models };
}

function size(bytes: number): string {
  const mib = bytes / 2 ** 20;
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${mib.toFixed(mib < 10 ? 1 : 0)} MiB`;
}

/** The picker's choices: the cached models a Ladder Lab family trains (choosing another would only fail), each
 * with its architecture and size. */
export function cacheChoices(models: readonly CachedModel[]): CachedChoice[] {
  return models
    .filter((m) => m.supported)
    .map((m) => ({
      value: m.backbone,
      label: `${m.backbone} (${m.modelType ?? 'model'}, ${size(m.sizeBytes)}, cache)`,
    }));
}

/** The cached snapshot a backbone value names, as huggingface_hub resolves it: a bare id is the main ref's, an
 * id@revision the snapshot of that ref or commit. */
export function cachedModelFor(models: readonly CachedModel[], backbone: string): CachedModel | undefined {
  const hub = parseHubId(backbone);
  if (hub === null) return undefined;
  const revision = hub.revision ?? 'main';
  return models.find((m) => m.id === hub.repo && (m.revision === revision || m.refs.includes(revision)));
}
