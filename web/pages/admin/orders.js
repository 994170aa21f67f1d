// admin/orders.js - every order with the API's filters (status, provider, user, created from/to)
// and, at ?id=ord_..., one order with its refunds and a refund form.
import { html, useState } from '../../lib.js';
import { api, newIdempotencyKey } from '../../api.js';
import { dateTime, minorDigits, money, number, parseMoney, t } from '../../i18n.js';
import { navigate } from '../../router.js';
import { Async, errorText, useLoad } from '../../components/ui.js';
import { ConfirmDialog, Facts, PAY_PROVIDERS, Paged, Select, StatusBadge, UserLink, OrderLink, tr, usePaged, withQuery } from '../../components/admin.js';

const ORDER_STATUSES = ['pending', 'paid', 'failed', 'expired', 'refunded', 'partially_refunded'];

/** A YYYY-MM-DD day as the RFC 3339 instant it starts (UTC); plusDays moves it. */
function dayStart(d, plusDays = 0) {
  const ms = Date.parse(d + 'T00:00:00Z') + plusDays * 86400000;
  return new Date(ms).toISOString().slice(0, 19) + 'Z';
}

function List({ query }) {
  const [f, setF] = useState({ status: query.status || '', provider: query.provider || '', user_id: query.user_id || '',
    from: query.from || '', to: query.to || '' });
  const set = (k) => (v) => setF((x) => ({ ...x, [k]: v }));
  const key = JSON.stringify([query.status, query.provider, query.user_id, query.from, query.to]);
  const paged = usePaged(
    (cursor) => api('/admin/orders', { query: { status: query.status, provider: query.provider, user_id: query.user_id,
      from: query.from ? dayStart(query.from) : undefined, to: query.to ? dayStart(query.to, 1) : undefined, limit: 50, cursor } }),
    [key],
  );
  const submit = (e) => {
    e.preventDefault();
    navigate(withQuery('/admin/orders', { ...f, user_id: f.user_id.trim() }), true);
  };
  return html`<h1>${t('admin.orders.title')}</h1>
    <form class="filters" onSubmit=${submit} aria-label=${t('admin.common.filters')}>
      <${Select} id="orders-status" label=${t('admin.orders.status')} value=${f.status} onChange=${set('status')}
        options=${[['', t('admin.common.any')], ...ORDER_STATUSES.map((s) => [s, tr('admin.status.order', s)])]} />
      <${Select} id="orders-provider" label=${t('admin.orders.provider')} value=${f.provider} onChange=${set('provider')}
        options=${[['', t('admin.common.any')], ...PAY_PROVIDERS.map((p) => [p, tr('admin.provider', p)])]} />
      <div class="field"><label for="orders-user">${t('admin.orders.user')}</label>
        <input id="orders-user" value=${f.user_id} maxlength="63" spellcheck="false" autocomplete="off" placeholder="usr_…"
          onInput=${(e) => set('user_id')(e.target.value)} /></div>
      <div class="field"><label for="orders-from">${t('admin.orders.from')}</label>
        <input id="orders-from" type="date" value=${f.from} onInput=${(e) => set('from')(e.target.value)} /></div>
      <div class="field"><label for="orders-to">${t('admin.orders.to')}</label>
        <input id="orders-to" type="date" value=${f.to} onInput=${(e) => set('to')(e.target.value)} /></div>
      <div class="field submit"><button type="submit" class="btn primary">${t('admin.common.apply')}</button></div>
    </form>
    <${Paged} paged=${paged} empty=${t('admin.orders.none')}>
      ${(items) => html`<div class="table-wrap"><table>
        <caption class="sr-only">${t('admin.orders.title')}</caption>
        <thead><tr>
          <th scope="col">${t('admin.orders.order')}</th>
          <th scope="col">${t('admin.orders.created')}</th>
          <th scope="col">${t('admin.orders.user_col')}</th>
          <th scope="col">${t('admin.orders.product')}</th>
          <th scope="col" class="num">${t('admin.orders.amount')}</th>
          <th scope="col">${t('admin.orders.status')}</th>
          <th scope="col">${t('admin.orders.provider')}</th>
          <th scope="col" class="num">${t('admin.orders.refunded')}</th>
        </tr></thead>
        <tbody>${items.map((o) => html`<tr>
          <th scope="row"><${OrderLink} id=${o.id} /></th>
          <td>${dateTime(o.created_at)}</td>
          <td><${UserLink} id=${o.user_id} /></td>
          <td>${o.product}</td>
          <td class="num">${money(o.amount.amount, o.amount.currency)}</td>
          <td><${StatusBadge} kind="order" status=${o.status} /></td>
          <td>${tr('admin.provider', o.provider)}</td>
          <td class="num">${o.refunded && o.refunded.amount ? money(o.refunded.amount, o.refunded.currency) : t('admin.common.none')}</td>
        </tr>`)}</tbody>
      </table></div>`}
    </${Paged}>`;
}

/** What a refund's answer means, in words. */
function outcomeText(rf, cur) {
  const parts = [];
  if (rf.status === 'succeeded') parts.push(t('admin.orders.refund_succeeded', { amount: money(rf.amount.amount, rf.amount.currency) }));
  else if (rf.status === 'pending') parts.push(t('admin.orders.refund_pending', { amount: money(rf.amount.amount, rf.amount.currency) }));
  else parts.push(t('admin.orders.refund_failed'));
  if (rf.status !== 'failed') {
    parts.push(t('admin.orders.refund_credits', { n: number(rf.credits) }));
    if (rf.shortfall > 0) parts.push(t('admin.orders.refund_shortfall', { n: number(rf.shortfall) }));
  }
  return parts.join(' ');
}

function RefundForm({ o, setMsg, onDone }) {
  const cur = o.amount.currency;
  const left = o.amount.amount - (o.refunded ? o.refunded.amount : 0);
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  const [neg, setNeg] = useState(false);
  const [ask, setAsk] = useState(null); // {minor}
  const [busy, setBusy] = useState(false);
  const [key, setKey] = useState(newIdempotencyKey);
  const d = minorDigits(cur);
  const check = (e) => {
    e.preventDefault();
    const minor = parseMoney(amount, cur);
    if (minor === null || minor <= 0) {
      setMsg({ ok: false, text: t('admin.orders.amount_invalid', { digits: d }) });
      return;
    }
    if (minor > left) {
      setMsg({ ok: false, text: t('admin.orders.amount_too_big', { max: money(left, cur) }) });
      return;
    }
    if (!reason.trim()) {
      setMsg({ ok: false, text: t('admin.orders.reason_required') });
      return;
    }
    setMsg(null);
    setAsk({ minor });
  };
  const run = async () => {
    setBusy(true);
    try {
      const res = await api('/admin/orders/' + encodeURIComponent(o.id) + '/refund', {
        method: 'POST', body: { amount: ask.minor, reason: reason.trim(), ...(neg ? { allow_negative: true } : {}) }, idem: key });
      setMsg({ ok: res.refund.status !== 'failed', text: outcomeText(res.refund, cur) });
      setAmount('');
      setReason('');
      setNeg(false);
      setKey(newIdempotencyKey());
      onDone();
    } catch (err) {
      let text;
      if (err.code === 'insufficient_credits') text = t('admin.orders.refund_spent');
      else if (err.code === 'refund_exceeds_payment')
        text = t('admin.orders.amount_too_big', { max: money(err.details.refundable, err.details.currency || cur) });
      else if (err.code === 'refund_declined') text = t('admin.orders.refund_declined', { reason: err.details.reason || '' });
      else text = errorText(err);
      setMsg({ ok: false, text });
      if (err.code !== 'idempotency_in_progress' && err.status !== 503 && err.status !== 0) setKey(newIdempotencyKey());
    } finally {
      setBusy(false);
      setAsk(null);
    }
  };
  return html`<section class="card" aria-labelledby="refund-title">
    <h2 id="refund-title">${t('admin.orders.refund')}</h2>
    <p class="muted">${t('admin.orders.refundable', { amount: money(left, cur), credits: number(o.credits) })}</p>
    <form onSubmit=${check}>
      <div class="field"><label for="refund-amount">${t('admin.orders.refund_amount', { currency: cur })}</label>
        <input id="refund-amount" inputmode="decimal" required value=${amount} autocomplete="off" aria-describedby="refund-amount-hint"
          onInput=${(e) => setAmount(e.target.value)} />
        <p class="hint" id="refund-amount-hint">${t('admin.orders.refund_amount_hint', { max: money(left, cur) })}</p></div>
      <div class="field"><label for="refund-reason">${t('admin.orders.reason')}</label>
        <textarea id="refund-reason" required maxlength="500" value=${reason} onInput=${(e) => setReason(e.target.value)}></textarea></div>
      <div class="check"><input id="refund-neg" type="checkbox" checked=${neg} aria-describedby="refund-neg-hint"
          onChange=${(e) => setNeg(e.target.checked)} />
        <label for="refund-neg">${t('admin.orders.allow_negative')}</label></div>
      <p class="hint" id="refund-neg-hint">${t('admin.orders.allow_negative_hint')}</p>
      <button type="submit" class="btn danger">${t('admin.orders.refund_submit')}</button>
    </form>
    <${ConfirmDialog} open=${!!ask} busy=${busy} danger onConfirm=${run} onCancel=${() => setAsk(null)}
      title=${ask ? t('admin.orders.refund_q', { amount: money(ask.minor, cur), id: o.id }) : ''} confirmLabel=${t('admin.orders.refund_confirm')}>
      <p>${t('admin.orders.refund_q_text')}</p>
    </${ConfirmDialog}>
  </section>`;
}

/** The last refund's outcome (kept here: a full refund makes the form go away). */
function Outcome({ msg }) {
  return html`<div role="status" aria-live="polite">${msg ? html`<p class=${'notice ' + (msg.ok ? 'ok' : 'bad')}>${msg.text}</p>` : null}</div>`;
}

function Detail({ id }) {
  const load = useLoad(() => api('/admin/orders/' + encodeURIComponent(id)), [id]);
  const [msg, setMsg] = useState(null);
  return html`<p><a href="/admin/orders">${t('admin.orders.back')}</a></p>
    <h1>${t('admin.orders.detail_title', { id })}</h1>
    <${Async} load=${load}>
      ${(o) => html`<div class="grid two">
          <section class="card" aria-labelledby="order-facts">
            <h2 id="order-facts">${t('admin.orders.facts')}</h2>
            <${Facts} rows=${[
              [t('admin.orders.status'), html`<${StatusBadge} kind="order" status=${o.status} />`],
              [t('admin.orders.user'), html`<${UserLink} id=${o.user_id} />`],
              [t('admin.orders.product'), html`${o.product} <span class="muted">(${tr('admin.kind', o.kind)})</span>`],
              [t('admin.orders.credits'), number(o.credits)],
              [t('admin.orders.amount'), money(o.amount.amount, o.amount.currency)],
              [t('admin.orders.refunded'), money(o.refunded.amount, o.refunded.currency)],
              [t('admin.orders.provider'), tr('admin.provider', o.provider)],
              [t('admin.orders.provider_ref'), o.provider_ref ? html`<code>${o.provider_ref}</code>` : null],
              [t('admin.orders.region'), tr('admin.region', o.region)],
              [t('admin.orders.created'), dateTime(o.created_at)],
              [t('admin.orders.paid_at'), o.paid_at ? dateTime(o.paid_at) : null],
              [t('admin.orders.expires_at'), dateTime(o.expires_at)],
              [t('admin.orders.query_attempts'), number(o.query_attempts)],
            ]} />
          </section>
          ${o.kind === 'pack' && (o.status === 'paid' || o.status === 'partially_refunded')
            ? html`<${RefundForm} o=${o} setMsg=${setMsg} onDone=${load.reload} />`
            : html`<section class="card"><h2>${t('admin.orders.refund')}</h2>
                <p class="muted">${t(o.kind !== 'pack' ? 'admin.orders.plan_not_refundable'
                  : o.status === 'refunded' ? 'admin.orders.fully_refunded' : 'admin.orders.not_refundable')}</p>
                </section>`}
        </div>
        <${Outcome} msg=${msg} />
        <h2>${t('admin.orders.refunds')}</h2>
        ${o.refunds.length
          ? html`<div class="table-wrap"><table>
              <caption class="sr-only">${t('admin.orders.refunds')}</caption>
              <thead><tr>
                <th scope="col">${t('admin.orders.created')}</th>
                <th scope="col" class="num">${t('admin.orders.amount')}</th>
                <th scope="col">${t('admin.orders.status')}</th>
                <th scope="col" class="num">${t('admin.orders.credits_back')}</th>
                <th scope="col" class="num">${t('admin.orders.shortfall')}</th>
                <th scope="col">${t('admin.orders.reason')}</th>
                <th scope="col">${t('admin.orders.by')}</th>
              </tr></thead>
              <tbody>${o.refunds.map((r) => html`<tr>
                <th scope="row">${dateTime(r.created_at)}<br /><code class="muted small">${r.id}</code></th>
                <td class="num">${money(r.amount.amount, r.amount.currency)}</td>
                <td><${StatusBadge} kind="refund" status=${r.status} /></td>
                <td class="num">${number(r.credits)}</td>
                <td class="num">${r.shortfall ? number(r.shortfall) : t('admin.common.none')}</td>
                <td>${r.reason}</td>
                <td>${r.actor_id ? html`<${UserLink} id=${r.actor_id} />` : t('admin.orders.by_provider')}</td>
              </tr>`)}</tbody>
            </table></div>`
          : html`<p class="muted">${t('admin.orders.no_refunds')}</p>`}`}
    </${Async}>`;
}

export default function Orders({ query }) {
  return html`<section class="admin">${query.id ? html`<${Detail} id=${query.id} key=${query.id} />` : html`<${List} query=${query} />`}</section>`;
}
