// checkout.js - paying an order: what its checkout asks of the browser (go to a URL, show a
// QR code, or open WeChat), watching a pending order until the provider reports it, and the
// outcome. Used by the pricing page and the order page.
import { html, useEffect, useState } from '../lib.js';
import { api } from '../api.js';
import { money, number, t } from '../i18n.js';
import { loadBalance } from '../state.js';
import { productLabel, providerName } from './account.js';

const POLL_MS = 2000;
const POLL_SLOW_MS = 5000; // after the first two minutes
const SLOW_AFTER_MS = 120000;

/** An SVG document (the server's drawing of the QR code) as an <img> data URL, never as markup. */
export function svgDataUrl(svg) {
  const bytes = new TextEncoder().encode(svg);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return 'data:image/svg+xml;base64,' + btoa(bin);
}

/**
 * Watches an order: re-reads GET /orders/{id} while it is pending (every 2 s, then every 5 s)
 * and re-reads the balance once when it is paid. Returns {order, error}.
 */
export function useOrderWatch(id, initial) {
  const [order, setOrder] = useState(initial || null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!id) return undefined;
    let live = true;
    let timer = null;
    const started = Date.now();
    const tick = async () => {
      try {
        const o = await api('/orders/' + encodeURIComponent(id));
        if (!live) return;
        setOrder(o);
        setError(null);
        if (o.status === 'pending') timer = setTimeout(tick, Date.now() - started > SLOW_AFTER_MS ? POLL_SLOW_MS : POLL_MS);
        else if (o.status === 'paid') loadBalance().catch(() => {});
      } catch (e) {
        if (!live) return;
        setError(e);
        // A network blip or a rate limit: keep watching, more slowly.
        if (e.status === 0 || e.status === 429 || e.status >= 500) timer = setTimeout(tick, (e.retryAfter || 5) * 1000);
      }
    };
    if (initial && initial.status === 'pending') timer = setTimeout(tick, POLL_MS);
    else tick();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [id]);
  return { order, error };
}

/** Sends the browser to a URL checkout; true when it did (the page is about to go away). */
export function followCheckout(order) {
  if (order && order.status === 'pending' && order.checkout && order.checkout.url) {
    window.location.assign(order.checkout.url);
    return true;
  }
  return false;
}

/** What a pending order asks the buyer to do next, by the kind of its checkout. */
export function PayStep({ order }) {
  const c = order.checkout;
  const amount = money(order.amount.amount, order.amount.currency);
  if (!c) return html`<p class="notice bad">${t('pricing.checkout.none')}</p>`;
  if (c.url)
    return html`<div class="pay-step">
      <p>${t('pricing.checkout.url_text', { provider: providerName(order.provider) })}</p>
      <p><a class="btn primary" href=${c.url}>${t('pricing.checkout.continue')}</a></p>
    </div>`;
  if (c.code_url) {
    const app = order.provider === 'alipay' ? t('pricing.checkout.app_alipay') : t('pricing.checkout.app_wechat');
    return html`<div class="pay-step qr-step">
      ${c.qr_svg
        ? html`<img class="qr" src=${svgDataUrl(c.qr_svg)} width="220" height="220"
            alt=${t('pricing.checkout.qr_alt', { provider: providerName(order.provider) })} />`
        : html`<p class="muted small">${t('pricing.checkout.no_qr')}</p><p><code>${c.code_url}</code></p>`}
      <div>
        <p class="qr-amount">${amount}</p>
        <ol class="steps">
          <li>${t('pricing.checkout.qr_step1', { app })}</li>
          <li>${t('pricing.checkout.qr_step2')}</li>
          <li>${t('pricing.checkout.qr_step3')}</li>
        </ol>
        <p class="muted small" role="status" aria-live="polite"><span class="spinner" aria-hidden="true"></span>${t('pricing.checkout.waiting')}</p>
      </div>
    </div>`;
  }
  if (c.jsapi) return html`<p class="notice">${t('pricing.checkout.jsapi')}</p>`;
  return html`<p class="notice bad">${t('pricing.checkout.none')}</p>`;
}

/** The end of an order, announced: paid (credits added / plan started), failed, expired. */
export function OrderOutcome({ order }) {
  if (order.status === 'paid')
    return html`<div class="notice ok" role="status">
      <p><strong>${t('pricing.outcome.paid_title')}</strong></p>
      <p>${order.kind === 'plan'
        ? t('pricing.outcome.paid_plan', { plan: productLabel(order) })
        : t('pricing.outcome.paid_pack', { n: number(order.credits) })}</p>
      <p class="row"><a class="btn primary small" href="/generate">${t('pricing.outcome.generate')}</a>
        <a href="/dashboard">${t('pricing.outcome.dashboard')}</a></p>
    </div>`;
  if (order.status === 'failed' || order.status === 'expired')
    return html`<div class="notice bad" role="status"><p>${t('pricing.outcome.' + order.status)}</p></div>`;
  return null;
}
