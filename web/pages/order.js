// order.js - one order: its status, amount, provider, times and refunds; a pending one shows
// how to pay (its QR code, or the link to the provider) and is watched until it is paid.
import { html } from '../lib.js';
import { dateTime, money, number, t } from '../i18n.js';
import { ErrorBox, Loading } from '../components/ui.js';
import { AccountNav, OrderStatus, productLabel, providerName } from '../components/account.js';
import { OrderOutcome, PayStep, useOrderWatch } from '../components/checkout.js';

export default function Order({ params }) {
  const { order, error } = useOrderWatch(params.id);
  return html`<section>
    <${AccountNav} />
    <p><a href="/orders">${t('orders.back')}</a></p>
    <h1>${t('orders.one.title')}</h1>
    ${!order && !error ? html`<${Loading} />` : null}
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${order ? html`<div class="grid two">
      <section class="card" aria-labelledby="order-facts">
        <h2 id="order-facts" class="spread"><span>${productLabel(order)}</span><${OrderStatus} status=${order.status} /></h2>
        <dl class="pairs">
          <div><dt>${t('orders.one.id')}</dt><dd><code>${order.id}</code></dd></div>
          <div><dt>${t('orders.col.amount')}</dt><dd>${money(order.amount.amount, order.amount.currency)}</dd></div>
          <div><dt>${t('orders.one.credits')}</dt><dd>${number(order.credits)}</dd></div>
          <div><dt>${t('orders.col.provider')}</dt><dd>${providerName(order.provider)}</dd></div>
          <div><dt>${t('orders.one.created')}</dt><dd>${dateTime(order.created_at)}</dd></div>
          ${order.paid_at ? html`<div><dt>${t('orders.one.paid')}</dt><dd>${dateTime(order.paid_at)}</dd></div>` : null}
          ${order.status === 'pending' ? html`<div><dt>${t('orders.one.expires')}</dt><dd>${dateTime(order.expires_at)}</dd></div>` : null}
          ${order.refunded && order.refunded.amount > 0
            ? html`<div><dt>${t('orders.one.refunded')}</dt><dd>${money(order.refunded.amount, order.refunded.currency)}</dd></div>` : null}
        </dl>
        ${order.refunded && order.refunded.amount > 0 ? html`<p class="muted small">${t('orders.one.refund_note')}</p>` : null}
      </section>
      <section class="card" aria-labelledby="order-pay">
        <h2 id="order-pay">${order.status === 'pending' ? t('orders.one.pay') : t('orders.one.result')}</h2>
        ${order.status === 'pending' ? html`<${PayStep} order=${order} />` : html`<${OrderOutcome} order=${order} />`}
        ${['refunded', 'partially_refunded'].includes(order.status) ? html`<p>${t('orders.one.refunded_text')}</p>` : null}
      </section>
    </div>` : null}
  </section>`;
}
