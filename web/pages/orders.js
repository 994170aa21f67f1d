// orders.js - the signed-in user's orders, newest first, a page at a time.
import { html } from '../lib.js';
import { dateTime, money, t } from '../i18n.js';
import { Empty, ErrorBox, Loading } from '../components/ui.js';
import { AccountNav, MoreButton, OrderStatus, productLabel, providerName, usePaged } from '../components/account.js';

export default function Orders() {
  const list = usePaged('/orders', { limit: 20 });
  return html`<section>
    <${AccountNav} />
    <h1>${t('orders.title')}</h1>
    ${list.loading && !list.items.length ? html`<${Loading} />` : null}
    ${list.error && !list.items.length ? html`<${ErrorBox} error=${list.error} retry=${list.reload} />` : null}
    ${!list.loading && !list.error && !list.items.length
      ? html`<${Empty}>${t('orders.empty')} <a href="/pricing">${t('orders.to_pricing')}</a><//>` : null}
    ${list.items.length ? html`<div class="table-wrap"><table class="orders">
      <caption class="sr-only">${t('orders.title')}</caption>
      <thead><tr>
        <th scope="col">${t('orders.col.date')}</th><th scope="col">${t('orders.col.product')}</th>
        <th scope="col" class="num">${t('orders.col.amount')}</th><th scope="col">${t('orders.col.provider')}</th>
        <th scope="col">${t('orders.col.status')}</th>
      </tr></thead>
      <tbody>${list.items.map((o) => html`<tr>
        <td><a href=${'/orders/' + o.id}>${dateTime(o.created_at)}</a></td>
        <td>${productLabel(o)}</td>
        <td class="num">${money(o.amount.amount, o.amount.currency)}</td>
        <td>${providerName(o.provider)}</td>
        <td><${OrderStatus} status=${o.status} /></td>
      </tr>`)}</tbody>
    </table></div>` : null}
    <${MoreButton} list=${list} />
  </section>`;
}
