// price.js - what a generation task will reserve, computed as Tollgate prices it
// (src/api/tasks.c): the catalog's `tasks` price for the kind, per task, or per second by mode
// times the input video's probed length rounded up to the second (30 s when unknown).
import { html } from '../lib.js';
import { has, number, t } from '../i18n.js';

/** A message with a count: key_one for exactly 1 when the catalog has it ("1 credit"). */
export function tn(key, n, vars) {
  return t(n === 1 && has(key + '_one') ? key + '_one' : key, { ...vars, n: number(n) });
}

/** Seconds reserved for a per-second kind whose video length is not known (a URL). */
export const UNKNOWN_VIDEO_S = 30;

/** The shortest input video the per-second kinds take (seconds). */
export const MIN_VIDEO_S = 2;

/** Modes of the per-second kinds, in the order shown. */
export const MODES = ['wan-std', 'wan-pro'];

/**
 * The price of a task: {credits, unit, unitCredits, units, estimated} or null when the catalog
 * has no price for the kind. videoMs: the input video's probed length (0 or null: unknown).
 */
export function taskPrice(tasks, kind, mode, videoMs) {
  const p = tasks && tasks[kind];
  if (!p) return null;
  if (p.unit === 'second') {
    const unitCredits = p.credits[mode || 'wan-std'];
    if (!unitCredits) return null;
    const known = videoMs > 0;
    const units = known ? Math.ceil(videoMs / 1000) : UNKNOWN_VIDEO_S;
    return { credits: unitCredits * units, unit: 'second', unitCredits, units, estimated: !known };
  }
  return { credits: p.credits, unit: 'task', unitCredits: p.credits, units: 1, estimated: false };
}

/**
 * The price box before a submission: what it costs, the balance, and what to do when the
 * balance is short (a link to the pricing page). waiting: the price depends on a video not
 * uploaded yet.
 */
export function PriceBox({ price, balance, waiting, id = 'price' }) {
  if (!price) return null;
  // Before the video is known, the least it can cost: its shortest length.
  const need = waiting ? price.unitCredits * MIN_VIDEO_S : price.credits;
  const short = balance && need > balance.available;
  return html`<div class="card price-box" id=${id} aria-live="polite">
    <p class="price-line">
      <span>${t('generate.price_label')}</span>
      <strong class="price-total">${waiting ? tn('generate.price_per_second', price.unitCredits) : tn('generate.credits', price.credits)}</strong>
    </p>
    ${price.unit === 'second' && !waiting
      ? html`<p class="hint">${tn('generate.price_breakdown', price.unitCredits, { s: number(price.units) })}</p>`
      : null}
    ${waiting ? html`<p class="hint">${t('generate.price_waiting')}</p>` : null}
    ${price.unit === 'second' ? html`<p class="hint">${t('generate.price_settle')}</p>` : null}
    ${balance
      ? html`<p class="hint">${tn('generate.balance', balance.available)}</p>`
      : null}
    ${short
      ? html`<p class="notice bad" role="alert">
          ${t('generate.short', { need: number(need), have: number(balance.available) })}
          ${' '}<a href="/pricing">${t('generate.buy_credits')}</a>
        </p>`
      : null}
  </div>`;
}
