// tasks.js - the person's generation tasks, newest first: status, cost, when, a link to each;
// filtered by status and kind (kept in the address), more pages by cursor.
import { html, useEffect, useState } from '../lib.js';
import { api } from '../api.js';
import { dateTime, percent, relative, t } from '../i18n.js';
import { navigate } from '../router.js';
import { Empty, ErrorBox, Loading } from '../components/ui.js';
import { KINDS, STATUSES, StatusBadge, costText, isLive } from '../components/tasks.js';

const PAGE = 20;

function Filters({ status, kind }) {
  const set = (name) => (e) => {
    const q = new URLSearchParams();
    const next = { status, kind, [name]: e.target.value };
    for (const [k, v] of Object.entries(next)) if (v) q.set(k, v);
    const s = q.toString();
    navigate('/tasks' + (s ? '?' + s : ''), true);
  };
  return html`<form class="filters row" onSubmit=${(e) => e.preventDefault()} aria-label=${t('tasks.filters')}>
    <div class="field">
      <label for="tasks-status">${t('tasks.filter_status')}</label>
      <select id="tasks-status" value=${status || ''} onChange=${set('status')}>
        <option value="">${t('tasks.all_statuses')}</option>
        ${STATUSES.map((s) => html`<option value=${s}>${t('tasks.status.' + s)}</option>`)}
      </select>
    </div>
    <div class="field">
      <label for="tasks-kind">${t('tasks.filter_kind')}</label>
      <select id="tasks-kind" value=${kind || ''} onChange=${set('kind')}>
        <option value="">${t('tasks.all_kinds')}</option>
        ${KINDS.map((k) => html`<option value=${k}>${t('generate.kind.' + k)}</option>`)}
      </select>
    </div>
  </form>`;
}

function Row({ task }) {
  return html`<tr>
    <th scope="row"><a href=${'/tasks/' + task.id}>${t('generate.kind.' + task.kind)}</a>
      ${task.inputs && task.inputs.prompt ? html`<span class="muted small task-prompt">${task.inputs.prompt}</span>` : null}</th>
    <td><${StatusBadge} status=${task.status} />${isLive(task) ? html` <span class="muted small">${percent(task.progress / 100)}</span>` : null}</td>
    <td>${costText(task)}</td>
    <td><time datetime=${task.created_at} title=${dateTime(task.created_at)}>${relative(task.created_at)}</time></td>
  </tr>`;
}

export default function Tasks({ query }) {
  const status = STATUSES.includes(query.status) ? query.status : '';
  const kind = KINDS.includes(query.kind) ? query.kind : '';
  const [rows, setRows] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState(null);
  const [n, setN] = useState(0);

  const fetchPage = (after) =>
    api('/tasks', { query: { limit: PAGE, status, kind, cursor: after || undefined } });

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    fetchPage(null).then(
      (p) => {
        if (!live) return;
        setRows(p.data);
        setCursor(p.next_cursor);
        setLoading(false);
      },
      (e) => {
        if (!live) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [status, kind, n]);

  // While a task on the first page runs, its row follows it (the first page, read again).
  const anyLive = rows.some(isLive);
  useEffect(() => {
    if (!anyLive) return undefined;
    const id = setInterval(() => {
      fetchPage(null).then(
        (p) => {
          const fresh = new Map(p.data.map((x) => [x.id, x]));
          setRows((r) => {
            const known = new Set(r.map((x) => x.id));
            return p.data.filter((x) => !known.has(x.id)).concat(r.map((x) => fresh.get(x.id) || x));
          });
        },
        () => {},
      );
    }, 5000);
    return () => clearInterval(id);
  }, [anyLive, status, kind]);

  const more = async () => {
    setLoading(true);
    try {
      const p = await fetchPage(cursor);
      setRows((r) => r.concat(p.data));
      setCursor(p.next_cursor);
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  };

  const filtered = !!(status || kind);
  return html`<section class="tasks-page">
    <div class="spread">
      <h1>${t('tasks.title')}</h1>
      <a class="btn primary" href="/generate">${t('tasks.new')}</a>
    </div>
    <${Filters} status=${status} kind=${kind} />
    ${error ? html`<${ErrorBox} error=${error} retry=${() => setN((x) => x + 1)} />` : null}
    ${rows.length
      ? html`<div class="table-wrap">
          <table class="tasks-table">
            <caption class="sr-only">${t('tasks.caption')}</caption>
            <thead><tr>
              <th scope="col">${t('tasks.col_task')}</th>
              <th scope="col">${t('tasks.col_status')}</th>
              <th scope="col">${t('tasks.col_cost')}</th>
              <th scope="col">${t('tasks.col_created')}</th>
            </tr></thead>
            <tbody>${rows.map((task) => html`<${Row} key=${task.id} task=${task} />`)}</tbody>
          </table>
        </div>`
      : null}
    ${loading ? html`<${Loading} />` : null}
    ${!loading && !error && !rows.length
      ? html`<${Empty}>${filtered ? t('tasks.empty_filtered') : html`${t('tasks.empty')} <a href="/generate">${t('tasks.empty_cta')}</a>`}<//>`
      : null}
    ${cursor && !loading ? html`<p class="more"><button type="button" class="btn" onClick=${more}>${t('common.more')}</button></p>` : null}
  </section>`;
}
