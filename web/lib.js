// lib.js - the one place pages get Preact, its hooks and htm from (vendor/ is filled from npm
// by tools/embed.py and web/dev.mjs, see vendor.json).
import { h, render, Fragment } from './vendor/preact.js';
import htm from './vendor/htm.js';

export { h, render, Fragment };
export { useState, useEffect, useRef, useMemo, useCallback, useReducer } from './vendor/hooks.js';
export const html = htm.bind(h);
