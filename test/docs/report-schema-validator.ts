/**
 * docs/report.schema.json compiled once with ajv (strict mode: a keyword the
 * draft does not know, or a `required` without `type: object`, is an error
 * of the schema itself), and a validator per report: `run`, `replay`,
 * `bench`, `stream`, or `any` (the top-level oneOf).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';

export const SCHEMA_PATH = fileURLToPath(new URL('../../docs/report.schema.json', import.meta.url));

export type ReportKind = 'run' | 'replay' | 'bench' | 'stream' | 'any';

interface Compiled {
  readonly schema: { readonly $id: string; readonly $defs: Record<string, unknown> };
  readonly validators: Record<ReportKind, ValidateFunction>;
}

let compiled: Compiled | undefined;

/** Compiles the schema (throws when it does not compile). */
export function compileReportSchema(): Compiled {
  if (compiled !== undefined) return compiled;
  const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Compiled['schema'];
  // ajv/dist/2020.js is CommonJS: imported from ESM its default is module.exports, whose .default is the class.
  const ajv = new Ajv2020.default({ allErrors: true, strict: true });
  ajv.addSchema(schema);
  const get = (ref: string): ValidateFunction => {
    const v = ajv.getSchema(ref);
    if (v === undefined) throw new Error(`no schema at ${ref}`);
    return v;
  };
  compiled = {
    schema,
    validators: {
      any: get(schema.$id),
      run: get(`${schema.$id}#/$defs/runReport`),
      replay: get(`${schema.$id}#/$defs/replayReport`),
      bench: get(`${schema.$id}#/$defs/benchReport`),
      stream: get(`${schema.$id}#/$defs/streamReport`),
    },
  };
  return compiled;
}

/** The validation errors of `report` as one line each ([] when it validates). */
export function reportErrors(kind: ReportKind, report: unknown): string[] {
  const v = compileReportSchema().validators[kind];
  if (v(report)) return [];
  return (v.errors ?? []).map((e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}
