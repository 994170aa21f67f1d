// upload.js - one input file of a generation task: pick it, upload it (POST /uploads, then the
// PUT to the signed URL it gives, with progress, then /complete), show what Tollgate found in
// it (pixels, length) and a local preview.
import { html, useEffect, useRef } from '../lib.js';
import { api, ApiError } from '../api.js';
import { number, percent, t } from '../i18n.js';
import { errorText } from './ui.js';

export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/bmp'];
export const VIDEO_TYPES = ['video/mp4', 'video/quicktime', 'video/x-msvideo'];

/** PUTs body to url with headers, calling onProgress(0..1); resolves to the parsed answer. */
function put(url, headers, body, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('PUT', url);
    for (const [k, v] of Object.entries(headers || {})) {
      // The browser sets Content-Length itself (and refuses to be told).
      if (k.toLowerCase() !== 'content-length') x.setRequestHeader(k, v);
    }
    x.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    x.onload = () => {
      let data = null;
      try {
        data = x.responseText ? JSON.parse(x.responseText) : null;
      } catch {
        data = null;
      }
      if (x.status >= 200 && x.status < 300) resolve(data);
      else reject(new ApiError(x.status, data, Number(x.getResponseHeader('Retry-After')) || undefined));
    };
    x.onerror = () => reject(new ApiError(0, { error: { code: 'network', message: 'upload failed' } }));
    x.onabort = () => reject(new ApiError(0, { error: { code: 'aborted', message: 'aborted' } }));
    if (signal) signal.addEventListener('abort', () => x.abort());
    x.send(body);
  });
}

/**
 * Uploads one file: resolves to the stored file (GET /uploads/{id} shape, status ready).
 * onProgress(fraction) follows the PUT.
 */
export async function uploadFile(file, onProgress, signal) {
  const up = await api('/uploads', { method: 'POST', body: { content_type: file.type, size: file.size } });
  await put(up.upload_url, up.headers, file, onProgress, signal);
  onProgress(1);
  // Local storage is complete once its PUT is; S3 and OSS need /complete. /complete answers a
  // ready file as it is, so it is the one call for every backend.
  return api(`/uploads/${up.id}/complete`, { method: 'POST', body: {} });
}

/** "1920 × 1080 · 5.2 s" for a stored file. */
export function describeFile(f) {
  const parts = [];
  if (f.width && f.height) parts.push(t('upload.pixels', { w: number(f.width), h: number(f.height) }));
  if (f.duration_ms) parts.push(t('upload.seconds', { n: number(Math.round(f.duration_ms / 100) / 10) }));
  parts.push(fileSize(f.size));
  return parts.join(' · ');
}

/** A size in bytes as "3.2 MB" or "48 KB". */
export function fileSize(bytes) {
  if (bytes >= 1048576) return t('upload.size', { n: number(Math.round((bytes / 1048576) * 10) / 10) });
  return t('upload.size_kb', { n: number(Math.max(1, Math.round(bytes / 1024))) });
}

/**
 * A file field that uploads what is picked. value: {status, file, preview, progress, stored,
 * error} or null; onChange(next) with the same shape. kind: 'image' | 'video'. error: a message
 * from the task submission about this field (shown next to it).
 */
export function UploadField({ id, label, hint, kind, value, onChange, error, optional }) {
  const input = useRef(null);
  const ctl = useRef(null);
  const v = value || { status: 'empty' };
  const types = kind === 'video' ? VIDEO_TYPES : IMAGE_TYPES;

  // The preview's object URL lives as long as the value that holds it.
  useEffect(() => () => ctl.current && ctl.current.abort(), []);

  const pick = async (e) => {
    const file = e.target.files && e.target.files[0];
    if (!file) return;
    if (ctl.current) ctl.current.abort();
    if (v.preview) URL.revokeObjectURL(v.preview);
    if (!types.includes(file.type)) {
      onChange({ status: 'error', error: t('upload.wrong_type', { types: types.map((x) => x.split('/')[1]).join(', ') }) });
      return;
    }
    const preview = URL.createObjectURL(file);
    const c = new AbortController();
    ctl.current = c;
    let cur = { status: 'uploading', file, preview, progress: 0 };
    onChange(cur);
    try {
      const stored = await uploadFile(
        file,
        (p) => {
          cur = { ...cur, progress: p };
          onChange(cur);
        },
        c.signal,
      );
      if (c.signal.aborted) return;
      onChange({ status: 'ready', file, preview, progress: 1, stored });
    } catch (err) {
      if (c.signal.aborted) return;
      const msg =
        err.code === 'invalid_input' && err.details && err.details.max
          ? t('upload.too_large', { n: number(Math.floor(err.details.max / 1048576)) })
          : errorText(err);
      onChange({ status: 'error', file, preview, error: msg });
    }
  };

  const clear = () => {
    if (ctl.current) ctl.current.abort();
    if (v.preview) URL.revokeObjectURL(v.preview);
    if (input.current) input.current.value = '';
    onChange(null);
  };

  const msg = error || v.error;
  const hintId = id + '-hint';
  const errId = id + '-error';
  const statusId = id + '-status';
  return html`<div class="field upload">
    <label for=${id}>${label}${optional ? html` <span class="muted small">${t('upload.optional')}</span>` : null}</label>
    <input id=${id} ref=${input} type="file" accept=${types.join(',')} onChange=${pick}
      aria-describedby=${[hintId, statusId, msg ? errId : null].filter(Boolean).join(' ')}
      aria-invalid=${msg ? 'true' : undefined} />
    ${hint ? html`<p class="hint" id=${hintId}>${hint}</p>` : null}
    <div class="upload-status">
      ${v.status === 'uploading'
        ? html`<label class="sr-only" for=${id + '-progress'}>${t('upload.progress_label')}</label>
            <progress id=${id + '-progress'} max="100" value=${Math.round((v.progress || 0) * 100)}></progress>
            <span class="small" aria-hidden="true">${t('upload.uploading', { p: percent(v.progress || 0) })}</span>`
        : null}
      <span id=${statusId} role="status" aria-live="polite" class=${'small' + (v.status === 'ready' ? ' ok-text' : '')}>
        ${v.status === 'uploading' ? html`<span class="sr-only">${t('upload.started')}</span>` : null}
        ${v.status === 'ready' ? html`${t('upload.ready')} · ${describeFile(v.stored)}` : null}
      </span>
    </div>
    ${msg ? html`<p class="field-error" id=${errId}>${msg}</p>` : null}
    ${v.preview && v.status !== 'error'
      ? html`<div class="upload-preview">
          ${kind === 'video'
            ? html`<video src=${v.preview} muted controls playsinline preload="metadata" aria-label=${t('upload.preview')}></video>`
            : html`<img src=${v.preview} alt=${t('upload.preview')} />`}
        </div>`
      : null}
    ${v.status !== 'empty' ? html`<p><button type="button" class="btn small" onClick=${clear} aria-label=${t('upload.remove_named', { name: label })}>${t('upload.remove')}</button></p>` : null}
  </div>`;
}
