// pricing.js - credit packs and plans priced in the caller's region currency (GET /catalog),
// what each kind of task costs, and buying: sign in first, choose a payment method when the
// region offers several, create the order (POST /orders with an Idempotency-Key), then follow
// its checkout (a URL, a QR code to scan, or "open in WeChat") and watch it until it is paid.
import { html, useEffect, useRef, useState } from '../lib.js';
import { api, newIdempotencyKey } from '../api.js';
import { money, number, percent, t } from '../i18n.js';
import { navigate } from '../router.js';
import { loadRegion, useShared } from '../state.js';
import { Async, ErrorBox, Loading, useLoad } from '../components/ui.js';
import { Modal, OrderStatus, planName, productLabel, providerName } from '../components/account.js';
import { OrderOutcome, PayStep, followCheckout, useOrderWatch } from '../components/checkout.js';

const LIVE = ['active', 'past_due'];
const TASK_KINDS = ['animate_move', 'animate_mix', 'text_to_video', 'image'];

/** A created or returning order, watched until the provider reports it. */
function WatchedOrder({ id, initial, onPaid }) {
  const { order, error } = useOrderWatch(id, initial);
  const paid = !!order && order.status === 'paid';
  useEffect(() => {
    if (paid && onPaid) onPaid();
  }, [paid]);
  if (!order) return error ? html`<${ErrorBox} error=${error} />` : html`<${Loading} />`;
  return html`<div class="watched-order">
    <p class="spread"><span>${productLabel(order)} · ${money(order.amount.amount, order.amount.currency)}</span>
      <${OrderStatus} status=${order.status} /></p>
    ${order.status === 'pending' ? html`<${PayStep} order=${order} />` : html`<${OrderOutcome} order=${order} />`}
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    <p class="small"><a href=${'/orders/' + order.id}>${t('pricing.checkout.order_link')}</a></p>
  </div>`;
}

/** Choosing how to pay (only when the region offers more than one way). */
function ChooseMethod({ methods, onChoose, busy }) {
  const [pick, setPick] = useState(methods[0]);
  const submit = (e) => {
    e.preventDefault();
    onChoose(pick);
  };
  return html`<form onSubmit=${submit}>
    <fieldset class="methods">
      <legend>${t('pricing.method.legend')}</legend>
      ${methods.map(
        (m) => html`<label class="method" for=${'pay-' + m}>
          <input type="radio" id=${'pay-' + m} name="pay-method" value=${m} checked=${pick === m} onChange=${() => setPick(m)} />
          <span>${providerName(m)}</span></label>`,
      )}
    </fieldset>
    <button type="submit" class="btn primary" disabled=${busy}>${t('pricing.method.continue')}</button>
  </form>`;
}

function PackCard({ pack, onBuy, busy }) {
  return html`<li class="card price-card">
    <h3>${t('pricing.pack_name', { n: number(pack.credits) })}</h3>
    <p class="price">${money(pack.price.amount, pack.price.currency)}</p>
    <p class="muted small">${t('pricing.per_credit', { price: money(pack.price.amount / pack.credits, pack.price.currency) })}</p>
    <p class="muted small">${t('pricing.pack_note')}</p>
    <button type="button" class="btn primary block" onClick=${() => onBuy(pack.id)} disabled=${busy}
      aria-label=${t('pricing.buy_pack', { n: number(pack.credits) })}>${t('pricing.buy')}</button>
  </li>`;
}

function PlanCard({ plan, monthly, sub, onBuy, busy }) {
  const current = sub && LIVE.includes(sub.status) && sub.product === plan.id;
  const saving = plan.period === 'year' && monthly ? 1 - plan.price.amount / (12 * monthly.price.amount) : 0;
  const name = planName(plan.plan);
  return html`<li class=${'card price-card' + (current ? ' current' : '')}>
    <h3>${name} ${current ? html`<span class="badge ok">${t('pricing.current')}</span>` : null}</h3>
    <p class="price">${money(plan.price.amount, plan.price.currency)}<span class="per">${t('pricing.per.' + plan.period)}</span></p>
    ${saving > 0.005 ? html`<p class="badge warn">${t('pricing.save', { pct: percent(saving) })}</p>` : null}
    <p><strong>${t('pricing.credits_per_month', { n: number(plan.credits_per_month) })}</strong></p>
    ${plan.features.length ? html`<ul class="features">${plan.features.map((f) => html`<li>${f}</li>`)}</ul>` : null}
    ${current && sub.auto_renew
      ? html`<a class="btn block" href="/settings#plan">${t('pricing.manage')}</a>`
      : html`<button type="button" class="btn primary block" onClick=${() => onBuy(plan.id)} disabled=${busy}
          aria-label=${t(current ? 'pricing.extend_plan' : 'pricing.subscribe_plan', { plan: name })}>
          ${current ? t('pricing.extend') : t('pricing.subscribe')}</button>`}
  </li>`;
}

function TaskPrices({ tasks }) {
  return html`<div class="table-wrap"><table>
    <caption class="sr-only">${t('pricing.tasks.caption')}</caption>
    <thead><tr><th scope="col">${t('pricing.tasks.kind')}</th><th scope="col" class="num">${t('pricing.tasks.cost')}</th></tr></thead>
    <tbody>${TASK_KINDS.filter((k) => tasks[k]).map((k) => {
      const p = tasks[k];
      const unit = t('pricing.tasks.unit.' + p.unit);
      const cost = typeof p.credits === 'number'
        ? t('pricing.tasks.credits', { n: number(p.credits), unit })
        : Object.entries(p.credits).map(([mode, n]) => t('pricing.tasks.mode', { mode: t('pricing.tasks.modes.' + mode), n: number(n), unit })).join(' · ');
      return html`<tr><th scope="row">${t('pricing.tasks.kinds.' + k)}</th><td class="num">${cost}</td></tr>`;
    })}</tbody>
  </table></div>`;
}

export default function Pricing({ query }) {
  const { user, region } = useShared();
  const load = useLoad(
    () => Promise.all([
      api('/catalog', { auth: !!user }),
      user ? api('/subscription').then((s) => s.subscription, () => null) : null,
      loadRegion().catch(() => null),
    ]),
    [user && user.id],
  );
  const [period, setPeriod] = useState('month');
  const [buy, setBuy] = useState(null); // {product, step: choose|creating|redirect|pay|error, order, error}
  const keys = useRef(new Map()); // product|provider -> Idempotency-Key, kept for a retry
  const methods = (region && region.profile.payment) || [];

  const create = async (product, provider) => {
    setBuy({ product, step: 'creating' });
    const k = product + '|' + provider;
    if (!keys.current.has(k)) keys.current.set(k, newIdempotencyKey());
    try {
      const order = await api('/orders', {
        method: 'POST',
        body: { product, provider, return_url: '/pricing' },
        idem: keys.current.get(k),
      });
      keys.current.delete(k);
      if (followCheckout(order)) setBuy({ product, step: 'redirect', order });
      else setBuy({ product, step: 'pay', order });
    } catch (error) {
      // The same key again only where the first attempt may still create the order (the
      // answer was lost, or it is in progress); an answered error is a new attempt's business.
      if (!(error.status === 0 || error.code === 'idempotency_in_progress')) keys.current.delete(k);
      setBuy({ product, step: 'error', error, provider });
    }
  };
  const onBuy = (product) => {
    if (!user) {
      navigate('/sign-in?next=' + encodeURIComponent('/pricing'));
      return;
    }
    if (!methods.length) {
      setBuy({ product, step: 'error', error: { code: 'payment_method_unavailable', details: {} } });
      return;
    }
    if (methods.length > 1) setBuy({ product, step: 'choose' });
    else create(product, methods[0]);
  };
  const close = () => setBuy(null);
  const busy = buy && (buy.step === 'creating' || buy.step === 'redirect');

  return html`<section class="pricing">
    <h1>${t('pricing.title')}</h1>
    <p class="lead">${t('pricing.lead')}</p>
    ${query.order_id ? html`<section class="card" aria-labelledby="returned-order">
      <h2 id="returned-order">${t('pricing.returned')}</h2>
      ${user ? html`<${WatchedOrder} id=${query.order_id} onPaid=${load.reload} />` : html`<p><a href=${'/sign-in?next=' + encodeURIComponent('/orders/' + query.order_id)}>${t('pricing.sign_in_to_see')}</a></p>`}
    </section>` : null}
    <${Async} load=${load}>${([cat, sub]) => {
      const monthlyOf = (p) => cat.plans.find((x) => x.plan === p.plan && x.period === 'month');
      const shown = cat.plans.filter((p) => p.period === period);
      const hasYear = cat.plans.some((p) => p.period === 'year');
      const hasMonth = cat.plans.some((p) => p.period === 'month');
      return html`
        <p class="muted region-note">${t('pricing.region_note', { currency: cat.currency, region: t('pricing.region.' + cat.region) })}
          ${user ? html` <a href="/settings#region">${t('pricing.change_region')}</a>` : null}</p>
        ${methods.length
          ? html`<p class="small muted">${t('pricing.methods', { list: methods.map(providerName).join(' · ') })}</p>`
          : html`<p class="notice">${t('pricing.no_methods')}</p>`}
        ${cat.plans.length ? html`<h2>${t('pricing.plans')}</h2>
          <p class="muted">${t('pricing.plans_lead')}</p>
          ${hasYear && hasMonth ? html`<fieldset class="period-switch">
            <legend class="sr-only">${t('pricing.period.legend')}</legend>
            ${['month', 'year'].map((p) => html`<label for=${'period-' + p}>
              <input type="radio" id=${'period-' + p} name="period" checked=${period === p} onChange=${() => setPeriod(p)} />
              <span>${t('pricing.period.' + (p === 'month' ? 'monthly' : 'yearly'))}</span></label>`)}
          </fieldset>` : null}
          <ul class="grid three cards">${(shown.length ? shown : cat.plans).map(
            (p) => html`<${PlanCard} plan=${p} monthly=${monthlyOf(p)} sub=${sub} onBuy=${onBuy} busy=${busy} />`,
          )}</ul>` : null}
        ${cat.packs.length ? html`<h2>${t('pricing.packs')}</h2>
          <p class="muted">${t('pricing.packs_lead')}</p>
          <ul class="grid three cards">${cat.packs.map((p) => html`<${PackCard} pack=${p} onBuy=${onBuy} busy=${busy} />`)}</ul>` : null}
        ${!cat.plans.length && !cat.packs.length ? html`<p class="notice">${t('pricing.nothing')}</p>` : null}
        <h2>${t('pricing.tasks.title')}</h2>
        <p class="muted">${t('pricing.tasks.lead')}</p>
        <${TaskPrices} tasks=${cat.tasks} />
        ${!user ? html`<p class="cta-row"><a class="btn primary" href="/sign-up?next=%2Fpricing">${t('pricing.sign_up_cta')}</a></p>` : null}`;
    }}</${Async}>
    <${Modal} open=${!!buy} onClose=${close} title=${buy && buy.step === 'choose' ? t('pricing.method.title') : t('pricing.checkout.title')}>
      ${buy && buy.step === 'choose' ? html`<${ChooseMethod} methods=${methods} busy=${busy} onChoose=${(m) => create(buy.product, m)} />` : null}
      ${buy && buy.step === 'creating' ? html`<${Loading} label=${t('pricing.checkout.creating')} />` : null}
      ${buy && buy.step === 'redirect' ? html`<${Loading} label=${t('pricing.checkout.redirecting')} />` : null}
      ${buy && buy.step === 'pay' ? html`<${WatchedOrder} id=${buy.order.id} initial=${buy.order} onPaid=${load.reload} />` : null}
      ${buy && buy.step === 'error' ? html`<${ErrorBox} error=${buy.error}
          retry=${buy.provider && !['subscription_exists', 'payment_method_unavailable'].includes(buy.error.code) ? () => create(buy.product, buy.provider) : undefined} />
        ${buy.error.code === 'subscription_exists' ? html`<p><a href="/settings#plan">${t('pricing.manage')}</a></p>` : null}` : null}
    </${Modal}>
  </section>`;
}
