// generate.js - submit a generation task: the kind, its inputs (uploaded here, with progress,
// what Tollgate found in them and a preview), the price before anything is charged, then the
// task's page.
import { html, useEffect, useRef, useState } from '../lib.js';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { navigate } from '../router.js';
import { loadBalance, useShared } from '../state.js';
import { Async, useLoad } from '../components/ui.js';
import { UploadField } from '../components/upload.js';
import { MODES, PriceBox, taskPrice, tn } from '../components/price.js';
import { KINDS, submitErrorText, submitTask } from '../components/tasks.js';

const VIDEO_ASPECTS = ['16:9', '9:16'];
const IMAGE_ASPECTS = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'];
const PROMPT_MAX = 4000;
/** Input images per kind (text_to_video: first and last frame). */
const MAX_IMAGES = { text_to_video: 2, image: 4 };

/**
 * The models' limits (PROVIDERS.md; Tollgate checks the same on submission and has the last
 * word): warned about as soon as the upload is probed, before anything is submitted.
 */
const LIMITS = {
  image: { mb: 5, minPx: 200, maxPx: 4096, aspect3: true },
  video: { mb: 200, minPx: 200, maxPx: 2048, aspect3: true, minS: 2, maxS: 30 },
  frame: { mb: 5, minPx: 1, maxPx: 8192 },
};

/** What breaks a limit in a probed file, in words (null: within the limits). */
function limitError(lim, v) {
  const f = v && v.status === 'ready' && v.stored;
  if (!f) return null;
  if (f.size > lim.mb * 1048576) return t('upload.limit_mb', { n: lim.mb });
  if (f.width && f.height) {
    if (Math.min(f.width, f.height) < lim.minPx || Math.max(f.width, f.height) > lim.maxPx)
      return t('upload.limit_px', { min: lim.minPx, max: lim.maxPx });
    if (lim.aspect3 && (f.width > 3 * f.height || f.height > 3 * f.width)) return t('upload.limit_aspect');
  }
  if (lim.minS && f.duration_ms && (f.duration_ms < lim.minS * 1000 || f.duration_ms > lim.maxS * 1000))
    return t('upload.limit_seconds', { min: lim.minS, max: lim.maxS });
  return null;
}

function isAnimate(kind) {
  return kind === 'animate_move' || kind === 'animate_mix';
}

/** The field a server error names, as this form's keys ("images[1]" -> "images.1"). */
function fieldKey(field) {
  const m = /^images\[(\d+)\]$/.exec(field || '');
  return m ? 'images.' + m[1] : field;
}

/** The index of the last slot holding a file (-1: none). */
function lastFilled(slots) {
  for (let i = slots.length - 1; i >= 0; i--) if (slots[i]) return i;
  return -1;
}

function KindPicker({ kind, onChange }) {
  return html`<fieldset class="kinds">
    <legend>${t('generate.kind_legend')}</legend>
    <div class="kind-grid">
      ${KINDS.map(
        (k) => html`<div class=${'kind-option' + (k === kind ? ' selected' : '')}>
          <input type="radio" name="kind" id=${'kind-' + k} value=${k} checked=${k === kind}
            onChange=${() => onChange(k)} aria-describedby=${'kind-' + k + '-desc'} />
          <label class="kind-name" for=${'kind-' + k}>${t('generate.kind.' + k)}</label>
          <span class="kind-desc muted small" id=${'kind-' + k + '-desc'}>${t('generate.kind_desc.' + k)}</span>
        </div>`,
      )}
    </div>
  </fieldset>`;
}

function GenerateForm({ catalog, initialKind }) {
  const { balance } = useShared();
  const [kind, setKind] = useState(KINDS.includes(initialKind) ? initialKind : 'text_to_video');
  const [mode, setMode] = useState('wan-std');
  const [prompt, setPrompt] = useState('');
  const [aspect, setAspect] = useState('');
  const [image, setImage] = useState(null);
  const [video, setVideo] = useState(null);
  const [images, setImages] = useState([]);
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);
  const keyRef = useRef(null);

  useEffect(() => {
    loadBalance().catch(() => {});
  }, []);

  const changeKind = (k) => {
    setKind(k);
    setErrors({});
    setFormError(null);
    setAspect('');
    setImages((xs) => xs.slice(0, MAX_IMAGES[k] || 0));
  };

  const animate = isAnimate(kind);
  const videoMs = video && video.status === 'ready' ? video.stored.duration_ms : 0;
  const price = taskPrice(catalog.tasks, kind, mode, videoMs);
  const waiting = animate && !(video && video.status === 'ready');
  const slots = animate ? [] : images.slice(0, MAX_IMAGES[kind]);
  const uploading = [image, video, ...slots].some((v) => v && v.status === 'uploading');
  const short = !!(price && balance && !waiting && price.credits > balance.available);
  const warn = animate
    ? { image: limitError(LIMITS.image, image), video: limitError(LIMITS.video, video) }
    : Object.fromEntries(slots.map((v, i) => ['images.' + i, limitError(LIMITS.frame, v)]));
  const fieldError = (k) => warn[k] || errors[k] || undefined;

  const setSlot = (i) => (v) =>
    setImages((xs) => {
      const next = xs.slice();
      next[i] = v;
      return next;
    });

  const body = () => {
    const b = { kind };
    if (animate) {
      b.image = image && image.stored && image.stored.id;
      b.video = video && video.stored && video.stored.id;
      b.mode = mode;
    } else {
      b.prompt = prompt.trim();
      if (kind === 'text_to_video') b.aspect_ratio = aspect || '16:9';
      else if (aspect) b.aspect_ratio = aspect;
      const ids = slots.filter((v) => v && v.status === 'ready').map((v) => v.stored.id);
      if (ids.length) b.images = ids;
    }
    return b;
  };

  const check = () => {
    const e = {};
    if (animate) {
      if (!(image && image.status === 'ready')) e.image = t('generate.need_image');
      if (!(video && video.status === 'ready')) e.video = t('generate.need_video');
    } else {
      if (!prompt.trim()) e.prompt = t('generate.need_prompt');
      slots.forEach((v, i) => {
        if (v && v.status === 'error') e['images.' + i] = t('generate.fix_image');
      });
      // Veo3 takes the first image as the first frame: a last frame needs a first one.
      if (kind === 'text_to_video' && slots[1] && !slots[0]) e['images.0'] = t('generate.need_first_frame');
    }
    return e;
  };

  const submit = async (ev) => {
    ev.preventDefault();
    if (busy || uploading) return;
    const e = check();
    setErrors(e);
    setFormError(null);
    if (Object.keys(e).length) {
      const first = document.getElementById(Object.keys(e)[0] === 'prompt' ? 'gen-prompt' : 'gen-' + Object.keys(e)[0].replace('.', '-'));
      if (first) first.focus();
      return;
    }
    setBusy(true);
    try {
      const task = await submitTask(body(), keyRef);
      keyRef.current = null;
      loadBalance().catch(() => {});
      navigate('/tasks/' + task.id);
    } catch (err) {
      const f = err.details && err.details.field;
      if (f && ['validation_failed', 'invalid_input', 'file_not_ready'].includes(err.code)) {
        const msg =
          err.code === 'file_not_ready'
            ? t('errors.file_not_ready')
            : t(err.code === 'invalid_input' ? 'generate.invalid_input' : 'generate.field_invalid', { reason: err.message });
        setErrors({ [fieldKey(f)]: msg });
      } else {
        setFormError(err);
      }
      if (err.code === 'insufficient_credits') loadBalance().catch(() => {});
    } finally {
      setBusy(false);
    }
  };

  return html`<form class="generate" onSubmit=${submit} novalidate>
    <${KindPicker} kind=${kind} onChange=${changeKind} />

    ${animate
      ? html`<div class="grid two">
            <${UploadField} id="gen-image" kind="image" value=${image} onChange=${setImage} error=${fieldError('image')}
              label=${t(kind === 'animate_move' ? 'generate.image_move' : 'generate.image_mix')} hint=${t('generate.image_hint')} />
            <${UploadField} id="gen-video" kind="video" value=${video} onChange=${setVideo} error=${fieldError('video')}
              label=${t(kind === 'animate_move' ? 'generate.video_move' : 'generate.video_mix')} hint=${t('generate.video_hint')} />
          </div>
          <fieldset class="modes">
            <legend>${t('generate.mode_legend')}</legend>
            ${MODES.map(
              (m) => html`<label class="radio" for=${'mode-' + m}>
                <input type="radio" name="mode" id=${'mode-' + m} value=${m} checked=${m === mode} onChange=${() => setMode(m)} />
                ${t('generate.mode.' + m)}
                <span class="muted small">${tn('generate.price_per_second', catalog.tasks[kind].credits[m])}</span>
              </label>`,
            )}
          </fieldset>`
      : html`<div class="field">
            <label for="gen-prompt">${t('generate.prompt')}</label>
            <textarea id="gen-prompt" rows="4" maxlength=${PROMPT_MAX} value=${prompt}
              onInput=${(e) => setPrompt(e.target.value)} placeholder=${t('generate.prompt_placeholder.' + kind)}
              aria-describedby=${'gen-prompt-hint' + (errors.prompt ? ' gen-prompt-error' : '')}
              aria-invalid=${errors.prompt ? 'true' : undefined} required></textarea>
            <p class="hint" id="gen-prompt-hint">${t('generate.prompt_hint', { n: prompt.length, max: PROMPT_MAX })}</p>
            ${errors.prompt ? html`<p class="field-error" id="gen-prompt-error">${errors.prompt}</p>` : null}
          </div>
          <div class="field">
            <label for="gen-aspect">${t('generate.aspect')}</label>
            <select id="gen-aspect" value=${aspect || (kind === 'text_to_video' ? '16:9' : '')}
              onChange=${(e) => setAspect(e.target.value)}
              aria-describedby=${errors.aspect_ratio ? 'gen-aspect-error' : undefined}>
              ${kind === 'image' ? html`<option value="">${t('generate.aspect_auto')}</option>` : null}
              ${(kind === 'text_to_video' ? VIDEO_ASPECTS : IMAGE_ASPECTS).map(
                (a) => html`<option value=${a}>${t('generate.aspect_option', { a, name: t('generate.aspect_name.' + a.replace(':', '_')) })}</option>`,
              )}
            </select>
            ${errors.aspect_ratio ? html`<p class="field-error" id="gen-aspect-error">${errors.aspect_ratio}</p>` : null}
          </div>
          <fieldset class="inputs">
            <legend>${t(kind === 'text_to_video' ? 'generate.frames_legend' : 'generate.images_legend')}</legend>
            <p class="hint">${t(kind === 'text_to_video' ? 'generate.frames_hint' : 'generate.images_hint')}</p>
            <div class="grid two">
              ${Array.from({ length: Math.min(lastFilled(slots) + 2, MAX_IMAGES[kind]) }, (_, i) => html`
                <${UploadField} key=${kind + i} id=${'gen-images-' + i} kind="image" value=${slots[i] || null} onChange=${setSlot(i)}
                  error=${fieldError('images.' + i)}
                  label=${kind === 'text_to_video' ? t(i === 0 ? 'generate.frame_first' : 'generate.frame_last') : t('generate.image_n', { n: i + 1 })} />`)}
            </div>
          </fieldset>`}

    <${PriceBox} price=${price} balance=${balance} waiting=${waiting} />

    ${formError && !(formError.code === 'insufficient_credits' && short)
      ? html`<div class="notice bad" role="alert">
          <p>${submitErrorText(formError)}</p>
          ${formError.code === 'insufficient_credits' ? html`<p><a href="/pricing">${t('generate.buy_credits')}</a></p>` : null}
          ${formError.code === 'too_many_tasks' ? html`<p><a href="/tasks?status=running">${t('generate.see_running')}</a></p>` : null}
        </div>`
      : null}

    <div class="row">
      <button type="submit" class="btn primary" disabled=${busy || uploading || short}>
        ${busy ? t('generate.submitting') : t('generate.submit')}
      </button>
      ${uploading ? html`<span class="muted small" role="status">${t('generate.wait_upload')}</span>` : null}
    </div>
  </form>`;
}

export default function Generate({ query }) {
  const load = useLoad(() => api('/catalog'), []);
  return html`<section class="generate-page">
    <h1>${t('generate.title')}</h1>
    <p class="muted">${t('generate.intro')}</p>
    <${Async} load=${load}>${(catalog) => html`<${GenerateForm} catalog=${catalog} initialKind=${query.kind} />`}<//>
  </section>`;
}
