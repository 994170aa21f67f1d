// ledger.js - every change to the balance, newest first: when, why (the kind, translated), the
// bucket it touched, the change and the balance after, and what it refers to.
import { html } from '../lib.js';
import { dateTime, has, number, t } from '../i18n.js';
import { loadBalance, useShared } from '../state.js';
import { Empty, ErrorBox, Loading, useLoad } from '../components/ui.js';
import { AccountNav, MoreButton, usePaged } from '../components/account.js';

const REF_PAGE = { order: '/orders/', task: '/tasks/' };

function Ref({ e }) {
  if (!e.ref_id) return null;
  const base = REF_PAGE[e.ref_type];
  const label = has('ledger.ref.' + e.ref_type) ? t('ledger.ref.' + e.ref_type) : e.ref_type;
  return base
    ? html`<a href=${base + e.ref_id}>${label}</a>`
    : html`<span title=${e.ref_id}>${label}</span>`;
}

export default function Ledger() {
  const { balance } = useShared();
  useLoad(() => loadBalance(), []);
  const list = usePaged('/credits/ledger', { limit: 30 });
  return html`<section>
    <${AccountNav} />
    <h1>${t('ledger.title')}</h1>
    ${balance ? html`<p class="lead">${t('ledger.balance', { n: number(balance.available), plan: number(balance.plan_credits), paid: number(balance.paid_credits) })}</p>` : null}
    ${list.loading && !list.items.length ? html`<${Loading} />` : null}
    ${list.error && !list.items.length ? html`<${ErrorBox} error=${list.error} retry=${list.reload} />` : null}
    ${!list.loading && !list.error && !list.items.length ? html`<${Empty}>${t('ledger.empty')}<//>` : null}
    ${list.items.length ? html`<div class="table-wrap"><table class="ledger">
      <caption class="sr-only">${t('ledger.title')}</caption>
      <thead><tr>
        <th scope="col">${t('ledger.col.time')}</th><th scope="col">${t('ledger.col.kind')}</th>
        <th scope="col">${t('ledger.col.bucket')}</th><th scope="col" class="num">${t('ledger.col.delta')}</th>
        <th scope="col" class="num">${t('ledger.col.after')}</th><th scope="col">${t('ledger.col.ref')}</th>
      </tr></thead>
      <tbody>${list.items.map((e) => html`<tr>
        <td class="nowrap">${dateTime(e.created_at)}</td>
        <td>${has('ledger.kind.' + e.kind) ? t('ledger.kind.' + e.kind) : e.kind}${e.note ? html`<div class="muted small">${e.note}</div>` : null}</td>
        <td>${t('ledger.bucket.' + e.bucket)}</td>
        <td class=${'num ' + (e.delta < 0 ? 'minus' : 'plus')}>${(e.delta > 0 ? '+' : '') + number(e.delta)}</td>
        <td class="num">${number(e.balance_after)}</td>
        <td><${Ref} e=${e} /></td>
      </tr>`)}</tbody>
    </table></div>` : null}
    <${MoreButton} list=${list} />
  </section>`;
}
