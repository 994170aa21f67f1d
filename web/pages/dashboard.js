// dashboard.js - the signed-in home: balance by bucket, the plan with its renewal and this
// month's plan credits, recent tasks, and a banner while the email address is unverified.
import { html } from '../lib.js';
import { api } from '../api.js';
import { date, dateTime, number, relative, t } from '../i18n.js';
import { loadBalance, useShared } from '../state.js';
import { Async, Empty, useLoad } from '../components/ui.js';
import { AccountNav, planName } from '../components/account.js';
import { VerifyBanner } from '../components/verify.js';

const TASK_TONE = { succeeded: 'ok', failed: 'bad', timed_out: 'bad', canceled: '', queued: 'warn', submitted: 'warn', running: 'warn' };

function Balance({ credits }) {
  return html`<section class="card" aria-labelledby="dash-balance">
    <h2 id="dash-balance">${t('dashboard.balance.title')}</h2>
    <p class="stat">${t('dashboard.balance.available', { n: number(credits.available) })}</p>
    <dl class="pairs">
      <div><dt>${t('dashboard.balance.plan')}</dt><dd>${number(credits.plan_credits)}</dd></div>
      <div><dt>${t('dashboard.balance.paid')}</dt><dd>${number(credits.paid_credits)}</dd></div>
    </dl>
    ${credits.plan_expires_at && credits.plan_credits > 0
      ? html`<p class="muted small">${t('dashboard.balance.plan_expires', { date: dateTime(credits.plan_expires_at) })}</p>` : null}
    <p class="muted small">${t('dashboard.balance.order')}</p>
    <p class="row"><a class="btn primary small" href="/pricing">${t('dashboard.balance.buy')}</a>
      <a href="/ledger">${t('dashboard.balance.history')}</a></p>
  </section>`;
}

function Plan({ sub }) {
  const live = sub && (sub.status === 'active' || sub.status === 'past_due');
  if (!live)
    return html`<section class="card" aria-labelledby="dash-plan">
      <h2 id="dash-plan">${t('dashboard.plan.title')}</h2>
      <p>${sub ? t('dashboard.plan.ended', { plan: planName(sub.plan), date: date(sub.ended_at || sub.updated_at) }) : t('dashboard.plan.none')}</p>
      <p><a class="btn small" href="/pricing">${t('dashboard.plan.see_plans')}</a></p>
    </section>`;
  const c = sub.credits;
  const granted = c.granted || c.per_month;
  const used = c.used == null ? 0 : c.used;
  return html`<section class="card" aria-labelledby="dash-plan">
    <h2 id="dash-plan">${t('dashboard.plan.title')}</h2>
    <p class="spread"><strong class="plan-name">${planName(sub.plan)} · ${t('pricing.period.' + (sub.period === 'year' ? 'yearly' : 'monthly'))}</strong>
      <span class=${'badge ' + (sub.status === 'active' ? 'ok' : 'bad')}>${t('subscription.status.' + sub.status)}</span></p>
    ${sub.status === 'past_due' ? html`<p class="notice bad">${t('dashboard.plan.past_due')}</p>` : null}
    <label for="plan-usage">${t('dashboard.plan.usage_label')}</label>
    <progress id="plan-usage" max=${granted || 1} value=${Math.min(used, granted)}></progress>
    <p class="small">${t('dashboard.plan.usage', { used: number(used), total: number(granted), left: number(c.remaining == null ? granted - used : c.remaining) })}</p>
    ${sub.credit_period && sub.credit_period.end ? html`<p class="muted small">${t('dashboard.plan.refill', { date: date(sub.credit_period.end) })}</p>` : null}
    <p class="small">${sub.auto_renew && sub.renews_at
      ? t('dashboard.plan.renews', { date: date(sub.renews_at) })
      : sub.ends_at ? t('dashboard.plan.ends', { date: date(sub.ends_at) }) : null}</p>
    <p><a href="/settings#plan">${t('dashboard.plan.manage')}</a></p>
  </section>`;
}

function RecentTasks() {
  const load = useLoad(() => api('/tasks', { query: { limit: 5 } }), []);
  return html`<section aria-labelledby="dash-tasks">
    <div class="spread"><h2 id="dash-tasks">${t('dashboard.tasks.title')}</h2><a href="/tasks">${t('dashboard.tasks.all')}</a></div>
    <${Async} load=${load}>${(page) => !page.data.length
      ? html`<${Empty}>${t('dashboard.tasks.empty')} <a href="/generate">${t('dashboard.tasks.start')}</a><//>`
      : html`<ul class="task-list">${page.data.map((task) => html`<li class="card">
          <a href=${'/tasks/' + task.id}>${t('dashboard.kind.' + task.kind)}</a>
          <span class=${'badge ' + (TASK_TONE[task.status] || '')}>${t('dashboard.task_status.' + task.status)}</span>
          <span class="muted small"><time datetime=${task.created_at} title=${dateTime(task.created_at)}>${relative(task.created_at)}</time></span>
        </li>`)}</ul>`}</${Async}>
  </section>`;
}

export default function Dashboard() {
  const { user } = useShared();
  const load = useLoad(() => Promise.all([loadBalance(), api('/subscription').then((s) => s.subscription)]), []);
  return html`<section>
    <${AccountNav} />
    <h1>${t('dashboard.title')}</h1>
    ${user ? html`<p class="muted">${t('dashboard.hello', { name: user.display_name || user.email || '' })}</p>` : null}
    <${VerifyBanner} user=${user} />
    <${Async} load=${load}>${([credits, sub]) => html`<div class="grid two">
      <${Balance} credits=${credits} /><${Plan} sub=${sub} /></div>`}</${Async}>
    <p class="row quick"><a class="btn primary" href="/generate">${t('dashboard.generate')}</a></p>
    <${RecentTasks} />
  </section>`;
}
