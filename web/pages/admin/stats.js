// admin/stats.js - /admin: totals, per-day charts (uPlot, loaded only here), and tables by
// region and by provider for a period (last 7/30/90 days or chosen dates) and a region.
import { html, useEffect, useRef, useState } from '../../lib.js';
import { api } from '../../api.js';
import { currentLang, money, number, percent, t } from '../../i18n.js';
import { Empty, ErrorBox, Loading, useLoad } from '../../components/ui.js';
import { Select, tr } from '../../components/admin.js';
import { useShared } from '../../state.js';

const DAY = 86400000;

function isoDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The last n days up to today (UTC), as {from, to}. */
function lastDays(n) {
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  return { from: isoDay(today - (n - 1) * DAY), to: isoDay(today) };
}

function dayMs(d) {
  return Date.parse(d + 'T00:00:00Z');
}

function fmtDay(ms) {
  return new Intl.DateTimeFormat(currentLang(), { month: 'short', day: 'numeric', timeZone: 'UTC' }).format(new Date(ms));
}

function fmtLongDay(d) {
  return new Intl.DateTimeFormat(currentLang(), { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(dayMs(d)));
}

function ms(x) {
  if (x === null || x === undefined) return t('admin.common.none');
  return x >= 1000 ? t('admin.stats.seconds', { n: number(Math.round(x / 100) / 10) }) : t('admin.stats.ms', { n: number(x) });
}

/** Money amounts [{currency, amount}] as one line each ("—" when none). */
function Moneys({ list }) {
  if (!list || !list.length) return html`<span>${t('admin.common.none')}</span>`;
  return list.map((m, i) => html`${i ? html`<br />` : null}<span class="money">${money(m.amount, m.currency)}</span>`);
}

function currencies(days) {
  const set = new Set();
  for (const d of days) for (const r of d.revenue || []) set.add(r.currency);
  return [...set].sort();
}

function revenueOn(day, cur) {
  const r = (day.revenue || []).find((x) => x.currency === cur);
  return r ? r.amount : 0;
}

let cssAdded = false;
function addChartCss() {
  if (cssAdded) return;
  cssAdded = true;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = new URL('../../vendor/uplot.css', import.meta.url).href;
  document.head.appendChild(link);
}

const COLORS = ['#1d4ed8', '#047857', '#b45309', '#7c3aed'];

/**
 * One uPlot chart: x = days, series [{label, values, fmt}]. The canvas is hidden from assistive
 * technology; the figure is described by `summary` and the same figures are in the table below.
 */
function Chart({ id, title, summary, days, series }) {
  const box = useRef(null);
  const [failed, setFailed] = useState(null);
  const { lang } = useShared();
  useEffect(() => {
    let plot = null;
    let ro = null;
    let live = true;
    addChartCss();
    import('../../vendor/uplot.js').then(
      ({ default: uPlot }) => {
        const el = box.current;
        if (!live || !el) return;
        const xs = days.map((d) => dayMs(d.date) / 1000);
        const width = () => Math.max(260, el.clientWidth);
        const opts = {
          width: width(),
          height: 220,
          cursor: { drag: { x: false, y: false } },
          scales: { x: { time: true } },
          axes: [
            { space: 70, values: (u, splits) => splits.map((s) => fmtDay(s * 1000)) },
            { values: (u, splits) => splits.map((s) => (series[0].fmt ? series[0].fmt(s) : number(s))), size: 70 },
          ],
          series: [
            { label: t('admin.stats.date'), value: (u, v) => (v == null ? '' : fmtDay(v * 1000)) },
            ...series.map((s, i) => ({
              label: s.label,
              stroke: COLORS[i % COLORS.length],
              width: 2,
              points: { show: days.length <= 31 },
              value: (u, v) => (v == null ? '' : s.fmt ? s.fmt(v) : number(v)),
            })),
          ],
        };
        plot = new uPlot(opts, [xs, ...series.map((s) => s.values)], el);
        ro = new ResizeObserver(() => live && plot && plot.setSize({ width: width(), height: 220 }));
        ro.observe(el);
      },
      (e) => live && setFailed(e),
    );
    return () => {
      live = false;
      if (ro) ro.disconnect();
      if (plot) plot.destroy();
    };
  }, [days, lang]);
  return html`<figure class="card chart" aria-labelledby=${id + '-cap'}>
    <figcaption id=${id + '-cap'}><strong>${title}</strong><span class="sr-only">. ${summary}</span></figcaption>
    ${failed ? html`<${ErrorBox} error=${failed} /> ` : null}
    <div class="chart-box" ref=${box} role="img" aria-label=${summary}></div>
  </figure>`;
}

/** "12 in total; most on Nov 3 (5)" for a series. */
function summarize(days, values, fmt = number) {
  if (!days.length) return '';
  let best = 0;
  values.forEach((v, i) => {
    if (v > values[best]) best = i;
  });
  const total = values.reduce((a, b) => a + b, 0);
  return t('admin.stats.summary', { total: fmt(total), day: fmtLongDay(days[best].date), max: fmt(values[best]) });
}

function Charts({ days }) {
  if (!days.length) return html`<${Empty}>${t('admin.stats.no_days')}</${Empty}>`;
  const newU = days.map((d) => d.new_users || 0);
  const active = days.map((d) => d.active_users || 0);
  const tasks = days.map((d) => d.tasks || 0);
  const ok = days.map((d) => d.tasks_succeeded || 0);
  const curs = currencies(days);
  return html`<div class="grid two charts">
    <${Chart} id="chart-users" title=${t('admin.stats.chart_users')} days=${days}
      summary=${t('admin.stats.new_users') + ': ' + summarize(days, newU) + '. ' + t('admin.stats.active_users') + ': ' + summarize(days, active)}
      series=${[{ label: t('admin.stats.new_users'), values: newU }, { label: t('admin.stats.active_users'), values: active }]} />
    <${Chart} id="chart-tasks" title=${t('admin.stats.chart_tasks')} days=${days}
      summary=${t('admin.stats.tasks') + ': ' + summarize(days, tasks) + '. ' + t('admin.stats.tasks_succeeded') + ': ' + summarize(days, ok)}
      series=${[{ label: t('admin.stats.tasks'), values: tasks }, { label: t('admin.stats.tasks_succeeded'), values: ok }]} />
    ${curs.map((cur) => {
      const vals = days.map((d) => revenueOn(d, cur));
      const fmt = (v) => money(v, cur);
      return html`<${Chart} id=${'chart-rev-' + cur} title=${t('admin.stats.chart_revenue', { currency: cur })} days=${days}
        summary=${summarize(days, vals, fmt)}
        series=${[{ label: t('admin.stats.revenue_in', { currency: cur }), values: vals, fmt: (v) => money(Math.round(v), cur) }]} />`;
    })}
  </div>`;
}

function DaysTable({ days }) {
  if (!days.length) return null;
  const curs = currencies(days);
  return html`<details class="card days">
    <summary>${t('admin.stats.days_table')}</summary>
    <div class="table-wrap"><table>
      <caption class="sr-only">${t('admin.stats.days_table')}</caption>
      <thead><tr>
        <th scope="col">${t('admin.stats.date')}</th>
        <th scope="col" class="num">${t('admin.stats.new_users')}</th>
        <th scope="col" class="num">${t('admin.stats.active_users')}</th>
        <th scope="col" class="num">${t('admin.stats.orders_paid')}</th>
        ${curs.map((c) => html`<th scope="col" class="num">${t('admin.stats.revenue_in', { currency: c })}</th>`)}
        <th scope="col" class="num">${t('admin.stats.tasks')}</th>
        <th scope="col" class="num">${t('admin.stats.tasks_succeeded')}</th>
      </tr></thead>
      <tbody>${days.map((d) => html`<tr>
        <th scope="row">${fmtLongDay(d.date)}</th>
        <td class="num">${number(d.new_users || 0)}</td>
        <td class="num">${number(d.active_users || 0)}</td>
        <td class="num">${number(d.orders_paid || 0)}</td>
        ${curs.map((c) => html`<td class="num">${money(revenueOn(d, c), c)}</td>`)}
        <td class="num">${number(d.tasks || 0)}</td>
        <td class="num">${number(d.tasks_succeeded || 0)}</td>
      </tr>`)}</tbody>
    </table></div>
  </details>`;
}

function Totals({ totals }) {
  const rate = totals.tasks ? totals.tasks_succeeded / totals.tasks : null;
  const cards = [
    ['users', number(totals.users)],
    ['new_users', number(totals.new_users)],
    ['active_users', number(totals.active_users)],
    ['orders_paid', number(totals.orders_paid)],
    ['revenue', html`<${Moneys} list=${totals.revenue} />`],
    ['refunds', html`<${Moneys} list=${totals.refunds} />`],
    ['tasks', number(totals.tasks)],
    ['tasks_succeeded', html`${number(totals.tasks_succeeded)}${rate === null ? null : html` <span class="muted small">(${percent(rate)})</span>`}`],
    ['tasks_failed', number(totals.tasks_failed)],
  ];
  return html`<ul class="cards" aria-label=${t('admin.stats.totals')}>
    ${cards.map(([k, v]) => html`<li class="card"><span class="muted small">${t('admin.stats.' + k)}</span><span class="stat">${v}</span></li>`)}
  </ul>`;
}

function RegionTable({ regions }) {
  if (!regions || !regions.length) return html`<${Empty}>${t('admin.stats.no_regions')}</${Empty}>`;
  return html`<div class="table-wrap"><table>
    <caption class="sr-only">${t('admin.stats.by_region')}</caption>
    <thead><tr>
      <th scope="col">${t('admin.stats.region')}</th>
      <th scope="col" class="num">${t('admin.stats.users')}</th>
      <th scope="col" class="num">${t('admin.stats.new_users')}</th>
      <th scope="col" class="num">${t('admin.stats.active_users')}</th>
      <th scope="col" class="num">${t('admin.stats.orders_paid')}</th>
      <th scope="col" class="num">${t('admin.stats.revenue')}</th>
    </tr></thead>
    <tbody>${regions.map((r) => html`<tr>
      <th scope="row">${tr('admin.region', r.region)}</th>
      <td class="num">${number(r.users)}</td>
      <td class="num">${number(r.new_users)}</td>
      <td class="num">${number(r.active_users)}</td>
      <td class="num">${number(r.orders_paid)}</td>
      <td class="num"><${Moneys} list=${r.revenue} /></td>
    </tr>`)}</tbody>
  </table></div>`;
}

function ProviderTable({ providers }) {
  if (!providers || !providers.length) return html`<${Empty}>${t('admin.stats.no_providers')}</${Empty}>`;
  return html`<div class="table-wrap"><table>
    <caption class="sr-only">${t('admin.stats.by_provider')}</caption>
    <thead><tr>
      <th scope="col">${t('admin.stats.provider')}</th>
      <th scope="col" class="num">${t('admin.stats.tasks')}</th>
      <th scope="col" class="num">${t('admin.stats.succeeded')}</th>
      <th scope="col" class="num">${t('admin.stats.failed')}</th>
      <th scope="col" class="num">${t('admin.stats.timed_out')}</th>
      <th scope="col" class="num">${t('admin.stats.canceled')}</th>
      <th scope="col" class="num">${t('admin.stats.success_rate')}</th>
      <th scope="col" class="num">${t('admin.stats.p50')}</th>
      <th scope="col" class="num">${t('admin.stats.p90')}</th>
      <th scope="col" class="num">${t('admin.stats.max')}</th>
    </tr></thead>
    <tbody>${providers.map((p) => html`<tr>
      <th scope="row">${tr('admin.provider', p.provider)}</th>
      <td class="num">${number(p.tasks)}</td>
      <td class="num">${number(p.succeeded)}</td>
      <td class="num">${number(p.failed)}</td>
      <td class="num">${number(p.timed_out)}</td>
      <td class="num">${number(p.canceled)}</td>
      <td class="num">${p.success_rate === null || p.success_rate === undefined ? t('admin.common.none') : percent(p.success_rate)}</td>
      <td class="num">${p.latency_ms ? ms(p.latency_ms.p50) : t('admin.common.none')}</td>
      <td class="num">${p.latency_ms ? ms(p.latency_ms.p90) : t('admin.common.none')}</td>
      <td class="num">${p.latency_ms ? ms(p.latency_ms.max) : t('admin.common.none')}</td>
    </tr>`)}</tbody>
  </table></div>`;
}

export default function Stats({ query }) {
  const initial = ['7', '30', '90'].includes(query.days) ? query.days : query.from && query.to ? 'custom' : '30';
  const [period, setPeriod] = useState(initial);
  const [from, setFrom] = useState(query.from || lastDays(30).from);
  const [to, setTo] = useState(query.to || lastDays(30).to);
  const [region, setRegion] = useState(['CN', 'GLOBAL'].includes(query.region) ? query.region : '');
  const [shown, setShown] = useState(() =>
    initial === 'custom' ? { from, to, region } : { ...lastDays(Number(initial)), region },
  );
  const [formError, setFormError] = useState(null);

  const load = useLoad(
    () => api('/admin/stats', { query: { from: shown.from, to: shown.to, region: shown.region } }),
    [shown.from, shown.to, shown.region],
  );

  const submit = (e) => {
    e.preventDefault();
    if (period === 'custom') {
      if (!from || !to || from > to) {
        setFormError(t('admin.stats.bad_dates'));
        return;
      }
      setFormError(null);
      setShown({ from, to, region });
    } else {
      setFormError(null);
      setShown({ ...lastDays(Number(period)), region });
    }
  };

  return html`<section class="admin">
    <h1>${t('admin.stats.title')}</h1>
    <form class="filters" onSubmit=${submit}>
      <${Select} id="stats-period" label=${t('admin.stats.period')} value=${period} onChange=${setPeriod}
        options=${[['7', t('admin.stats.last_days', { n: 7 })], ['30', t('admin.stats.last_days', { n: 30 })],
          ['90', t('admin.stats.last_days', { n: 90 })], ['custom', t('admin.stats.custom')]]} />
      ${period === 'custom'
        ? html`<div class="field"><label for="stats-from">${t('admin.stats.from')}</label>
            <input id="stats-from" type="date" value=${from} max=${to} required onInput=${(e) => setFrom(e.target.value)} /></div>
          <div class="field"><label for="stats-to">${t('admin.stats.to')}</label>
            <input id="stats-to" type="date" value=${to} min=${from} required onInput=${(e) => setTo(e.target.value)} /></div>`
        : null}
      <${Select} id="stats-region" label=${t('admin.stats.region')} value=${region} onChange=${setRegion}
        options=${[['', t('admin.stats.all_regions')], ['CN', t('admin.region.CN')], ['GLOBAL', t('admin.region.GLOBAL')]]} />
      <div class="field submit"><button type="submit" class="btn primary">${t('admin.stats.show')}</button></div>
    </form>
    ${formError ? html`<p class="field-error" role="alert">${formError}</p>` : null}
    <p class="muted" role="status" aria-live="polite">${load.data
      ? t('admin.stats.showing', { from: fmtLongDay(load.data.from || shown.from), to: fmtLongDay(load.data.to || shown.to),
          region: load.data.region ? tr('admin.region', load.data.region) : t('admin.stats.all_regions') })
      : ''}</p>
    ${load.loading && !load.data
      ? html`<${Loading} />`
      : load.error
        ? html`${load.error.status === 404 ? html`<p class="notice">${t('admin.stats.unavailable')}</p>` : null}
            <${ErrorBox} error=${load.error} retry=${load.reload} />`
        : html`<div aria-busy=${load.loading ? 'true' : 'false'}>
            <h2>${t('admin.stats.totals')}</h2>
            <${Totals} totals=${load.data.totals || {}} />
            <h2>${t('admin.stats.per_day')}</h2>
            <${Charts} days=${load.data.days || []} />
            <${DaysTable} days=${load.data.days || []} />
            <h2>${t('admin.stats.by_region')}</h2>
            <${RegionTable} regions=${load.data.regions} />
            <h2>${t('admin.stats.by_provider')}</h2>
            <${ProviderTable} providers=${load.data.providers} />
          </div>`}
  </section>`;
}
