// ui.js - small shared components: loading, error and empty states, form fields, money.
import { html, useEffect, useState } from '../lib.js';
import { has, money, t } from '../i18n.js';

export function Loading({ label }) {
  return html`<div class="state loading" role="status" aria-live="polite">
    <span class="spinner" aria-hidden="true"></span>${label || t('common.loading')}
  </div>`;
}

/** The message for an API error: the catalog's text for its code, else the server's message. */
export function errorText(error) {
  if (!error) return '';
  if (error.code && has('errors.' + error.code)) return t('errors.' + error.code, error.details);
  return error.message || t('errors.unknown');
}

export function ErrorBox({ error, retry }) {
  if (!error) return null;
  return html`<div class="state error" role="alert">
    <p>${errorText(error)}</p>
    ${error.requestId ? html`<p class="muted small">${t('common.request_id')}: <code>${error.requestId}</code></p>` : null}
    ${retry ? html`<button type="button" class="btn" onClick=${retry}>${t('common.retry')}</button>` : null}
  </div>`;
}

export function Empty({ children }) {
  return html`<div class="state empty"><p>${children || t('common.empty')}</p></div>`;
}

/** A labelled input; extra props go to the <input>. */
export function Field({ label, id, hint, error, ...rest }) {
  const hintId = hint ? id + '-hint' : undefined;
  const errId = error ? id + '-error' : undefined;
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <input id=${id} aria-describedby=${[hintId, errId].filter(Boolean).join(' ') || undefined}
      aria-invalid=${error ? 'true' : undefined} ...${rest} />
    ${hint ? html`<p class="hint" id=${hintId}>${hint}</p>` : null}
    ${error ? html`<p class="field-error" id=${errId}>${error}</p>` : null}
  </div>`;
}

export function Money({ amount, currency }) {
  return html`<span class="money">${money(amount, currency)}</span>`;
}

/** Loads data with fn() on mount and whenever deps change: {data, error, loading, reload}. */
export function useLoad(fn, deps = []) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    fn().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

/** Renders loading / error / the children function with the data. */
export function Async({ load, children }) {
  if (load.loading && !load.data) return html`<${Loading} />`;
  if (load.error) return html`<${ErrorBox} error=${load.error} retry=${load.reload} />`;
  return children(load.data);
}
