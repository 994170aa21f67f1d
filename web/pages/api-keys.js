// api-keys.js - the user's API keys: the list (never the keys themselves), a new key (shown
// once, with a copy button), and revoking one after a confirmation.
import { html, useState } from '../lib.js';
import { api } from '../api.js';
import { dateTime, t } from '../i18n.js';
import { Async, Empty, ErrorBox, Field, useLoad } from '../components/ui.js';
import { AccountNav, ConfirmButton } from '../components/account.js';

function NewKey({ created, onDone }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied(true);
    } catch {
      const el = document.getElementById('new-key');
      el.select();
    }
  };
  return html`<div class="notice new-key" role="status">
    <p><strong>${t('apikeys.created', { name: created.name })}</strong></p>
    <p>${t('apikeys.once')}</p>
    <div class="field"><label for="new-key">${t('apikeys.key')}</label>
      <div class="row"><input id="new-key" class="mono grow" readonly value=${created.key} onFocus=${(e) => e.target.select()} />
        <button type="button" class="btn" onClick=${copy}>${copied ? t('common.copied') : t('apikeys.copy')}</button></div></div>
    <p><button type="button" class="btn small" onClick=${onDone}>${t('apikeys.done')}</button></p>
  </div>`;
}

export default function ApiKeys() {
  const load = useLoad(() => api('/api-keys'), []);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [created, setCreated] = useState(null);

  const create = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const k = await api('/api-keys', { method: 'POST', body: { name: name.trim() } });
      setCreated(k);
      setName('');
      load.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (k) => {
    await api('/api-keys/' + encodeURIComponent(k.id), { method: 'DELETE' });
    load.reload();
  };

  return html`<section>
    <${AccountNav} />
    <h1>${t('apikeys.title')}</h1>
    <p class="muted">${t('apikeys.lead')}</p>
    ${created ? html`<${NewKey} created=${created} onDone=${() => setCreated(null)} />` : null}
    <form class="card inline-form" onSubmit=${create}>
      <h2>${t('apikeys.create_title')}</h2>
      <${Field} id="key-name" label=${t('apikeys.name')} required maxlength="100" value=${name}
        onInput=${(e) => setName(e.target.value)} hint=${t('apikeys.name_hint')} />
      <${ErrorBox} error=${error} />
      <button type="submit" class="btn primary" disabled=${busy || !name.trim()}>${t('apikeys.create')}</button>
    </form>
    <h2>${t('apikeys.list_title')}</h2>
    <${Async} load=${load}>${(page) => !page.data.length ? html`<${Empty}>${t('apikeys.empty')}<//>` : html`<div class="table-wrap"><table>
      <caption class="sr-only">${t('apikeys.list_title')}</caption>
      <thead><tr><th scope="col">${t('apikeys.name')}</th><th scope="col">${t('apikeys.prefix')}</th>
        <th scope="col">${t('apikeys.created_at')}</th><th scope="col">${t('apikeys.last_used')}</th>
        <th scope="col"><span class="sr-only">${t('apikeys.actions')}</span></th></tr></thead>
      <tbody>${page.data.map((k) => html`<tr>
        <td>${k.name}</td><td><code>${k.prefix}…</code></td>
        <td>${dateTime(k.created_at)}</td><td>${k.last_used_at ? dateTime(k.last_used_at) : t('apikeys.never')}</td>
        <td><${ConfirmButton} small=${true} danger=${true} label=${t('apikeys.revoke')} ariaLabel=${t('apikeys.revoke_named', { name: k.name })}
          title=${t('apikeys.revoke_title', { name: k.name })} text=${t('apikeys.revoke_text')}
          confirmLabel=${t('apikeys.revoke_confirm')} onConfirm=${() => revoke(k)} /></td>
      </tr>`)}</tbody></table></div>`}</${Async}>
  </section>`;
}
