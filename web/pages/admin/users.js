// admin/users.js - find users (search by email, name or id; filter by role and disabled) and
// open one by id.
import { html, useState } from '../../lib.js';
import { api } from '../../api.js';
import { dateTime, number, t } from '../../i18n.js';
import { navigate } from '../../router.js';
import { Paged, Select, StatusBadge, tr, usePaged, withQuery } from '../../components/admin.js';

export default function Users({ query }) {
  const [q, setQ] = useState(query.q || '');
  const [role, setRole] = useState(query.role || '');
  const [disabled, setDisabled] = useState(query.disabled || '');
  const [openId, setOpenId] = useState('');
  const key = JSON.stringify([query.q, query.role, query.disabled]);
  const paged = usePaged(
    (cursor) => api('/admin/users', { query: { q: query.q, role: query.role, disabled: query.disabled, limit: 50, cursor } }),
    [key],
  );

  const search = (e) => {
    e.preventDefault();
    navigate(withQuery('/admin/users', { q: q.trim(), role, disabled }), true);
  };
  const open = (e) => {
    e.preventDefault();
    const id = openId.trim();
    if (id) navigate('/admin/users/' + encodeURIComponent(id));
  };

  return html`<section class="admin">
    <h1>${t('admin.users.title')}</h1>
    <form class="filters" role="search" onSubmit=${search} aria-label=${t('admin.users.search_label')}>
      <div class="field grow"><label for="users-q">${t('admin.users.q')}</label>
        <input id="users-q" type="search" value=${q} maxlength="254" onInput=${(e) => setQ(e.target.value)}
          placeholder=${t('admin.users.q_placeholder')} /></div>
      <${Select} id="users-role" label=${t('admin.users.role')} value=${role} onChange=${setRole}
        options=${[['', t('admin.common.any')], ['user', t('admin.role.user')], ['admin', t('admin.role.admin')]]} />
      <${Select} id="users-disabled" label=${t('admin.users.state')} value=${disabled} onChange=${setDisabled}
        options=${[['', t('admin.common.any')], ['false', t('admin.users.enabled_only')], ['true', t('admin.users.disabled_only')]]} />
      <div class="field submit"><button type="submit" class="btn primary">${t('admin.users.search')}</button></div>
    </form>
    ${paged.error && paged.error.status === 404 ? html`<p class="notice">${t('admin.users.search_unavailable')}</p>` : null}
    <${Paged} paged=${paged} empty=${t('admin.users.none')}>
      ${(items) => html`<div class="table-wrap"><table>
        <caption class="sr-only">${t('admin.users.title')}</caption>
        <thead><tr>
          <th scope="col">${t('admin.users.user')}</th>
          <th scope="col">${t('admin.users.email')}</th>
          <th scope="col">${t('admin.users.role')}</th>
          <th scope="col">${t('admin.users.state')}</th>
          <th scope="col" class="num">${t('admin.users.credits')}</th>
          <th scope="col">${t('admin.users.region')}</th>
          <th scope="col">${t('admin.users.created')}</th>
        </tr></thead>
        <tbody>${items.map((x) => {
          const u = x.user || x;
          return html`<tr>
            <th scope="row"><a href=${'/admin/users/' + encodeURIComponent(u.id)}>${u.display_name || u.id}</a>
              <br /><code class="muted small">${u.id}</code></th>
            <td>${u.email || html`<span class="muted">${t('admin.common.none')}</span>`}
              ${u.email && !u.email_verified ? html` <span class="badge warn">${t('admin.user.unverified')}</span>` : null}</td>
            <td>${tr('admin.role', u.role)}</td>
            <td><${StatusBadge} kind="user" status=${u.disabled ? 'disabled' : 'active'} /></td>
            <td class="num">${x.credits ? number(x.credits.available) : t('admin.common.none')}</td>
            <td>${tr('admin.region', u.region)}</td>
            <td>${dateTime(u.created_at)}</td>
          </tr>`;
        })}</tbody>
      </table></div>`}
    </${Paged}>
    <h2>${t('admin.users.open_title')}</h2>
    <form class="filters" onSubmit=${open}>
      <div class="field grow"><label for="users-open">${t('admin.users.open_id')}</label>
        <input id="users-open" value=${openId} required maxlength="64" pattern="usr_[0-9A-Za-z]+" spellcheck="false"
          autocomplete="off" placeholder="usr_…" onInput=${(e) => setOpenId(e.target.value)} /></div>
      <div class="field submit"><button type="submit" class="btn">${t('admin.users.open')}</button></div>
    </form>
  </section>`;
}
