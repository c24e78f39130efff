// @ts-check
// The page a screen opens: `/display`. Unpaired, it shows a large code and waits; once an
// administrator enters the code (Admin › Displays), it collects its own credential (kept in
// this browser's storage, sent as a header, never in a URL) and shows what it was given — one
// report or a playlist, in TV mode — through the embedding SDK, like a host app, with
// tokens for its own credential. A live channel of its own says when what it shows changes
// or that it was unpaired (it then goes dark at once and shows a new code). Every minute it
// says how it is, and it rotates its credential when told to.

import { embed } from '/sdk/v1/vitrine-embed.js';
import { parseEvents } from './live.js';
import { backoffDelay } from './token-keeper.js';

const KEY = 'vitrine.display.credential';
const root = /** @type {HTMLElement} */ (document.getElementById('display'));
const pairing = /** @type {HTMLElement} */ (document.getElementById('pairing'));
const codeBox = /** @type {HTMLElement} */ (document.getElementById('code'));
const screen = /** @type {HTMLElement} */ (document.getElementById('screen'));

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));


/** @type {string | null} */
let credential = localStorage.getItem(KEY);
/** A generation per pairing: everything of an older one stops. */
let generation = 0;

/**
 * @param {string} path
 * @param {{ method?: string, body?: unknown, auth?: boolean }} [options]
 */
async function call(path, { method = 'GET', body, auth = true } = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' };
  if (auth && credential) headers.Authorization = `Bearer ${credential}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
}

/** Shows a code until an administrator enters it, then keeps the credential. */
async function pair() {
  const mine = ++generation;
  credential = null;
  localStorage.removeItem(KEY);
  screen.replaceChildren();
  screen.hidden = true;
  pairing.hidden = false;
  root.dataset.state = 'pairing';
  let failures = 0;
  while (mine === generation) {
    const started = await call('/api/v1/display/pairings', { method: 'POST', auth: false }).catch(() => null);
    if (!started || started.status !== 201) {
      codeBox.textContent = '……';
      await sleep(started?.status === 429 ? 30_000 : backoffDelay(++failures));
      continue;
    }
    failures = 0;
    const { code, secret, expiresAt, checkEverySeconds } = await started.json();
    codeBox.textContent = `${code.slice(0, 3)} ${code.slice(3)}`;
    root.dataset.code = code;
    const until = Date.parse(expiresAt);
    while (mine === generation && Date.now() < until) {
      await sleep(checkEverySeconds * 1_000);
      const answer = await call('/api/v1/display/pairings/claim', { method: 'POST', body: { secret }, auth: false }).catch(() => null);
      if (!answer || answer.status === 202) continue;
      if (answer.status === 200) {
        const paired = await answer.json();
        credential = paired.credential;
        localStorage.setItem(KEY, paired.credential);
        delete root.dataset.code;
        void run();
        return;
      }
      break; // expired or collected: a new code
    }
  }
}

/** The report (or playlist) being shown, and what the screen last said of itself. */
const now = {
  /** @type {{ destroy(): void }[]} */
  reports: [],
  state: 'connecting',
  /** @type {string | undefined} */
  detail: undefined,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  next: undefined,
  /** @type {any} what it was told to show */
  show: null,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  retry: undefined,
};

/** A refused report (no access, no row-level-security role) is tried again this often. */
const RETRY_REFUSED_MS = 60_000;

/** @param {string} state @param {string} [detail] */
function say(state, detail) {
  if (now.state === state && now.detail === detail) return;
  now.state = state;
  now.detail = detail;
  root.dataset.state = state;
  void heartbeat();
}

/** Takes everything off the screen. */
function clear() {
  clearTimeout(now.next);
  clearTimeout(now.retry);
  for (const report of now.reports) report.destroy();
  now.reports = [];
  screen.replaceChildren();
}

/**
 * @param {string} reportId
 * @param {number | undefined} pageSeconds
 * @param {string | undefined} [page]
 */
function showReport(reportId, pageSeconds, page) {
  const frame = document.createElement('div');
  frame.className = 'display-report';
  screen.replaceChildren(frame);
  const report = embed(frame, {
    url: location.origin,
    reportId,
    mode: 'tv',
    theme: 'dark',
    autoSize: false,
    refreshMinutes: 5,
    rotateSeconds: pageSeconds,
    page,
    title: 'Report',
    fetchToken: async () => (await call('/api/v1/display/token', { method: 'POST', body: { report: reportId } })).json(),
  });
  report.on('rendered', () => say('showing', reportId));
  report.on('capacity', (/** @type {any} */ detail) => say(detail?.state === 'Resuming' ? 'starting' : 'paused', reportId));
  report.on('error', (/** @type {any} */ detail) => say('error', detail?.code));
  report.on('accessEnded', async (/** @type {any} */ detail) => {
    say('error', detail?.code);
    // Unpaired? Then back to a code at once.
    const me = await call('/api/v1/display/me').catch(() => null);
    if (me?.status === 401) return void pair();
    // Nobody is at the screen to press Refresh: an administrator fixing its access is seen
    // within a minute.
    clearTimeout(now.retry);
    now.retry = setTimeout(() => apply(now.show), RETRY_REFUSED_MS);
  });
  now.reports.push(report);
}

/** @param {any} show */
function apply(show) {
  clear();
  now.show = show;
  screen.hidden = false;
  pairing.hidden = true;
  if (show?.report) {
    showReport(show.report, show.pageSeconds, show.page);
    return;
  }
  const playlist = Array.isArray(show?.playlist) ? show.playlist : [];
  if (!playlist.length) return;
  let index = 0;
  const step = () => {
    const item = playlist[index % playlist.length];
    index += 1;
    for (const report of now.reports) report.destroy();
    now.reports = [];
    showReport(item.report, undefined);
    now.next = setTimeout(step, item.seconds * 1_000);
  };
  step();
}

let heartbeatEvery = 60;
/** @type {AbortController | null} */
let channel = null;

/** Says how the screen is; rotates the credential when told to. */
async function heartbeat() {
  if (!credential) return;
  const answer = await call('/api/v1/display/heartbeat', { method: 'POST', body: { state: now.state, ...(now.detail ? { detail: now.detail } : {}) } }).catch(() => null);
  if (answer?.status === 401) return void pair();
  if (!answer?.ok) return;
  const own = await answer.json();
  heartbeatEvery = own.heartbeatSeconds ?? heartbeatEvery;
  if (own.rotate) await rotate();
}

async function rotate() {
  const answer = await call('/api/v1/display/credential', { method: 'POST' }).catch(() => null);
  if (!answer?.ok) return;
  const { credential: fresh } = await answer.json();
  credential = fresh;
  localStorage.setItem(KEY, fresh);
  listen(generation); // the channel follows the new credential
}

/**
 * The display's own live channel: `show` and `unpaired`.
 * @param {number} mine
 */
function listen(mine) {
  channel?.abort();
  const controller = new AbortController();
  channel = controller;
  void (async () => {
    let failures = 0;
    while (mine === generation && !controller.signal.aborted) {
      try {
        const response = await fetch('/api/v1/display/live', {
          headers: { Authorization: `Bearer ${credential}`, Accept: 'text/event-stream' },
          cache: 'no-store',
          signal: controller.signal,
        });
        if (response.status === 401) return void pair();
        if (!response.ok || !response.body) throw new Error(String(response.status));
        failures = 0;
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const parsed = parseEvents(buffer + decoder.decode(value, { stream: true }));
          buffer = parsed.rest;
          for (const { event, data } of parsed.events) {
            if (event === 'unpaired') {
              clear();
              return void pair();
            }
            if (event === 'show') apply(JSON.parse(data).show);
          }
        }
      } catch {
        if (controller.signal.aborted) return;
      }
      await sleep(backoffDelay(++failures));
    }
  })();
}

/** Paired: what to show, the live channel and the heartbeat. */
async function run() {
  const mine = ++generation;
  root.dataset.state = 'connecting';
  let failures = 0;
  for (;;) {
    const me = await call('/api/v1/display/me').catch(() => null);
    if (mine !== generation) return;
    if (me?.status === 401) return void pair();
    if (me?.ok) {
      const own = await me.json();
      heartbeatEvery = own.heartbeatSeconds ?? heartbeatEvery;
      root.dataset.display = own.id;
      apply(own.show);
      listen(mine);
      if (own.rotate) await rotate();
      break;
    }
    await sleep(backoffDelay(++failures));
  }
  const beat = async () => {
    if (mine !== generation) return;
    await heartbeat();
    setTimeout(beat, heartbeatEvery * 1_000);
  };
  setTimeout(beat, heartbeatEvery * 1_000);
}

if (credential) void run();
else void pair();
