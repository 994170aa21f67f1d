// admin/provider-keys.js - the generation providers' key pools: health and counters, adding a
// key (its secret is sent once and never shown again) and disabling/enabling one.
import { html, useState } from '../../lib.js';
import { api } from '../../api.js';
import { dateTime, number, percent, relative, t } from '../../i18n.js';
import { Async, errorText, useLoad } from '../../components/ui.js';
import { ConfirmDialog, Select, StatusBadge, tr } from '../../components/admin.js';

const PROVIDERS = ['dashscope', 'kie', 'gemini'];

function Health({ k }) {
  return html`<${StatusBadge} kind="key" status=${k.status} />
    ${(k.status === 'cooling_down' || k.status === 'rate_limited') && k.available_at
      ? html`<br /><span class="small">${t('admin.keys.until', { time: dateTime(k.available_at), rel: relative(k.available_at) })}</span>`
      : null}
    ${k.status === 'disabled' && k.disabled_reason ? html`<br /><span class="small">${t('admin.keys.reason_is', { reason: k.disabled_reason })}</span>` : null}`;
}

function AddKey({ onAdded }) {
  const [provider, setProvider] = useState('dashscope');
  const [secret, setSecret] = useState('');
  const [label, setLabel] = useState('');
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setMsg(null);
    try {
      const k = await api('/admin/provider-keys', { method: 'POST', body: { provider, key: secret, ...(label.trim() ? { label: label.trim() } : {}) } });
      setSecret('');
      setLabel('');
      setMsg({ ok: true, text: t('admin.keys.added', { prefix: k.prefix, provider: tr('admin.provider', k.provider) }) });
      onAdded();
    } catch (err) {
      setMsg({ ok: false, text: err.code === 'validation_failed' && err.details.field === 'key' ? t('admin.keys.secret_invalid') : errorText(err) });
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="card" aria-labelledby="key-add">
    <h2 id="key-add">${t('admin.keys.add')}</h2>
    <form onSubmit=${submit} autocomplete="off">
      <div class="grid three">
        <${Select} id="key-provider" label=${t('admin.keys.provider')} value=${provider} onChange=${setProvider}
          options=${PROVIDERS.map((p) => [p, tr('admin.provider', p)])} />
        <div class="field"><label for="key-secret">${t('admin.keys.secret')}</label>
          <input id="key-secret" type="password" required minlength="8" maxlength="512" value=${secret} autocomplete="off"
            spellcheck="false" aria-describedby="key-secret-hint" onInput=${(e) => setSecret(e.target.value)} />
          <p class="hint" id="key-secret-hint">${t('admin.keys.secret_hint')}</p></div>
        <div class="field"><label for="key-label">${t('admin.keys.label')}</label>
          <input id="key-label" maxlength="100" value=${label} onInput=${(e) => setLabel(e.target.value)} /></div>
      </div>
      <button type="submit" class="btn primary" disabled=${busy}>${busy ? t('common.loading') : t('admin.keys.add_submit')}</button>
    </form>
    <div role="status" aria-live="polite">${msg ? html`<p class=${'notice ' + (msg.ok ? 'ok' : 'bad')}>${msg.text}</p>` : null}</div>
  </section>`;
}

export default function ProviderKeys() {
  const load = useLoad(() => api('/admin/provider-keys'), []);
  const [ask, setAsk] = useState(null); // {k, action}
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState(null);
  const run = async () => {
    setBusy(true);
    const { k, action } = ask;
    try {
      await api(`/admin/provider-keys/${encodeURIComponent(k.id)}/${action}`, { method: 'POST', body: action === 'disable' ? { reason: reason.trim() } : {} });
      setMsg({ ok: true, text: t(action === 'disable' ? 'admin.keys.disabled_done' : 'admin.keys.enabled_done', { label: k.label }) });
      load.reload();
    } catch (err) {
      setMsg({ ok: false, text: errorText(err) });
    } finally {
      setBusy(false);
      setAsk(null);
    }
  };
  const open = (k, action) => {
    setReason('');
    setAsk({ k, action });
  };
  return html`<section class="admin">
    <div class="spread"><h1>${t('admin.keys.title')}</h1>
      <button type="button" class="btn small" onClick=${load.reload} disabled=${load.loading}>${t('admin.keys.refresh')}</button></div>
    <p class="muted">${t('admin.keys.intro')}</p>
    <div role="status" aria-live="polite">${msg ? html`<p class=${'notice ' + (msg.ok ? 'ok' : 'bad')}>${msg.text}</p>` : null}</div>
    <${Async} load=${load}>
      ${(data) => data.data.length
        ? html`<div class="table-wrap"><table>
            <caption class="sr-only">${t('admin.keys.title')}</caption>
            <thead><tr>
              <th scope="col">${t('admin.keys.key')}</th>
              <th scope="col">${t('admin.keys.provider')}</th>
              <th scope="col">${t('admin.keys.health')}</th>
              <th scope="col" class="num">${t('admin.keys.calls')}</th>
              <th scope="col" class="num">${t('admin.keys.failures')}</th>
              <th scope="col" class="num">${t('admin.keys.errors_row')}</th>
              <th scope="col">${t('admin.keys.last_used')}</th>
              <th scope="col">${t('admin.keys.last_error')}</th>
              <th scope="col">${t('admin.keys.actions')}</th>
            </tr></thead>
            <tbody>${data.data.map((k) => html`<tr>
              <th scope="row">${k.label}<br /><code class="muted small">${k.prefix}</code>
                <span class="badge">${tr('admin.keys.source', k.source)}</span></th>
              <td>${tr('admin.provider', k.provider)}</td>
              <td><${Health} k=${k} /></td>
              <td class="num">${number(k.uses)}</td>
              <td class="num">${number(k.failures)}${k.uses ? html`<br /><span class="muted small">${percent(k.failures / k.uses)}</span>` : null}</td>
              <td class="num">${number(k.consecutive_errors)}</td>
              <td>${k.last_used_at ? dateTime(k.last_used_at) : t('admin.common.none')}</td>
              <td class="wrap"><div class="clip">${k.last_error || t('admin.common.none')}</div></td>
              <td>${k.status === 'disabled'
                ? html`<button type="button" class="btn small" onClick=${() => open(k, 'enable')}
                    aria-label=${t('admin.keys.enable_named', { label: k.label })}>${t('admin.keys.enable')}</button>`
                : html`<button type="button" class="btn small danger" onClick=${() => open(k, 'disable')}
                    aria-label=${t('admin.keys.disable_named', { label: k.label })}>${t('admin.keys.disable')}</button>`}</td>
            </tr>`)}</tbody>
          </table></div>`
        : html`<div class="state empty"><p>${t('admin.keys.none')}</p></div>`}
    </${Async}>
    <${AddKey} onAdded=${load.reload} />
    <${ConfirmDialog} open=${!!ask} busy=${busy} danger=${ask && ask.action === 'disable'} onConfirm=${run} onCancel=${() => setAsk(null)}
      title=${ask ? t(ask.action === 'disable' ? 'admin.keys.disable_q' : 'admin.keys.enable_q', { label: ask.k.label }) : ''}
      confirmLabel=${ask ? t(ask.action === 'disable' ? 'admin.keys.disable' : 'admin.keys.enable') : ''}>
      ${ask && ask.action === 'disable'
        ? html`<div class="field"><label for="key-reason">${t('admin.keys.reason')}</label>
            <input id="key-reason" required maxlength="120" value=${reason} onInput=${(e) => setReason(e.target.value)} /></div>`
        : html`<p>${t('admin.keys.enable_text')}</p>`}
    </${ConfirmDialog}>
  </section>`;
}
