// admin/audit-log.js - the audit log, newest first, a page at a time (the API has a cursor and
// no filters): time, actor, action (translated when known, raw otherwise), target, details.
import { html } from '../../lib.js';
import { api } from '../../api.js';
import { dateTime, has, t } from '../../i18n.js';
import { OrderLink, Paged, SubscriptionLink, UserLink, usePaged } from '../../components/admin.js';

function Action({ action }) {
  const key = 'admin.audit.action.' + action.replace(/\./g, '_');
  return has(key) ? html`${t(key)}<br /><code class="muted small">${action}</code>` : html`<code>${action}</code>`;
}

function Target({ type, id }) {
  if (!type && !id) return html`<span class="muted">${t('admin.common.none')}</span>`;
  let link = html`<code>${id}</code>`;
  if (id && id.startsWith('usr_')) link = html`<${UserLink} id=${id} />`;
  else if (id && id.startsWith('ord_')) link = html`<${OrderLink} id=${id} />`;
  else if (id && id.startsWith('sub_')) link = html`<${SubscriptionLink} id=${id} />`;
  const tk = 'admin.audit.target.' + type;
  return html`${type ? html`<span class="muted small">${has(tk) ? t(tk) : type}</span><br />` : null}${id ? link : null}`;
}

/** A value of details as text (objects compactly as JSON). */
function show(v) {
  if (v === null) return 'null';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function Details({ details }) {
  const entries = Object.entries(details || {});
  if (!entries.length) return html`<span class="muted">${t('admin.common.none')}</span>`;
  return html`<dl class="kv">${entries.map(([k, v]) => html`<div><dt>${k}</dt><dd><code>${show(v)}</code></dd></div>`)}</dl>`;
}

export default function AuditLog() {
  const paged = usePaged((cursor) => api('/admin/audit-log', { query: { limit: 50, cursor } }), []);
  return html`<section class="admin">
    <div class="spread"><h1>${t('admin.audit.title')}</h1>
      <button type="button" class="btn small" onClick=${paged.reload} disabled=${paged.loading}>${t('admin.audit.refresh')}</button></div>
    <p class="muted">${t('admin.audit.intro')}</p>
    <${Paged} paged=${paged} empty=${t('admin.audit.none')}>
      ${(items) => html`<div class="table-wrap"><table class="audit">
        <caption class="sr-only">${t('admin.audit.title')}</caption>
        <thead><tr>
          <th scope="col">${t('admin.audit.time')}</th>
          <th scope="col">${t('admin.audit.actor')}</th>
          <th scope="col">${t('admin.audit.action_col')}</th>
          <th scope="col">${t('admin.audit.target_col')}</th>
          <th scope="col">${t('admin.audit.details')}</th>
          <th scope="col">${t('admin.audit.source')}</th>
        </tr></thead>
        <tbody>${items.map((a) => html`<tr>
          <th scope="row">${dateTime(a.created_at)}</th>
          <td>${a.actor_id ? html`<${UserLink} id=${a.actor_id} />` : html`<span class="muted">${t('admin.audit.system')}</span>`}</td>
          <td><${Action} action=${a.action} /></td>
          <td><${Target} type=${a.target_type} id=${a.target_id} /></td>
          <td><${Details} details=${a.details} /></td>
          <td class="small">${a.ip ? html`<code>${a.ip}</code>` : null}${a.request_id ? html`<br /><code class="muted">${a.request_id}</code>` : null}</td>
        </tr>`)}</tbody>
      </table></div>`}
    </${Paged}>
  </section>`;
}
