// settings.js - the account: display name, language and region, sign-in methods (link and
// unlink), password, the plan (cancel, resume, change) and signing out everywhere.
import { html, useEffect, useState } from '../lib.js';
import { api, signOut, startSession, updateUser } from '../api.js';
import { LANGS, date, has, number, setLang, t } from '../i18n.js';
import { navigate } from '../router.js';
import { chooseRegion, useShared } from '../state.js';
import { Async, ErrorBox, Field, errorText, useLoad } from '../components/ui.js';
import { AccountNav, ConfirmButton, planName, productLabel, providerName } from '../components/account.js';
import { callbackPath } from '../components/auth.js';

// Providers that renew a subscription themselves, and so can switch its plan (openapi:
// POST /subscription/change); a prepaid plan is changed by buying another.
const RENEWING = ['stripe', 'creem'];
const MIN_PASSWORD = 8;

function Saved({ ok, error }) {
  return html`<span role="status" aria-live="polite" class="small">
    ${ok ? html`<span class="ok-text">${t('settings.saved')}</span>` : null}
    ${error ? html`<span class="field-error">${errorText(error)}</span>` : null}</span>`;
}

function Profile({ me, onSaved }) {
  const [name, setName] = useState(me.display_name || '');
  const [st, setSt] = useState({ busy: false, ok: false, error: null });
  const save = async (e) => {
    e.preventDefault();
    setSt({ busy: true, ok: false, error: null });
    try {
      const u = await api('/me', { method: 'PATCH', body: { display_name: name.trim() } });
      updateUser({ ...me, ...u });
      onSaved();
      setSt({ busy: false, ok: true, error: null });
    } catch (error) {
      setSt({ busy: false, ok: false, error });
    }
  };
  return html`<section class="card" aria-labelledby="set-profile">
    <h2 id="set-profile">${t('settings.profile.title')}</h2>
    <p>${t('settings.profile.email')}${t('settings.profile.colon')}<strong>${me.email || t('settings.profile.no_email')}</strong>
      ${me.email ? html` <span class=${'badge ' + (me.email_verified ? 'ok' : 'warn')}>${me.email_verified ? t('settings.profile.verified') : t('settings.profile.unverified')}</span>` : null}</p>
    <form onSubmit=${save}>
      <${Field} id="set-name" label=${t('settings.profile.name')} maxlength="100" value=${name} onInput=${(e) => setName(e.target.value)} />
      <div class="row"><button type="submit" class="btn primary" disabled=${st.busy}>${t('settings.profile.save')}</button><${Saved} ok=${st.ok} error=${st.error} /></div>
    </form>
  </section>`;
}

function Preferences({ me }) {
  const { lang, region } = useShared();
  const [choice, setChoice] = useState(me.region || '');
  const [st, setSt] = useState({ busy: false, ok: false, error: null });
  const saveRegion = async (e) => {
    e.preventDefault();
    setSt({ busy: true, ok: false, error: null });
    try {
      await chooseRegion(choice || null);
      setSt({ busy: false, ok: true, error: null });
    } catch (error) {
      setSt({ busy: false, ok: false, error });
    }
  };
  return html`<section class="card" id="region" aria-labelledby="set-prefs">
    <h2 id="set-prefs">${t('settings.prefs.title')}</h2>
    <div class="field"><label for="set-lang">${t('settings.prefs.language')}</label>
      <select id="set-lang" value=${lang} onChange=${(e) => setLang(e.target.value, true)}>
        ${LANGS.map((l) => html`<option value=${l}>${t('lang.' + l)}</option>`)}
      </select></div>
    <form onSubmit=${saveRegion}>
      <fieldset>
        <legend>${t('settings.prefs.region')}</legend>
        ${[['', 'auto'], ['CN', 'cn'], ['GLOBAL', 'global']].map(([v, k]) => html`<label class="choice" for=${'region-' + k}>
          <input type="radio" id=${'region-' + k} name="region" value=${v} checked=${choice === v} onChange=${() => setChoice(v)} />
          <span>${t('settings.prefs.region_' + k)}</span></label>`)}
      </fieldset>
      ${region ? html`<p class="muted small">${t('settings.prefs.region_now', {
        region: t('settings.prefs.region_name.' + region.region), currency: region.profile.currency, source: t('settings.prefs.source.' + region.source) })}</p>` : null}
      <div class="row"><button type="submit" class="btn primary" disabled=${st.busy}>${t('settings.prefs.save_region')}</button><${Saved} ok=${st.ok} error=${st.error} /></div>
    </form>
  </section>`;
}

function SignIns({ me, reload, linked }) {
  const methods = useLoad(() => api('/auth/providers'), []);
  const [error, setError] = useState(null);
  const link = async (id) => {
    setError(null);
    try {
      const r = await api('/auth/oauth/' + encodeURIComponent(id) + '/link', { method: 'POST', query: { return_to: callbackPath('/settings') } });
      window.location.assign(r.url);
    } catch (e) {
      setError(e);
    }
  };
  const unlink = async (idn) => {
    await api('/me/identities/' + encodeURIComponent(idn.id), { method: 'DELETE' });
    reload();
  };
  const have = new Set(me.identities.map((i) => i.provider));
  return html`<section class="card" id="sign-in" aria-labelledby="set-signins">
    <h2 id="set-signins">${t('settings.signins.title')}</h2>
    ${linked ? html`<p class="notice ok" role="status">${t('settings.signins.linked', { provider: t('auth.provider.' + linked) })}</p>` : null}
    <ul class="plain">
      ${me.has_password && me.email ? html`<li class="spread"><span><strong>${t('auth.provider.email')}</strong> · ${me.email}</span></li>` : null}
      ${me.identities.map((i) => html`<li class="spread">
        <span><strong>${has('auth.provider.' + i.provider) ? t('auth.provider.' + i.provider) : i.provider}</strong>
          ${i.email || i.display_name ? ' · ' + (i.email || i.display_name) : ''}
          <span class="muted small"> · ${t('settings.signins.since', { date: date(i.created_at) })}</span></span>
        <${ConfirmButton} small=${true} danger=${true} label=${t('settings.signins.unlink')}
          ariaLabel=${t('settings.signins.unlink_named', { provider: t('auth.provider.' + i.provider) })}
          title=${t('settings.signins.unlink_title')} text=${t('settings.signins.unlink_text')}
          confirmLabel=${t('settings.signins.unlink')} onConfirm=${() => unlink(i)} />
      </li>`)}
    </ul>
    <${Async} load=${methods}>${(m) => {
      const can = m.sign_in.filter((x) => x.kind === 'oauth' && !have.has(x.id));
      return can.length ? html`<div class="row">${can.map((x) => html`<button type="button" class="btn small" onClick=${() => link(x.id)}>
        ${t('settings.signins.link', { provider: t('auth.provider.' + x.id) })}</button>`)}</div>` : null;
    }}</${Async}>
    <${ErrorBox} error=${error} />
  </section>`;
}

function Password({ me }) {
  const [f, setF] = useState({ current: '', next: '', again: '' });
  const [st, setSt] = useState({ busy: false, ok: false, error: null });
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  if (!me.has_password)
    return html`<section class="card" aria-labelledby="set-password">
      <h2 id="set-password">${t('settings.password.title')}</h2>
      <p>${t('settings.password.none')}</p>
      ${me.email ? html`<p><a href="/reset-password">${t('settings.password.set_by_mail')}</a></p>` : null}
    </section>`;
  const save = async (e) => {
    e.preventDefault();
    if (f.next.length < MIN_PASSWORD) return setSt({ busy: false, ok: false, error: { code: 'weak_password', details: {} } });
    if (f.next !== f.again) return setSt({ busy: false, ok: false, error: { code: 'mismatch', message: t('auth.mismatch'), details: {} } });
    setSt({ busy: true, ok: false, error: null });
    try {
      // Every session ends (this access token too); this page carries on with the new one.
      await startSession('/me/password', { current_password: f.current, new_password: f.next }, { auth: true });
      setF({ current: '', next: '', again: '' });
      setSt({ busy: false, ok: true, error: null });
    } catch (error) {
      const shown = error.code === 'invalid_credentials'
        ? { code: 'wrong_current', message: t('settings.password.wrong_current'), details: {} }
        : error;
      setSt({ busy: false, ok: false, error: shown });
    }
  };
  return html`<section class="card" aria-labelledby="set-password">
    <h2 id="set-password">${t('settings.password.title')}</h2>
    <form onSubmit=${save}>
      <${Field} id="pw-current" label=${t('settings.password.current')} type="password" autocomplete="current-password" required maxlength="1024" value=${f.current} onInput=${set('current')} />
      <${Field} id="pw-new" label=${t('auth.new_password')} type="password" autocomplete="new-password" required minlength=${MIN_PASSWORD} maxlength="1024"
        value=${f.next} onInput=${set('next')} hint=${t('auth.password_hint', { n: MIN_PASSWORD })} />
      <${Field} id="pw-again" label=${t('auth.repeat_password')} type="password" autocomplete="new-password" required maxlength="1024" value=${f.again} onInput=${set('again')} />
      <p class="muted small">${t('settings.password.note')}</p>
      <div class="row"><button type="submit" class="btn primary" disabled=${st.busy}>${t('settings.password.save')}</button><${Saved} ok=${st.ok} error=${st.error} /></div>
    </form>
  </section>`;
}

function ChangePlan({ sub, plans, onDone }) {
  const options = plans.filter((p) => p.period === sub.period && p.id !== sub.product);
  const [pick, setPick] = useState(options.length ? options[0].id : '');
  const [st, setSt] = useState({ busy: false, error: null });
  if (!options.length) return null;
  const submit = async (e) => {
    e.preventDefault();
    setSt({ busy: true, error: null });
    try {
      const r = await api('/subscription/change', { method: 'POST', body: { product: pick } });
      setSt({ busy: false, error: null });
      onDone(r.subscription);
    } catch (error) {
      setSt({ busy: false, error });
    }
  };
  return html`<form class="change-plan" onSubmit=${submit}>
    <div class="field"><label for="change-plan">${t('subscription.change_to')}</label>
      <select id="change-plan" value=${pick} onChange=${(e) => setPick(e.target.value)}>
        ${options.map((p) => html`<option value=${p.id}>${planName(p.plan)} · ${t('pricing.credits_per_month', { n: number(p.credits_per_month) })}</option>`)}
      </select></div>
    <p class="muted small">${t('subscription.change_note')}</p>
    <${ErrorBox} error=${st.error} />
    <button type="submit" class="btn" disabled=${st.busy}>${t('subscription.change')}</button>
  </form>`;
}

function PlanSection() {
  const load = useLoad(() => Promise.all([api('/subscription').then((s) => s.subscription), api('/catalog')]), []);
  const [note, setNote] = useState(null);
  const act = (path) => async () => {
    await api('/subscription/' + path, { method: 'POST', body: {} });
    setNote(t('subscription.done_' + path));
    load.reload();
  };
  return html`<section class="card" id="plan" aria-labelledby="set-plan">
    <h2 id="set-plan">${t('subscription.title')}</h2>
    ${note ? html`<p class="notice ok" role="status">${note}</p>` : null}
    <${Async} load=${load}>${([sub, cat]) => {
      const live = sub && (sub.status === 'active' || sub.status === 'past_due');
      if (!live)
        return html`<p>${sub ? t('dashboard.plan.ended', { plan: planName(sub.plan), date: date(sub.ended_at || sub.updated_at) }) : t('dashboard.plan.none')}</p>
          <p><a class="btn small" href="/pricing">${t('dashboard.plan.see_plans')}</a></p>`;
      const renewing = RENEWING.includes(sub.provider);
      return html`<p class="spread"><strong>${productLabel({ product: sub.product, kind: 'plan' })}</strong>
          <span class=${'badge ' + (sub.status === 'active' ? 'ok' : 'bad')}>${t('subscription.status.' + sub.status)}</span></p>
        <dl class="pairs">
          <div><dt>${t('subscription.provider')}</dt><dd>${providerName(sub.provider)}</dd></div>
          ${sub.current_period.end ? html`<div><dt>${t('subscription.period_end')}</dt><dd>${date(sub.current_period.end)}</dd></div>` : null}
        </dl>
        <p>${sub.auto_renew && sub.renews_at ? t('dashboard.plan.renews', { date: date(sub.renews_at) })
          : sub.ends_at ? t('dashboard.plan.ends', { date: date(sub.ends_at) }) : null}</p>
        ${sub.next_product ? html`<p class="notice">${t('subscription.next', { plan: productLabel({ product: sub.next_product, kind: 'plan' }), date: date(sub.current_period.end) })}</p>` : null}
        ${!renewing ? html`<p class="muted small">${t('subscription.prepaid_note')} <a href="/pricing">${t('subscription.to_pricing')}</a></p>` : null}
        ${renewing ? html`<div class="row">
          ${sub.cancel_at_period_end
            ? html`<${ConfirmButton} label=${t('subscription.resume')} title=${t('subscription.resume_title')}
                text=${t('subscription.resume_text')} onConfirm=${act('resume')} />`
            : html`<${ConfirmButton} danger=${true} label=${t('subscription.cancel')} title=${t('subscription.cancel_title')}
                text=${t('subscription.cancel_text', { date: date(sub.current_period.end) })}
                confirmLabel=${t('subscription.cancel_confirm')} onConfirm=${act('cancel')} />`}
        </div>` : null}
        ${renewing && !sub.cancel_at_period_end ? html`<${ChangePlan} sub=${sub} plans=${cat.plans} onDone=${() => { setNote(t('subscription.done_change')); load.reload(); }} />` : null}`;
    }}</${Async}>
  </section>`;
}

export default function Settings() {
  const me = useLoad(() => api('/me'), []);
  const [linked, setLinked] = useState(null);
  useEffect(() => {
    const h = new URLSearchParams(window.location.hash.replace(/^#/, ''));
    if (h.get('linked')) {
      setLinked(h.get('linked'));
      history.replaceState(null, '', window.location.pathname);
    } else if (window.location.hash) {
      // #plan, #region: the section asked for, once it is drawn.
      const id = window.location.hash.slice(1);
      setTimeout(() => {
        const el = document.getElementById(id);
        if (el) el.scrollIntoView();
      }, 300);
    }
  }, []);
  const everywhere = async () => {
    await signOut(true);
    navigate('/sign-in', true);
  };
  return html`<section class="settings">
    <${AccountNav} />
    <h1>${t('settings.title')}</h1>
    <${Async} load=${me}>${(m) => html`<div class="stack">
      <${Profile} me=${m} onSaved=${() => {}} />
      <${Preferences} me=${m} />
      <${PlanSection} />
      <${SignIns} me=${m} reload=${me.reload} linked=${linked} />
      <${Password} me=${m} />
      <section class="card" aria-labelledby="set-sessions">
        <h2 id="set-sessions">${t('settings.sessions.title')}</h2>
        <p>${t('settings.sessions.text')}</p>
        <${ConfirmButton} danger=${true} label=${t('settings.sessions.everywhere')} title=${t('settings.sessions.everywhere')}
          text=${t('settings.sessions.confirm_text')} onConfirm=${everywhere} />
      </section>
    </div>`}</${Async}>
  </section>`;
}
