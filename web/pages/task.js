// task.js - one generation task: its progress while it runs (the event stream), then the
// result (players and downloads) or what went wrong and the credits returned; cancel while it
// runs, run it again after it failed.
import { html, useEffect, useRef, useState } from '../lib.js';
import { api } from '../api.js';
import { dateTime, number, percent, t } from '../i18n.js';
import { navigate } from '../router.js';
import { openStream } from '../sse.js';
import { loadBalance, useShared } from '../state.js';
import { Async, ErrorBox, Loading, useLoad, errorText } from '../components/ui.js';
import { PriceBox, taskPrice, tn } from '../components/price.js';
import { StatusBadge, isLive, retryBody, submitErrorText, submitTask, taskErrorText } from '../components/tasks.js';
import { describeFile, fileSize } from '../components/upload.js';

/** "1:05" / "1:02:03" for a number of seconds. */
function clock(s) {
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** Seconds since the task was created (to its end once final), ticking while it runs. */
function useElapsed(task) {
  const [now, setNow] = useState(Date.now());
  const live = isLive(task);
  useEffect(() => {
    if (!live) return undefined;
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, [live]);
  const end = task.finished_at ? new Date(task.finished_at).getTime() : now;
  return (end - new Date(task.created_at).getTime()) / 1000;
}

/** The file ids a task's inputs name, with the field each is in. */
function inputFiles(task) {
  const i = task.inputs || {};
  const out = [];
  if (i.image && i.image.file_id) out.push(['image', i.image.file_id]);
  if (i.video && i.video.file_id) out.push(['video', i.video.file_id]);
  (i.images || []).forEach((r, n) => r.file_id && out.push(['images.' + n, r.file_id]));
  return out;
}

function Progress({ task, elapsed, conn }) {
  const live = isLive(task);
  return html`<div class="card task-progress">
    <p class="task-status">
      <span role="status" aria-live="polite">${t('task.state.' + task.status)}</span>
      ${live ? html` <span class="muted" aria-hidden="true">${percent(task.progress / 100)}</span>` : null}
    </p>
    ${live
      ? html`<label class="sr-only" for="task-progress">${t('task.progress_label')}</label>
          <progress id="task-progress" max="100" value=${task.progress}>${percent(task.progress / 100)}</progress>`
      : null}
    <p class="muted small">
      ${live ? t('task.elapsed', { t: clock(elapsed) }) : t('task.took', { t: clock(elapsed) })}
      ${conn === 'reconnecting' && live ? html` · <span>${t('task.reconnecting')}</span>` : null}
    </p>
  </div>`;
}

function Outputs({ task, onExpired }) {
  if (!task.outputs.length) return html`<p class="muted">${t('task.no_outputs')}</p>`;
  return html`<div class="outputs">
    ${task.outputs.map((o, n) => {
      const video = o.content_type.startsWith('video/');
      const name = `${task.id}-${n + 1}.${(o.content_type.split('/')[1] || 'bin').replace('quicktime', 'mov')}`;
      return html`<figure class="output" key=${o.file_id}>
        ${o.url
          ? video
            ? html`<video class="media" src=${o.url} controls playsinline preload="metadata" onError=${onExpired}
                aria-label=${t('task.output_n', { n: n + 1 })}></video>`
            : html`<img class="media" src=${o.url} alt=${t('task.output_n', { n: n + 1 })} onError=${onExpired} />`
          : html`<p class="muted">${t('task.output_unavailable')}</p>`}
        <figcaption class="row">
          <span class="muted small">${t('task.output_n', { n: n + 1 })} · ${fileSize(o.size)}</span>
          ${o.url ? html`<a class="btn small" href=${o.url} download=${name}>${t('task.download', { n: n + 1 })}</a>` : null}
        </figcaption>
      </figure>`;
    })}
  </div>`;
}

function Cost({ task }) {
  const c = task.cost;
  const rows = [[t('task.cost_reserved'), tn('generate.credits', c.reserved)]];
  if (task.status === 'succeeded' && c.settled !== null && c.settled !== undefined) rows.push([t('task.cost_settled'), tn('generate.credits', c.settled)]);
  if (c.refunded) rows.push([t('task.cost_refunded'), tn('generate.credits', c.refunded)]);
  rows.push([t('task.cost_unit'), c.unit === 'second' ? tn('generate.price_per_second', c.unit_credits) : tn('generate.price_per_task', c.unit_credits)]);
  return html`<dl class="facts">
    ${rows.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}
  </dl>`;
}

/** The inputs as submitted: prompt, options and the uploaded files (loaded for a preview). */
function Inputs({ task, files }) {
  const i = task.inputs || {};
  return html`<dl class="facts">
    ${i.prompt ? html`<div class="wide"><dt>${t('generate.prompt')}</dt><dd class="prompt-text">${i.prompt}</dd></div>` : null}
    ${i.mode ? html`<div><dt>${t('generate.mode_legend')}</dt><dd>${t('generate.mode.' + i.mode)}</dd></div>` : null}
    ${i.aspect_ratio ? html`<div><dt>${t('generate.aspect')}</dt><dd>${i.aspect_ratio}</dd></div>` : null}
    ${inputFiles(task).map(([field, id]) => {
      const f = files && files[id];
      const [name, n] = field.split('.');
      const label =
        task.kind === 'text_to_video' && name === 'images'
          ? t(n === '0' ? 'generate.frame_first' : 'generate.frame_last')
          : t('task.input.' + name, { n: Number(n || 0) + 1 });
      return html`<div key=${field}><dt>${label}</dt>
        <dd>${f && f.url
          ? html`${f.content_type.startsWith('video/')
              ? html`<video class="thumb" src=${f.url} muted controls preload="metadata" aria-label=${t('upload.preview')}></video>`
              : html`<img class="thumb" src=${f.url} alt=${t('upload.preview')} />`}
            <span class="muted small">${describeFile(f)}</span>`
          : f === null
            ? html`<span class="muted small">${t('task.input_gone')}</span>`
            : html`<code>${id}</code>`}</dd></div>`;
    })}
  </dl>`;
}

/** Run the same inputs again as a new task, after showing its price. */
function Retry({ task, files }) {
  const { balance } = useShared();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const keyRef = useRef(null);
  const catalog = useLoad(() => (open ? api('/catalog') : Promise.resolve(null)), [open]);

  const ids = inputFiles(task);
  const gone = ids.filter(([, id]) => !files || !files[id] || files[id].status !== 'ready');
  const video = ids.find(([f]) => f === 'video');
  const videoMs = video && files && files[video[1]] ? files[video[1]].duration_ms : 0;
  const price = catalog.data ? taskPrice(catalog.data.tasks, task.kind, (task.inputs || {}).mode, videoMs) : null;
  const short = !!(price && balance && price.credits > balance.available);

  const go = async () => {
    setBusy(true);
    setError(null);
    try {
      const next = await submitTask(retryBody(task), keyRef);
      loadBalance().catch(() => {});
      navigate('/tasks/' + next.id);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  if (!open) {
    return html`<button type="button" class="btn primary" onClick=${() => {
      setOpen(true);
      loadBalance().catch(() => {});
    }}>${t('task.retry')}</button>`;
  }
  return html`<div class="card retry-box">
    <h2>${t('task.retry_title')}</h2>
    ${files && gone.length
      ? html`<p class="notice bad" role="alert">${t('task.retry_gone')} <a href=${'/generate?kind=' + task.kind}>${t('task.retry_new')}</a></p>`
      : !files || catalog.loading
        ? html`<${Loading} />`
        : catalog.error
          ? html`<${ErrorBox} error=${catalog.error} retry=${catalog.reload} />`
          : html`<p>${t('task.retry_text')}</p>
              <${PriceBox} price=${price} balance=${balance} id="retry-price" />
              ${error
                ? html`<div class="notice bad" role="alert"><p>${submitErrorText(error)}</p>
                    ${error.code === 'insufficient_credits' ? html`<p><a href="/pricing">${t('generate.buy_credits')}</a></p>` : null}</div>`
                : null}
              <div class="row">
                <button type="button" class="btn primary" onClick=${go} disabled=${busy || short}>
                  ${busy ? t('generate.submitting') : t('task.retry_submit')}
                </button>
                <button type="button" class="btn" onClick=${() => setOpen(false)}>${t('common.cancel')}</button>
              </div>`}
  </div>`;
}

function Cancel({ task, onDone }) {
  const [ask, setAsk] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const go = async () => {
    setBusy(true);
    setError(null);
    try {
      onDone(await api(`/tasks/${task.id}/cancel`, { method: 'POST', body: {} }));
    } catch (e) {
      if (e.code === 'task_finished') onDone(null);
      else setError(e);
    } finally {
      setBusy(false);
      setAsk(false);
    }
  };
  return html`<div class="cancel">
    ${ask
      ? html`<div class="card confirm" role="group" aria-labelledby="cancel-q">
          <p id="cancel-q">${t('task.cancel_confirm', { n: number(task.cost.reserved) })}</p>
          <div class="row">
            <button type="button" class="btn danger" onClick=${go} disabled=${busy}>${t('task.cancel_yes')}</button>
            <button type="button" class="btn" onClick=${() => setAsk(false)}>${t('task.cancel_no')}</button>
          </div>
        </div>`
      : html`<button type="button" class="btn danger" onClick=${() => setAsk(true)}>${t('task.cancel')}</button>`}
    ${error ? html`<p class="field-error" role="alert">${errorText(error)}</p>` : null}
  </div>`;
}

function TaskView({ initial, reload }) {
  const [task, setTask] = useState(initial);
  const [conn, setConn] = useState('open');
  const [files, setFiles] = useState(null); // file id -> stored file, null when gone
  const [streamError, setStreamError] = useState(null);
  const refreshed = useRef(false);
  const elapsed = useElapsed(task);
  const live = isLive(task);

  useEffect(() => setTask(initial), [initial]);

  // While live: the event stream, until a final status.
  useEffect(() => {
    if (!isLive(initial)) return undefined;
    const s = openStream(`/api/v1/tasks/${initial.id}/events`, {
      onEvent: (ev) => {
        if (ev.event !== 'task') return;
        try {
          setTask(JSON.parse(ev.data));
        } catch {
          /* a broken event: the next one replaces it */
        }
      },
      done: (ev) => {
        try {
          return !isLive(JSON.parse(ev.data));
        } catch {
          return false;
        }
      },
      onState: setConn,
      onError: setStreamError,
    });
    return () => s.stop();
  }, [initial.id]);

  // Once final: the header's balance (a refund, a settlement).
  useEffect(() => {
    if (!live) loadBalance().catch(() => {});
  }, [live]);

  // The input files (previews, and whether a retry can use them).
  useEffect(() => {
    let on = true;
    const ids = inputFiles(initial).map(([, id]) => id);
    Promise.all(ids.map((id) => api('/uploads/' + id).catch((e) => (e.status === 404 ? null : Promise.reject(e))))).then(
      (fs) => on && setFiles(Object.fromEntries(ids.map((id, n) => [id, fs[n]]))),
      () => on && setFiles({}),
    );
    return () => {
      on = false;
    };
  }, [initial.id]);

  // Signed output URLs last an hour: a player that fails reads the task again, once.
  const onExpired = () => {
    if (refreshed.current) return;
    refreshed.current = true;
    reload();
  };

  const failed = task.status === 'failed' || task.status === 'timed_out' || task.status === 'canceled';
  const reason = taskErrorText(task);
  return html`<div class="task-view">
    <div class="spread">
      <h1>${t('generate.kind.' + task.kind)} <${StatusBadge} status=${task.status} /></h1>
      ${live ? html`<${Cancel} task=${task} onDone=${(x) => (x ? setTask(x) : reload())} />` : null}
    </div>
    <p class="muted small">${t('task.created', { when: dateTime(task.created_at) })} · <code>${task.id}</code></p>

    <${Progress} task=${task} elapsed=${elapsed} conn=${conn} />
    ${streamError ? html`<${ErrorBox} error=${streamError} retry=${reload} />` : null}

    ${task.status === 'succeeded'
      ? html`<h2>${t('task.result')}</h2><${Outputs} task=${task} onExpired=${onExpired} />`
      : null}

    ${failed
      ? html`<div class=${task.status === 'canceled' ? 'notice' : 'notice bad'} role="alert">
          <p>${t('task.why.' + task.status)}</p>
          ${reason && task.status !== 'canceled' ? html`<p class="small">${t('task.reason', { reason })}</p>` : null}
          <p><strong>${tn('task.refunded', task.cost.refunded)}</strong> <a href="/ledger">${t('task.see_ledger')}</a></p>
        </div>
        <${Retry} task=${task} files=${files} />`
      : null}

    ${task.status === 'succeeded' && task.cost.refunded
      ? html`<p class="notice ok">${t('task.settled_refund', { cost: number(task.cost.settled), n: number(task.cost.refunded) })} <a href="/ledger">${t('task.see_ledger')}</a></p>`
      : null}

    <div class="grid two task-details">
      <section class="card" aria-labelledby="task-cost-h">
        <h2 id="task-cost-h">${t('task.cost_title')}</h2>
        <${Cost} task=${task} />
      </section>
      <section class="card" aria-labelledby="task-inputs-h">
        <h2 id="task-inputs-h">${t('task.inputs_title')}</h2>
        <${Inputs} task=${task} files=${files} />
      </section>
    </div>
    <p><a href="/tasks">${t('task.back')}</a></p>
  </div>`;
}

export default function Task({ params }) {
  // No id: this module is still mounted while the next page's loads (the router's gap).
  const load = useLoad(() => (params.id ? api('/tasks/' + encodeURIComponent(params.id)) : new Promise(() => {})), [params.id]);
  if (load.error && (load.error.status === 404 || load.error.code === 'validation_failed')) {
    return html`<section class="narrow"><h1>${t('task.not_found_title')}</h1>
      <p>${t('task.not_found')}</p><p><a class="btn" href="/tasks">${t('task.back')}</a></p></section>`;
  }
  return html`<section class="task-page">
    <${Async} load=${load}>${(task) => html`<${TaskView} initial=${task} reload=${load.reload} />`}<//>
  </section>`;
}
