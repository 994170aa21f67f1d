// admin.js - what the admin pages share: a confirm dialog, cursor paging with "load more",
// status badges, definition lists, links to users, orders and subscriptions.
import { html, useEffect, useRef, useState } from '../lib.js';
import { has, t } from '../i18n.js';
import { Empty, ErrorBox, Loading } from './ui.js';

/**
 * A modal confirmation (<dialog> with showModal: focus is trapped inside and Escape cancels).
 * Shown while `open`; `children` may hold extra fields (a reason). onConfirm runs on submit.
 */
export function ConfirmDialog({ open, title, confirmLabel, danger, busy, onConfirm, onCancel, children }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  const submit = (e) => {
    e.preventDefault();
    if (!busy) onConfirm();
  };
  const cancel = (e) => {
    e.preventDefault();
    onCancel();
  };
  return html`<dialog ref=${ref} class="confirm-dialog" aria-labelledby="confirm-title" onCancel=${cancel}>
    ${open
      ? html`<form onSubmit=${submit}>
          <h2 id="confirm-title">${title}</h2>
          ${children}
          <div class="row end">
            <button type="button" class="btn" onClick=${cancel}>${t('common.cancel')}</button>
            <button type="submit" class=${'btn ' + (danger ? 'danger-fill' : 'primary')} disabled=${busy}>${confirmLabel}</button>
          </div>
        </form>`
      : null}
  </dialog>`;
}

/**
 * Pages of a list endpoint answering {data, next_cursor}: fetchPage(cursor) -> that answer.
 * Reloads from the first page when deps change. {items, next, loading, error, moreError, more, reload}.
 */
export function usePaged(fetchPage, deps = []) {
  const [st, setSt] = useState({ items: [], next: null, loading: true, error: null, moreError: null });
  const gen = useRef(0);
  const load = (cursor) => {
    const g = cursor ? gen.current : ++gen.current;
    setSt((s) => ({ ...s, loading: true, moreError: null, ...(cursor ? {} : { error: null }) }));
    fetchPage(cursor).then(
      (page) => {
        if (g !== gen.current) return;
        const data = (page && page.data) || [];
        setSt((s) => ({ items: cursor ? s.items.concat(data) : data, next: (page && page.next_cursor) || null,
          loading: false, error: null, moreError: null }));
      },
      (error) => {
        if (g !== gen.current) return;
        setSt((s) => (cursor ? { ...s, loading: false, moreError: error } : { items: [], next: null, loading: false, error, moreError: null }));
      },
    );
  };
  useEffect(() => {
    load(null);
    return () => {
      gen.current++;
    };
  }, deps);
  return { ...st, more: () => st.next && load(st.next), reload: () => load(null) };
}

/** Loading / error / empty / the list (children(items)) and a "load more" button. */
export function Paged({ paged, empty, children }) {
  if (paged.loading && !paged.items.length && !paged.error) return html`<${Loading} />`;
  if (paged.error) return html`<${ErrorBox} error=${paged.error} retry=${paged.reload} />`;
  if (!paged.items.length) return html`<${Empty}>${empty}</${Empty}>`;
  return html`${children(paged.items)}
    <div class="pager">
      <p class="sr-only" role="status" aria-live="polite">${t('admin.common.shown', { n: paged.items.length })}</p>
      ${paged.moreError ? html`<${ErrorBox} error=${paged.moreError} retry=${paged.more} />` : null}
      ${paged.next && !paged.moreError
        ? html`<button type="button" class="btn" onClick=${paged.more} disabled=${paged.loading}>${paged.loading ? t('common.loading') : t('common.more')}</button>`
        : null}
    </div>`;
}

/** The payment providers (PayProviderName in the API). */
export const PAY_PROVIDERS = ['stripe', 'paypal', 'creem', 'wechatpay', 'alipay', 'sandbox'];

const TONES = {
  paid: 'ok', succeeded: 'ok', active: 'ok', healthy: 'ok', refunded: 'warn', partially_refunded: 'warn',
  pending: '', past_due: 'warn', cooling_down: 'warn', rate_limited: 'warn', failed: 'bad', disabled: 'bad',
  expired: '', canceled: '',
};

/** A status as a badge, its text from admin.status.<kind>.<status> (the raw value if unknown). */
export function StatusBadge({ kind, status }) {
  const key = `admin.status.${kind}.${status}`;
  return html`<span class=${'badge ' + (TONES[status] || '')}>${has(key) ? t(key) : status}</span>`;
}

/** A translated value when the catalog knows it (key prefix + value), else the value itself. */
export function tr(prefix, value) {
  if (value === null || value === undefined || value === '') return t('admin.common.none');
  const key = prefix + '.' + value;
  return has(key) ? t(key) : String(value);
}

/** A definition list from [[label, value], ...] (rows with value undefined are left out). */
export function Facts({ rows }) {
  return html`<dl class="facts">
    ${rows.filter((r) => r && r[1] !== undefined).map(([k, v]) => html`<div><dt>${k}</dt><dd>${v === null || v === '' ? t('admin.common.none') : v}</dd></div>`)}
  </dl>`;
}

export function UserLink({ id }) {
  if (!id) return html`<span class="muted">${t('admin.common.none')}</span>`;
  return html`<a href=${'/admin/users/' + encodeURIComponent(id)}><code>${id}</code></a>`;
}

export function OrderLink({ id }) {
  if (!id) return html`<span class="muted">${t('admin.common.none')}</span>`;
  return html`<a href=${'/admin/orders?id=' + encodeURIComponent(id)}><code>${id}</code></a>`;
}

export function SubscriptionLink({ id }) {
  if (!id) return html`<span class="muted">${t('admin.common.none')}</span>`;
  return html`<a href=${'/admin/subscriptions?id=' + encodeURIComponent(id)}><code>${id}</code></a>`;
}

/** An app path with a query built from an object (empty values left out). */
export function withQuery(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? path + '?' + s : path;
}

/** A labelled <select> from [[value, text], ...]. */
export function Select({ id, label, value, options, onChange, ...rest }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <select id=${id} value=${value} onChange=${(e) => onChange(e.target.value)} ...${rest}>
      ${options.map(([v, text]) => html`<option value=${v}>${text}</option>`)}
    </select>
  </div>`;
}
