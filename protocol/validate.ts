// Validates engine event lines against protocol/events.schema.json.
// The schema is imported (not read at runtime) so esbuild bundles it into the extension.
import Ajv2020, { type ErrorObject, type Options } from 'ajv/dist/2020';
import schema from './events.schema.json';
import type { EngineEvent } from './events';

export const PROTOCOL_VERSION: number = schema['x-protocol-version'];
export const EVENT_TYPES: readonly string[] = schema.properties.type.enum;

export type ParseResult = { ok: true; event: EngineEvent } | { ok: false; error: string };

// Strict mode catches typos in the schema. strictTypes is off because the per-event
// $defs leave out `type: "object"` (the root already requires an object), which
// strictTypes would reject.
export const AJV_OPTIONS: Options = { strict: true, strictTypes: false, allowUnionTypes: true };

/** An Ajv set up for the events schema; exported so a test can watch its warnings. */
export function createEventAjv(options: Options = AJV_OPTIONS): Ajv2020 {
  const ajv = new Ajv2020(options);
  // Annotation only: tells Ajv the custom keyword is intended, so strict mode accepts it.
  ajv.addKeyword('x-protocol-version');
  return ajv;
}

const ajv = createEventAjv();
// Compiling also registers the schema under its $id, so getSchema can find its $defs below.
const validate = ajv.compile<EngineEvent>(schema);

export function parseEventLine(line: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    // A torn write (engine killed mid-line) shows up here too.
    return fail(`not valid JSON (${(e as Error).message}); the line may be torn or truncated: ${preview(line)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(`an event must be a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
  }
  const obj = value as Record<string, unknown>;
  // Check v first: a newer engine's events would otherwise fail with confusing field errors.
  if ('v' in obj && obj.v !== PROTOCOL_VERSION) {
    return fail(
      `protocol version mismatch: the event has v=${JSON.stringify(obj.v)} but this extension ` +
        `reads protocol version ${PROTOCOL_VERSION}; update the extension or the engine so they match`,
    );
  }
  if (typeof obj.type === 'string' && !EVENT_TYPES.includes(obj.type)) {
    return fail(`unknown event type "${obj.type}" (known: ${EVENT_TYPES.join(', ')})`);
  }
  if (validate(obj)) return { ok: true, event: obj };
  if (typeof obj.type !== 'string') return fail(`invalid event: ${describeErrors(validate.errors)}`);
  // The root's oneOf tries every event branch, so its errors mix in complaints from the
  // branches of other types. Validate against this type's branch alone to explain.
  const validateType = ajv.getSchema(`${schema.$id}#/$defs/${obj.type}`)!;
  const errors = validateType(obj) ? validate.errors : validateType.errors;
  return fail(`invalid ${obj.type} event: ${describeErrors(errors)}`);
}

function fail(error: string): ParseResult {
  return { ok: false, error };
}

function preview(line: string): string {
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line);
}

function describeErrors(errors: ErrorObject[] | null | undefined): string {
  // The summary "must match exactly one schema in oneOf" says nothing useful on its own.
  const useful = (errors ?? []).filter((e) => e.keyword !== 'oneOf');
  return useful.length ? useful.map(describeError).join('; ') : 'does not match the schema';
}

function describeError(e: ErrorObject): string {
  const where = e.instancePath ? `${e.instancePath.slice(1).replace(/\//g, '.')} ` : '';
  let detail = '';
  if (e.keyword === 'enum')
    detail = ` (${(e.params.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')})`;
  if (e.keyword === 'const') detail = ` (${JSON.stringify(e.params.allowedValue)})`;
  return `${where}${e.message ?? 'is invalid'}${detail}`;
}
