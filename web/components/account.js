// account.js - pieces shared by the signed-in account pages: their sub-navigation, cursor
// paging ("load more"), a confirmation dialog, safe "next" paths and product names.
import { html, useEffect, useRef, useState } from '../lib.js';
import { api } from '../api.js';
import { has, number, t } from '../i18n.js';
import { ErrorBox, Loading } from './ui.js';

const ACCOUNT_PAGES = [
  ['/dashboard', 'dashboard.nav.dashboard'],
  ['/orders', 'dashboard.nav.orders'],
  ['/ledger', 'dashboard.nav.ledger'],
  ['/api-keys', 'dashboard.nav.api_keys'],
  ['/settings', 'dashboard.nav.settings'],
];

/** The links between the account pages (dashboard, orders, ledger, API keys, settings). */
export function AccountNav() {
  const here = window.location.pathname;
  return html`<nav class="account-nav" aria-label=${t('dashboard.nav.label')}><ul>
    ${ACCOUNT_PAGES.map(
      ([href, key]) => html`<li><a href=${href} aria-current=${here === href ? 'page' : undefined}>${t(key)}</a></li>`,
    )}
  </ul></nav>`;
}

/**
 * A local path to go to after signing in: only "/x..." on this site (never "//host" or
 * "/\host", which browsers read as another origin), else the fallback.
 */
export function safeNext(next, fallback = '/dashboard') {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return fallback;
  if (/[\u0000-\u0020\u007f#]/.test(next)) return fallback;
  return next;
}

/**
 * Pages of a cursor-paged list (`{data, next_cursor}`): {items, error, loading, done, more,
 * reload}. query is extra query parameters (limit, filters).
 */
export function usePaged(path, query = {}, deps = []) {
  const [st, setSt] = useState({ items: [], cursor: null, done: false, loading: true, error: null });
  const gen = useRef(0);
  const load = (cursor, replace) => {
    const g = replace ? ++gen.current : gen.current;
    setSt((s) => ({ ...s, loading: true, error: null }));
    api(path, { query: { ...query, cursor } }).then(
      (page) => {
        if (g !== gen.current) return;
        setSt((s) => ({
          items: replace ? page.data : s.items.concat(page.data),
          cursor: page.next_cursor,
          done: !page.next_cursor,
          loading: false,
          error: null,
        }));
      },
      (error) => g === gen.current && setSt((s) => ({ ...s, loading: false, error })),
    );
  };
  useEffect(() => {
    load(undefined, true);
    return () => {
      gen.current++;
    };
  }, deps);
  return {
    ...st,
    more: () => load(st.cursor, false),
    reload: () => load(undefined, true),
  };
}

/** The "load more" footer of a paged list: a spinner, an error with retry, or the button. */
export function MoreButton({ list }) {
  if (list.error && list.items.length) return html`<${ErrorBox} error=${list.error} retry=${list.more} />`;
  if (list.loading && list.items.length) return html`<${Loading} />`;
  if (list.done || !list.items.length) return null;
  return html`<p class="more"><button type="button" class="btn" onClick=${list.more}>${t('common.more')}</button></p>`;
}

let dialogs = 0;

/**
 * A button that asks first, in a modal <dialog>: onConfirm runs on "yes" (it may return a
 * promise; its error is shown in the dialog). A dangerous one opens with the focus on Cancel.
 */
export function ConfirmButton({ label, ariaLabel, title, text, confirmLabel, onConfirm, danger, small, disabled }) {
  const ref = useRef(null);
  const [id] = useState(() => 'confirm-' + ++dialogs);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const open = () => {
    setError(null);
    if (ref.current && ref.current.showModal) ref.current.showModal();
  };
  const close = () => ref.current && ref.current.close();
  const yes = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      close();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const cls = 'btn' + (danger ? ' danger' : '') + (small ? ' small' : '');
  return html`<button type="button" class=${cls} onClick=${open} disabled=${disabled} aria-label=${ariaLabel}>${label}</button>
    <dialog ref=${ref} class="confirm" aria-labelledby=${id}>
      <h2 id=${id}>${title || label}</h2>
      ${text ? html`<p>${text}</p>` : null}
      <${ErrorBox} error=${error} />
      <div class="row">
        <button type="button" class=${'btn' + (danger ? ' danger' : ' primary')} onClick=${yes} disabled=${busy}>${confirmLabel || label}</button>
        <button type="button" class="btn" onClick=${close} autofocus=${!!danger}>${t('common.cancel')}</button>
      </div>
    </dialog>`;
}

/** The name of a plan id ("pro"): the catalog's translation, else the id as written. */
export function planName(plan) {
  return has('pricing.plan_name.' + plan) ? t('pricing.plan_name.' + plan) : plan;
}

/** What an order or a subscription sells, for people: "355 credits", "Pro · monthly". */
export function productLabel({ product, kind, credits }) {
  if (kind === 'pack') return t('pricing.pack_name', { n: number(credits) });
  const m = /^(.*)_(monthly|yearly)$/.exec(product || '');
  if (!m) return product;
  return t('pricing.plan_label', { plan: planName(m[1]), period: t('pricing.period.' + m[2]) });
}

/** A payment provider's name ("WeChat Pay"). */
export function providerName(id) {
  return has('pricing.provider.' + id) ? t('pricing.provider.' + id) : id;
}

const ORDER_TONE = { paid: 'ok', pending: 'warn', failed: 'bad', expired: '', refunded: '', partially_refunded: '' };

export function OrderStatus({ status }) {
  return html`<span class=${'badge ' + (ORDER_TONE[status] || '')}>${t('orders.status.' + status)}</span>`;
}

/**
 * A modal <dialog> shown while open is true (Escape and the close button call onClose). The
 * children render only while it is open.
 */
export function Modal({ open, title, onClose, children }) {
  const ref = useRef(null);
  const [id] = useState(() => 'modal-' + ++dialogs);
  useEffect(() => {
    const d = ref.current;
    if (!d || !d.showModal) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return html`<dialog ref=${ref} class="modal" aria-labelledby=${id} onClose=${onClose}>
    <div class="spread modal-head"><h2 id=${id}>${title}</h2>
      <button type="button" class="btn small" onClick=${() => ref.current && ref.current.close()}>${t('common.close')}</button></div>
    ${open ? children : null}
  </dialog>`;
}
