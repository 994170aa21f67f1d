// state.js - the little state shared between pages: the signed-in user, the region profile and
// the balance. Everything else lives in the page that owns it.
import { useEffect, useState } from './lib.js';
import { api, onSession, sessionUser } from './api.js';
import { currentLang, onLang } from './i18n.js';

let region = null; // GET /api/v1/region
let balance = null; // GET /api/v1/credits
const listeners = new Set();

function changed() {
  for (const fn of listeners) fn();
}

export function getRegion() {
  return region;
}

export async function loadRegion() {
  region = await api('/region', { auth: !!sessionUser() });
  changed();
  return region;
}

/** Saves the person's region choice (signed in: PUT /region; either way reloads the profile). */
export async function chooseRegion(code) {
  region = await api('/region', { method: 'PUT', body: { region: code } });
  changed();
  return region;
}

export function getBalance() {
  return balance;
}

/** Re-reads the balance (after a payment, a task, a refund). */
export async function loadBalance() {
  if (!sessionUser()) {
    balance = null;
  } else {
    balance = await api('/credits');
  }
  changed();
  return balance;
}

onSession((user) => {
  if (!user) balance = null;
  changed();
});

/**
 * Re-renders the calling component when the session, region, balance or language changes.
 * Returns {user, region, balance, lang}.
 */
export function useShared() {
  const [, tick] = useState(0);
  useEffect(() => {
    const fn = () => tick((n) => n + 1);
    listeners.add(fn);
    const offS = onSession(fn);
    const offL = onLang(fn);
    return () => {
      listeners.delete(fn);
      offS();
      offL();
    };
  }, []);
  return { user: sessionUser(), region, balance, lang: currentLang() };
}
