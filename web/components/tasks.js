// tasks.js - what the generation pages share: status badges, live/final statuses, a task's
// cost in words, and one submission (POST /tasks with an Idempotency-Key kept for a retry of
// the same request).
import { html } from '../lib.js';
import { api, newIdempotencyKey } from '../api.js';
import { has, number, t } from '../i18n.js';
import { errorText } from './ui.js';
import { tn } from './price.js';

export const KINDS = ['animate_move', 'animate_mix', 'text_to_video', 'image'];
export const STATUSES = ['queued', 'submitted', 'running', 'succeeded', 'failed', 'timed_out', 'canceled'];
export const LIVE = new Set(['queued', 'submitted', 'running']);

export function isLive(task) {
  return LIVE.has(task.status);
}

const BADGE = { succeeded: 'ok', failed: 'bad', timed_out: 'bad', canceled: 'warn' };

export function StatusBadge({ status }) {
  return html`<span class=${'badge ' + (BADGE[status] || 'live')}>${t('tasks.status.' + status)}</span>`;
}

/** A task's cost in words: reserved while live; cost and returned credits once final. */
export function costText(task) {
  const c = task.cost;
  if (isLive(task)) return t('tasks.cost_reserved', { n: number(c.reserved) });
  if (c.settled !== null && c.settled !== undefined && task.status === 'succeeded') return tn('tasks.cost_settled', c.settled);
  return t('tasks.cost_none');
}

/**
 * The request body that runs a task's inputs again (file ids and URLs as they were; the sandbox
 * outcome is not carried over: a retry is a fresh attempt).
 */
export function retryBody(task) {
  const i = task.inputs || {};
  const ref = (r) => (r && (r.file_id || r.url)) || undefined;
  const b = { kind: task.kind };
  if (i.image) b.image = ref(i.image);
  if (i.video) b.video = ref(i.video);
  if (i.mode) b.mode = i.mode;
  if (i.prompt !== undefined) b.prompt = i.prompt;
  if (i.aspect_ratio) b.aspect_ratio = i.aspect_ratio;
  if (i.images && i.images.length) b.images = i.images.map(ref);
  return b;
}

/**
 * Submits body. The same body submitted again (a re-click after a network error) reuses the
 * Idempotency-Key in keyRef ({current}), so it creates the task at most once; a changed body
 * gets a new key.
 */
export function submitTask(body, keyRef) {
  const text = JSON.stringify(body);
  if (!keyRef.current || keyRef.current.body !== text) keyRef.current = { key: newIdempotencyKey(), body: text };
  return api('/tasks', { method: 'POST', body, idem: keyRef.current.key });
}

/**
 * The message for a refused submission (not a field's): credits, caps and rate limits in the
 * person's words, with the wait when the server gave one.
 */
export function submitErrorText(e) {
  // The catalog's sentence carries its own leading space where the language needs one.
  const wait = !e.retryAfter
    ? ''
    : (e.retryAfter >= 90 ? tn('generate.retry_after_min', Math.ceil(e.retryAfter / 60)) : t('generate.retry_after', { n: number(e.retryAfter) }));
  if (e.code === 'insufficient_credits') return t('errors.insufficient_credits', { required: number(e.details.required || 0) });
  if (e.code === 'too_many_tasks') return t('errors.too_many_tasks', { limit: number(e.details.limit || 0) }) + wait;
  if (e.code === 'rate_limited') return t('generate.rate_limited') + wait;
  return errorText(e);
}

/** A task's error in words: what the status means, and the provider's reason when there is one. */
export function taskErrorText(task) {
  const e = task.error;
  if (e && e.code && has('errors.' + e.code)) return t('errors.' + e.code);
  return e && e.message ? e.message : '';
}
