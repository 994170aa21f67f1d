// admin/subscriptions.js - every subscription with the API's filters (status, provider, user)
// and, at ?id=sub_..., one subscription with a confirmed cancel (at period end or now).
import { html, useState } from '../../lib.js';
import { api } from '../../api.js';
import { date, dateTime, money, number, t } from '../../i18n.js';
import { navigate } from '../../router.js';
import { Async, errorText, useLoad } from '../../components/ui.js';
import { ConfirmDialog, Facts, OrderLink, PAY_PROVIDERS, Paged, Select, StatusBadge, SubscriptionLink, UserLink, tr, usePaged, withQuery } from '../../components/admin.js';

const STATUSES = ['active', 'past_due', 'canceled', 'expired'];

function period(p) {
  if (!p || (!p.start && !p.end)) return null;
  return t('admin.subscriptions.range', { start: p.start ? date(p.start) : '…', end: p.end ? date(p.end) : '…' });
}

function List({ query }) {
  const [f, setF] = useState({ status: query.status || '', provider: query.provider || '', user_id: query.user_id || '' });
  const set = (k) => (v) => setF((x) => ({ ...x, [k]: v }));
  const key = JSON.stringify([query.status, query.provider, query.user_id]);
  const paged = usePaged(
    (cursor) => api('/admin/subscriptions', { query: { status: query.status, provider: query.provider, user_id: query.user_id, limit: 50, cursor } }),
    [key],
  );
  const submit = (e) => {
    e.preventDefault();
    navigate(withQuery('/admin/subscriptions', { ...f, user_id: f.user_id.trim() }), true);
  };
  return html`<h1>${t('admin.subscriptions.title')}</h1>
    <form class="filters" onSubmit=${submit} aria-label=${t('admin.common.filters')}>
      <${Select} id="subs-status" label=${t('admin.subscriptions.status')} value=${f.status} onChange=${set('status')}
        options=${[['', t('admin.common.any')], ...STATUSES.map((s) => [s, tr('admin.status.subscription', s)])]} />
      <${Select} id="subs-provider" label=${t('admin.subscriptions.provider')} value=${f.provider} onChange=${set('provider')}
        options=${[['', t('admin.common.any')], ...PAY_PROVIDERS.map((p) => [p, tr('admin.provider', p)])]} />
      <div class="field"><label for="subs-user">${t('admin.subscriptions.user')}</label>
        <input id="subs-user" value=${f.user_id} maxlength="63" spellcheck="false" autocomplete="off" placeholder="usr_…"
          onInput=${(e) => set('user_id')(e.target.value)} /></div>
      <div class="field submit"><button type="submit" class="btn primary">${t('admin.common.apply')}</button></div>
    </form>
    <${Paged} paged=${paged} empty=${t('admin.subscriptions.none')}>
      ${(items) => html`<div class="table-wrap"><table>
        <caption class="sr-only">${t('admin.subscriptions.title')}</caption>
        <thead><tr>
          <th scope="col">${t('admin.subscriptions.subscription')}</th>
          <th scope="col">${t('admin.subscriptions.user')}</th>
          <th scope="col">${t('admin.subscriptions.plan')}</th>
          <th scope="col">${t('admin.subscriptions.status')}</th>
          <th scope="col">${t('admin.subscriptions.renewal')}</th>
          <th scope="col">${t('admin.subscriptions.current_period')}</th>
          <th scope="col" class="num">${t('admin.subscriptions.amount')}</th>
        </tr></thead>
        <tbody>${items.map((s) => html`<tr>
          <th scope="row"><${SubscriptionLink} id=${s.id} /></th>
          <td><${UserLink} id=${s.user_id} /></td>
          <td>${s.product}</td>
          <td><${StatusBadge} kind="subscription" status=${s.status} /></td>
          <td>${renewal(s)}</td>
          <td>${period(s.current_period) || t('admin.common.none')}</td>
          <td class="num">${money(s.amount.amount, s.amount.currency)}</td>
        </tr>`)}</tbody>
      </table></div>`}
    </${Paged}>`;
}

function renewal(s) {
  if (s.status !== 'active' && s.status !== 'past_due') return s.ended_at ? t('admin.subscriptions.ended_on', { date: date(s.ended_at) }) : t('admin.common.none');
  if (s.auto_renew && s.renews_at) return t('admin.subscriptions.renews_on', { date: date(s.renews_at) });
  if (s.ends_at) return t('admin.subscriptions.ends_on', { date: date(s.ends_at) });
  return t('admin.common.none');
}

function Cancel({ s, onDone }) {
  const [when, setWhen] = useState('end');
  const [ask, setAsk] = useState(false);
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState(null);
  const live = s.status === 'active' || s.status === 'past_due';
  const run = async () => {
    setBusy(true);
    try {
      const res = await api('/admin/subscriptions/' + encodeURIComponent(s.id) + '/cancel', { method: 'POST', body: { at_period_end: when === 'end' } });
      const n = res.subscription;
      setMsg({ ok: true, text: when === 'end' ? t('admin.subscriptions.canceled_end', { date: n.ends_at ? date(n.ends_at) : '…' }) : t('admin.subscriptions.canceled_now') });
      onDone(n);
    } catch (err) {
      setMsg({ ok: false, text: err.code === 'conflict' ? t('admin.subscriptions.already_ended') : errorText(err) });
    } finally {
      setBusy(false);
      setAsk(false);
    }
  };
  return html`<section class="card" aria-labelledby="sub-cancel">
    <h2 id="sub-cancel">${t('admin.subscriptions.cancel')}</h2>
    ${!live ? html`<p class="muted">${t('admin.subscriptions.not_live')}</p>` : null}
    ${live && s.cancel_at_period_end ? html`<p class="muted">${t('admin.subscriptions.already_cancelling')}</p>` : null}
    ${live
      ? html`<form onSubmit=${(e) => { e.preventDefault(); setAsk(true); }}>
          <fieldset>
            <legend>${t('admin.subscriptions.when')}</legend>
            <div class="check"><input type="radio" id="cancel-end" name="cancel-when" checked=${when === 'end'} onChange=${() => setWhen('end')} />
              <label for="cancel-end">${t('admin.subscriptions.at_end')}</label></div>
            <div class="check"><input type="radio" id="cancel-now" name="cancel-when" checked=${when === 'now'} onChange=${() => setWhen('now')} />
              <label for="cancel-now">${t('admin.subscriptions.now')}</label></div>
          </fieldset>
          <button type="submit" class="btn danger" disabled=${when === 'end' && s.cancel_at_period_end}>${t('admin.subscriptions.cancel_submit')}</button>
        </form>`
      : null}
    <div role="status" aria-live="polite">${msg ? html`<p class=${'notice ' + (msg.ok ? 'ok' : 'bad')}>${msg.text}</p>` : null}</div>
    <${ConfirmDialog} open=${ask} busy=${busy} danger onConfirm=${run} onCancel=${() => setAsk(false)}
      title=${t('admin.subscriptions.cancel_q', { id: s.id })} confirmLabel=${t('admin.subscriptions.cancel_confirm')}>
      <p>${when === 'end' ? t('admin.subscriptions.at_end_text') : t('admin.subscriptions.now_text')}</p>
    </${ConfirmDialog}>
  </section>`;
}

function Detail({ id }) {
  const [changed, setChanged] = useState(null);
  const load = useLoad(() => api('/admin/subscriptions/' + encodeURIComponent(id)), [id]);
  return html`<p><a href="/admin/subscriptions">${t('admin.subscriptions.back')}</a></p>
    <h1>${t('admin.subscriptions.detail_title', { id })}</h1>
    <${Async} load=${load}>
      ${(data) => {
        const s = changed || data;
        const c = s.credits || {};
        return html`<div class="grid two">
          <section class="card" aria-labelledby="sub-facts">
            <h2 id="sub-facts">${t('admin.subscriptions.facts')}</h2>
            <${Facts} rows=${[
              [t('admin.subscriptions.status'), html`<${StatusBadge} kind="subscription" status=${s.status} />`],
              [t('admin.subscriptions.user'), html`<${UserLink} id=${s.user_id} />`],
              [t('admin.subscriptions.plan'), html`${s.product} <span class="muted">(${tr('admin.period', s.period)})</span>`],
              [t('admin.subscriptions.amount'), money(s.amount.amount, s.amount.currency)],
              [t('admin.subscriptions.provider'), tr('admin.provider', s.provider)],
              [t('admin.subscriptions.provider_ref'), s.provider_ref ? html`<code>${s.provider_ref}</code>` : t('admin.subscriptions.prepaid')],
              [t('admin.subscriptions.order'), html`<${OrderLink} id=${s.order_id} />`],
              [t('admin.subscriptions.renewal'), renewal(s)],
              [t('admin.subscriptions.cancel_at_end'), t(s.cancel_at_period_end ? 'common.yes' : 'common.no')],
              [t('admin.subscriptions.next_product'), s.next_product],
              [t('admin.subscriptions.current_period'), period(s.current_period)],
              [t('admin.subscriptions.credit_period'), period(s.credit_period)],
              [t('admin.subscriptions.credits'), t('admin.subscriptions.credits_line', {
                granted: number(c.granted || 0), used: c.used === null || c.used === undefined ? '…' : number(c.used),
                remaining: c.remaining === null || c.remaining === undefined ? '…' : number(c.remaining), per_month: number(c.per_month || 0) })],
              [t('admin.subscriptions.created'), dateTime(s.created_at)],
              [t('admin.subscriptions.updated'), dateTime(s.updated_at)],
              [t('admin.subscriptions.ended_at'), s.ended_at ? dateTime(s.ended_at) : null],
            ]} />
          </section>
          <${Cancel} s=${s} onDone=${setChanged} />
        </div>`;
      }}
    </${Async}>`;
}

export default function Subscriptions({ query }) {
  return html`<section class="admin">${query.id ? html`<${Detail} id=${query.id} key=${query.id} />` : html`<${List} query=${query} />`}</section>`;
}
