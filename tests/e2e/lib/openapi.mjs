// docs/openapi.yaml as a test oracle: response bodies seen by the tests must match the
// documented schema of their operation and status (ajv, OpenAPI 3.0 schemas).

import { readFileSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { repoRoot } from './server.mjs';

export const OPENAPI_PATH = path.join(repoRoot, 'docs', 'openapi.yaml');
export const doc = YAML.parse(readFileSync(OPENAPI_PATH, 'utf8'));

const BASE = 'https://tollgate.invalid/schemas/';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Deep copy with `#/components/schemas/X` refs turned into ajv schema ids. */
function rewriteRefs(x) {
  if (Array.isArray(x)) return x.map(rewriteRefs);
  if (!x || typeof x !== 'object') return x;
  const out = {};
  for (const [k, v] of Object.entries(x)) {
    if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')) out[k] = BASE + v.slice('#/components/schemas/'.length);
    else out[k] = rewriteRefs(v);
  }
  return out;
}

export const ajv = new Ajv({ strict: true, allErrors: true, strictTypes: false, strictRequired: false });
addFormats(ajv);
ajv.addKeyword('example');
ajv.addKeyword('x-tollgate');
for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) ajv.addSchema(rewriteRefs(schema), BASE + name);

/** Follows a local $ref (`#/components/...`) in the document. */
export function deref(obj) {
  let o = obj;
  for (let i = 0; o && o.$ref && i < 10; i++) {
    const parts = o.$ref.replace(/^#\//, '').split('/');
    o = parts.reduce((acc, p) => acc?.[p.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return o;
}

/** Every "METHOD /path" the document describes. */
export function documentedRoutes() {
  const out = [];
  for (const [p, item] of Object.entries(doc.paths ?? {})) {
    for (const m of Object.keys(item)) if (HTTP_METHODS.includes(m)) out.push(`${m.toUpperCase()} ${p}`);
  }
  return out.sort();
}

const compiled = new Map();
function validatorFor(schema, key) {
  if (!compiled.has(key)) compiled.set(key, ajv.compile(rewriteRefs(schema)));
  return compiled.get(key);
}

/**
 * Asserts that response r (from Server.req) is documented for (method, pattern) with its
 * status, and that its JSON body validates against the documented schema.
 */
export function assertDocumented(r, method, pattern) {
  const item = doc.paths?.[pattern];
  assert.ok(item, `docs/openapi.yaml has no path ${pattern}`);
  const op = item[method.toLowerCase()];
  assert.ok(op, `docs/openapi.yaml has no ${method} ${pattern}`);
  const status = String(r.status);
  const resp = deref(op.responses?.[status] ?? op.responses?.[`${status[0]}XX`] ?? op.responses?.default);
  assert.ok(resp, `docs/openapi.yaml does not document status ${status} for ${method} ${pattern} (body ${r.text.slice(0, 200)})`);
  for (const [h, spec] of Object.entries(resp.headers ?? {})) {
    const hs = deref(spec);
    if (hs.required) assert.ok(r.headers.get(h), `${method} ${pattern} ${status}: documented header ${h} missing`);
  }
  const content = resp.content;
  if (!content) {
    assert.equal(r.text, '', `${method} ${pattern} ${status}: documented without a body, got ${r.text.slice(0, 200)}`);
    return;
  }
  const ct = (r.headers.get('content-type') ?? '').split(';')[0].trim();
  const media = content[ct];
  assert.ok(media, `${method} ${pattern} ${status}: content-type ${ct} not documented (${Object.keys(content)})`);
  if (ct !== 'application/json' || !media.schema) return;
  const v = validatorFor(media.schema, `${method} ${pattern} ${status}`);
  const ok = v(r.body);
  assert.ok(ok, `${method} ${pattern} ${status}: body does not match docs/openapi.yaml: ${ajv.errorsText(v.errors)}\nbody: ${r.text.slice(0, 500)}`);
}

/** Validates a value against components.schemas[name]. */
export function assertSchema(value, name) {
  const v = ajv.getSchema(BASE + name);
  assert.ok(v, `docs/openapi.yaml has no schema ${name}`);
  assert.ok(v(value), `value does not match schema ${name}: ${ajv.errorsText(v.errors)}\nvalue: ${JSON.stringify(value).slice(0, 500)}`);
}
