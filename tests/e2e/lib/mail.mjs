// Reading the mails Tollgate sends (RFC 5322 with RFC 2045/2047 encodings), as a mail
// client would: headers unfolded, encoded-words and the body decoded. Independent of the
// server's code, so that a test checks the message against the standards, not against
// itself.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Decodes RFC 2047 encoded-words ("=?UTF-8?B?...?=" and "?Q?") in an unfolded header value. */
export function decodeWords(value) {
  // Blanks between two adjacent encoded-words are not part of the text (RFC 2047 section 6.2).
  const joined = value.replace(/(\?=)\s+(=\?)/g, '$1$2');
  return joined.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, charset, enc, text) => {
    if (charset.toUpperCase() !== 'UTF-8') throw new Error(`unexpected charset ${charset}`);
    const bytes = enc.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (m, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  });
}

/** Decodes a quoted-printable body (RFC 2045 6.7) into bytes. */
function decodeQP(text) {
  const soft = text.replace(/=\r\n/g, '');
  const out = [];
  for (let i = 0; i < soft.length; i++) {
    if (soft[i] === '=' && /^[0-9A-F]{2}$/i.test(soft.slice(i + 1, i + 3))) {
      out.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out.push(soft.charCodeAt(i));
    }
  }
  return Buffer.from(out);
}

/**
 * Parses a message: {raw, headers (lower-case name -> [values], unfolded), header(name)
 * (the one value, throws when repeated), subject (decoded), body (decoded text)}.
 */
export function parseMail(raw) {
  const sep = raw.indexOf('\r\n\r\n');
  if (sep < 0) throw new Error('no empty line between header and body');
  const head = raw.slice(0, sep);
  const bodyRaw = raw.slice(sep + 4);
  const headers = new Map();
  for (const line of head.replace(/\r\n[ \t]/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    if (i <= 0) throw new Error(`malformed header line: ${line}`);
    const name = line.slice(0, i).toLowerCase();
    if (!headers.has(name)) headers.set(name, []);
    headers.get(name).push(line.slice(i + 1).trim());
  }
  const header = (name) => {
    const v = headers.get(name.toLowerCase()) ?? [];
    if (v.length !== 1) throw new Error(`header ${name} appears ${v.length} times`);
    return v[0];
  };
  const cte = (headers.get('content-transfer-encoding')?.[0] ?? '7bit').toLowerCase();
  let bytes;
  if (cte === 'base64') {
    const b64 = bodyRaw.replace(/\r\n/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new Error('the base64 body has characters outside the alphabet');
    bytes = Buffer.from(b64, 'base64');
  } else if (cte === 'quoted-printable') {
    bytes = decodeQP(bodyRaw);
  } else {
    bytes = Buffer.from(bodyRaw, 'utf8');
  }
  const body = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  return { raw, headers, header, subject: decodeWords(header('subject')), body };
}

/** The token of a verification or reset mail: from its link (and, checked, its own line). */
export function tokenOf(mail, page) {
  const m = new RegExp(`/${page}#token=([A-Za-z0-9_-]+)\\r?\\n`).exec(mail.body);
  if (!m) throw new Error(`no /${page}#token= link in the mail:\n${mail.body}`);
  if (!new RegExp(`\\r\\n${m[1]}\\r\\n`).test(mail.body)) throw new Error('the token is not also on a line of its own');
  return m[1];
}

/** Problems with the line structure of a raw message: bare CR or LF, lines over 998. */
export function lineProblems(raw) {
  const problems = [];
  if (/\r(?!\n)/.test(raw)) problems.push('bare CR');
  if (/(^|[^\r])\n/.test(raw)) problems.push('bare LF');
  if (!raw.endsWith('\r\n')) problems.push('does not end with CRLF');
  for (const l of raw.split('\r\n')) if (l.length > 998) problems.push(`a line of ${l.length} characters`);
  return problems;
}

/**
 * The outbox folder's messages, oldest first: [{file, mode, raw, mail}]. A file being written
 * has a hidden temporary name until it is complete (then it is renamed): those are skipped,
 * as any reader of the folder should.
 */
export function readOutbox(dataDir) {
  const dir = path.join(dataDir, 'outbox');
  return readdirSync(dir)
    .filter((file) => !file.startsWith('.'))
    .sort()
    .map((file) => {
      const full = path.join(dir, file);
      return { file, mode: statSync(full).mode & 0o777, raw: readFileSync(full, 'utf8') };
    })
    .map((x) => ({ ...x, mail: x.file.endsWith('.eml') ? parseMail(x.raw) : null }));
}
