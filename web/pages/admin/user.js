// admin/user.js - one user: profile and wallet, disable/enable and role (confirmed), a credit
// adjustment with a reason, and the user's recent orders and subscriptions.
import { html, useState } from '../../lib.js';
import { api, newIdempotencyKey } from '../../api.js';
import { date, dateTime, money, number, t } from '../../i18n.js';
import { useShared } from '../../state.js';
import { Async, ErrorBox, errorText, useLoad } from '../../components/ui.js';
import { ConfirmDialog, Facts, OrderLink, Paged, Select, StatusBadge, SubscriptionLink, tr, usePaged, withQuery } from '../../components/admin.js';

function Profile({ u, credits }) {
  return html`<div class="grid two">
    <section class="card" aria-labelledby="user-profile">
      <h2 id="user-profile">${t('admin.user.profile')}</h2>
      <${Facts} rows=${[
        [t('admin.user.id'), html`<code>${u.id}</code>`],
        [t('admin.user.display_name'), u.display_name],
        [t('admin.user.email'), u.email
          ? html`${u.email} <span class=${'badge ' + (u.email_verified ? 'ok' : 'warn')}>${t(u.email_verified ? 'admin.user.verified' : 'admin.user.unverified')}</span>`
          : null],
        [t('admin.user.role'), tr('admin.role', u.role)],
        [t('admin.user.state'), html`<${StatusBadge} kind="user" status=${u.disabled ? 'disabled' : 'active'} />`],
        [t('admin.user.region'), tr('admin.region', u.region)],
        [t('admin.user.locale'), tr('lang', u.locale)],
        [t('admin.user.password'), t(u.has_password ? 'common.yes' : 'common.no')],
        [t('admin.user.created'), dateTime(u.created_at)],
        [t('admin.user.updated'), dateTime(u.updated_at)],
      ]} />
    </section>
    <section class="card" aria-labelledby="user-credits">
      <h2 id="user-credits">${t('admin.user.credits')}</h2>
      <${Facts} rows=${[
        [t('admin.user.available'), html`<span class="stat">${number(credits.available)}</span>`],
        [t('admin.user.paid_credits'), number(credits.paid_credits)],
        [t('admin.user.plan_credits'), number(credits.plan_credits)],
        [t('admin.user.plan_expires'), credits.plan_expires_at ? dateTime(credits.plan_expires_at) : null],
      ]} />
    </section>
  </div>`;
}

/** Disable/enable and role, each behind a confirm dialog. */
function Access({ u, self, onChanged }) {
  const [role, setRole] = useState(u.role === 'admin' ? 'user' : 'admin');
  const [ask, setAsk] = useState(null); // {body, title, label, danger}
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState('');
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const res = await api('/admin/users/' + encodeURIComponent(u.id), { method: 'PATCH', body: ask.body });
      setDone(ask.done);
      setAsk(null);
      onChanged(res.user);
    } catch (e) {
      setError(e);
      setAsk(null);
    } finally {
      setBusy(false);
    }
  };
  const name = u.display_name || u.email || u.id;
  const toggle = () =>
    setAsk(u.disabled
      ? { body: { disabled: false }, title: t('admin.user.enable_q', { name }), label: t('admin.user.enable'), done: t('admin.user.enabled_done') }
      : { body: { disabled: true }, title: t('admin.user.disable_q', { name }), label: t('admin.user.disable'), danger: true,
          text: t('admin.user.disable_text'), done: t('admin.user.disabled_done') });
  const changeRole = (e) => {
    e.preventDefault();
    if (role === u.role) return;
    setAsk({ body: { role }, title: t('admin.user.role_q', { name, role: tr('admin.role', role) }), label: t('admin.user.change_role'),
      danger: role === 'admin', text: t(role === 'admin' ? 'admin.user.role_admin_text' : 'admin.user.role_user_text'),
      done: t('admin.user.role_done', { role: tr('admin.role', role) }) });
  };
  return html`<section class="card" aria-labelledby="user-access">
    <h2 id="user-access">${t('admin.user.access')}</h2>
    ${self ? html`<p class="notice">${t('admin.user.self')}</p>` : null}
    <div class="row">
      <button type="button" class=${'btn ' + (u.disabled ? '' : 'danger')} disabled=${self} onClick=${toggle}>
        ${t(u.disabled ? 'admin.user.enable' : 'admin.user.disable')}</button>
    </div>
    <form class="filters spaced" onSubmit=${changeRole}>
      <${Select} id="user-role" label=${t('admin.user.new_role')} value=${role} onChange=${setRole} disabled=${self}
        options=${[['user', t('admin.role.user')], ['admin', t('admin.role.admin')]]} />
      <div class="field submit"><button type="submit" class="btn" disabled=${self || role === u.role}>${t('admin.user.change_role')}</button></div>
    </form>
    <div role="status" aria-live="polite">${done ? html`<p class="notice ok">${done}</p>` : null}</div>
    <${ErrorBox} error=${error} />
    <${ConfirmDialog} open=${!!ask} title=${ask && ask.title} confirmLabel=${ask && ask.label} danger=${ask && ask.danger}
      busy=${busy} onConfirm=${run} onCancel=${() => setAsk(null)}>
      ${ask && ask.text ? html`<p>${ask.text}</p>` : null}
    </${ConfirmDialog}>
  </section>`;
}

/** POST /admin/users/{id}/credits {delta, bucket, reason}. */
function Adjust({ u, credits, onDone }) {
  const [delta, setDelta] = useState('');
  const [bucket, setBucket] = useState('paid');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState(null); // {ok, text}
  const [key, setKey] = useState(newIdempotencyKey);
  const submit = async (e) => {
    e.preventDefault();
    const n = Number(delta);
    if (!/^-?\d{1,15}$/.test(delta.trim()) || n === 0) {
      setMsg({ ok: false, text: t('admin.user.delta_invalid') });
      return;
    }
    if (!reason.trim()) {
      setMsg({ ok: false, text: t('admin.user.reason_required') });
      return;
    }
    setBusy(true);
    setMsg(null);
    try {
      const res = await api('/admin/users/' + encodeURIComponent(u.id) + '/credits', {
        method: 'POST', body: { delta: n, bucket, reason: reason.trim() }, idem: key });
      setMsg({ ok: true, text: t('admin.user.adjusted', { bucket: t('admin.bucket.' + res.bucket), old: number(res.old), new: number(res.new) }) });
      setDelta('');
      setReason('');
      setKey(newIdempotencyKey());
      onDone(res.credits);
    } catch (err) {
      let text;
      if (err.code === 'insufficient_credits')
        text = t('admin.user.adjust_insufficient', { bucket: t('admin.bucket.' + bucket),
          have: number(bucket === 'plan' ? credits.plan_credits : credits.paid_credits), delta: number(-n) });
      else text = errorText(err);
      setMsg({ ok: false, text });
      // A refused adjustment did not use up its key; anything else may be retried with it.
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="card" aria-labelledby="user-adjust">
    <h2 id="user-adjust">${t('admin.user.adjust')}</h2>
    <form onSubmit=${submit}>
      <div class="grid two">
        <div class="field"><label for="adj-delta">${t('admin.user.delta')}</label>
          <input id="adj-delta" inputmode="numeric" required value=${delta} aria-describedby="adj-delta-hint"
            onInput=${(e) => setDelta(e.target.value)} />
          <p class="hint" id="adj-delta-hint">${t('admin.user.delta_hint')}</p></div>
        <${Select} id="adj-bucket" label=${t('admin.user.bucket')} value=${bucket} onChange=${setBucket}
          options=${[['paid', t('admin.bucket.paid')], ['plan', t('admin.bucket.plan')]]} />
      </div>
      <div class="field"><label for="adj-reason">${t('admin.user.reason')}</label>
        <textarea id="adj-reason" required maxlength="500" value=${reason} aria-describedby="adj-reason-hint"
          onInput=${(e) => setReason(e.target.value)}></textarea>
        <p class="hint" id="adj-reason-hint">${t('admin.user.reason_hint')}</p></div>
      <button type="submit" class="btn primary" disabled=${busy}>${busy ? t('common.loading') : t('admin.user.adjust_submit')}</button>
    </form>
    <div role="status" aria-live="polite">${msg ? html`<p class=${'notice ' + (msg.ok ? 'ok' : 'bad')}>${msg.text}</p>` : null}</div>
  </section>`;
}

function RecentOrders({ id }) {
  const paged = usePaged((cursor) => api('/admin/orders', { query: { user_id: id, limit: 10, cursor } }), [id]);
  return html`<section aria-labelledby="user-orders">
    <div class="spread"><h2 id="user-orders">${t('admin.user.orders')}</h2>
      <a href=${withQuery('/admin/orders', { user_id: id })}>${t('admin.user.all_orders')}</a></div>
    <${Paged} paged=${paged} empty=${t('admin.orders.none')}>
      ${(items) => html`<div class="table-wrap"><table>
        <caption class="sr-only">${t('admin.user.orders')}</caption>
        <thead><tr><th scope="col">${t('admin.orders.order')}</th><th scope="col">${t('admin.orders.created')}</th>
          <th scope="col">${t('admin.orders.product')}</th><th scope="col" class="num">${t('admin.orders.amount')}</th>
          <th scope="col">${t('admin.orders.status')}</th></tr></thead>
        <tbody>${items.map((o) => html`<tr>
          <th scope="row"><${OrderLink} id=${o.id} /></th><td>${dateTime(o.created_at)}</td><td>${o.product}</td>
          <td class="num">${money(o.amount.amount, o.amount.currency)}</td>
          <td><${StatusBadge} kind="order" status=${o.status} /></td></tr>`)}</tbody>
      </table></div>`}
    </${Paged}>
  </section>`;
}

function RecentSubscriptions({ id }) {
  const paged = usePaged((cursor) => api('/admin/subscriptions', { query: { user_id: id, limit: 5, cursor } }), [id]);
  return html`<section aria-labelledby="user-subs">
    <div class="spread"><h2 id="user-subs">${t('admin.user.subscriptions')}</h2>
      <a href=${withQuery('/admin/subscriptions', { user_id: id })}>${t('admin.user.all_subscriptions')}</a></div>
    <${Paged} paged=${paged} empty=${t('admin.subscriptions.none')}>
      ${(items) => html`<div class="table-wrap"><table>
        <caption class="sr-only">${t('admin.user.subscriptions')}</caption>
        <thead><tr><th scope="col">${t('admin.subscriptions.subscription')}</th><th scope="col">${t('admin.subscriptions.plan')}</th>
          <th scope="col">${t('admin.subscriptions.status')}</th><th scope="col">${t('admin.subscriptions.period_end')}</th></tr></thead>
        <tbody>${items.map((s) => html`<tr>
          <th scope="row"><${SubscriptionLink} id=${s.id} /></th><td>${s.product}</td>
          <td><${StatusBadge} kind="subscription" status=${s.status} /></td>
          <td>${s.current_period && s.current_period.end ? date(s.current_period.end) : t('admin.common.none')}</td></tr>`)}</tbody>
      </table></div>`}
    </${Paged}>
  </section>`;
}

export default function User({ params }) {
  const { user: me } = useShared();
  const [local, setLocal] = useState(null); // changes made here: {user?, credits?}
  const load = useLoad(() => {
    setLocal(null);
    return api('/admin/users/' + encodeURIComponent(params.id));
  }, [params.id]);
  return html`<section class="admin">
    <p><a href="/admin/users">${t('admin.user.back')}</a></p>
    ${load.data ? null : html`<h1>${t('admin.user.title')}</h1>`}
    <${Async} load=${load}>
      ${(data) => {
        const u = (local && local.user) || data.user;
        const credits = (local && local.credits) || data.credits;
        return html`<h1>${u.display_name || u.email || u.id}</h1>
          <${Profile} u=${u} credits=${credits} />
          <div class="grid two">
            <${Access} u=${u} self=${me && me.id === u.id} onChanged=${(nu) => setLocal((l) => ({ ...l, user: nu }))} />
            <${Adjust} u=${u} credits=${credits} onDone=${(c) => setLocal((l) => ({ ...l, credits: c }))} />
          </div>
          <${RecentOrders} id=${u.id} />
          <${RecentSubscriptions} id=${u.id} />`;
      }}
    </${Async}>
  </section>`;
}
