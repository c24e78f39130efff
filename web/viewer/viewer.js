// @ts-check
// The report viewer: page tabs, slicers, visuals, cross-filtering, TV mode, and the notices a
// viewer may need (reconnecting, signed out, access removed). Token life is the keeper's job;
// this module only asks it before every interaction. In the portal the keeper asks for tokens
// with the session; on the embed page (`data-embed`) it asks the host app's page, which calls
// its own backend, and the viewer tells that page what happens (sdk/vitrine-embed.js).

import { ReportApi, ReportError, Session } from './api.js';
import { RENDERERS } from './charts.js';
import { connectToHost, reportSize } from './embed.js';
import { formatValue, setLocale } from './format.js';
import { LiveChannel } from './live.js';
import { embedPowerBi, powerBiGrant } from './powerbi.js';
import { TokenKeeper, TokenRequestError, capacityNudge } from './token-keeper.js';

/**
 * @typedef {{ column: string, title?: string }} Slicer
 * @typedef {{ id: string, type: string, title: string, dimension?: { column: string, grain?: string }, measures: object[] }} Visual
 * @typedef {{ id: string, title: string, slicers: Slicer[], visuals: Visual[] }} Page
 * @typedef {{ id: string, name: string, description: string, definition: { pages: Page[], rowLevelSecurity: boolean } | null }} EmbeddedReport
 */

const root = /** @type {HTMLElement} */ (document.getElementById('viewer'));
const reportId = root.dataset.report ?? '';
/** The host app's page, when this report is embedded in one. */
const host =
  root.dataset.embed === '1' ? await connectToHost([...JSON.parse(root.dataset.allowedOrigins ?? '[]'), location.origin], reportId) : null;
const chosen = host?.settings ?? {};

/**
 * A whole number within `min..max`, else 0 (off).
 * @param {unknown} value
 * @param {number} min
 * @param {number} max
 */
function within(value, min, max) {
  const n = Number(value);
  return Number.isInteger(n) && n >= min && n <= max ? n : 0;
}

const tvMode = (host ? chosen.mode : root.dataset.mode) === 'tv';
const rotateSeconds = within(host ? chosen.rotateSeconds : root.dataset.rotate, 5, 3600);
const refreshMinutes = within(host ? chosen.refreshMinutes : root.dataset.refresh, 1, 1440);
if (host) {
  document.body.classList.toggle('tv', tvMode);
  document.body.classList.toggle('theme-dark', chosen.theme === 'dark');
  setLocale(chosen.locale);
}

/**
 * Tells the host app's page what happened (nothing outside an embed).
 * @param {string} name
 * @param {unknown} detail
 */
function emit(name, detail) {
  host?.emit(name, detail);
}

const session = new Session(root.dataset.csrf ?? '');
const keeper = new TokenKeeper({ fetchToken: host ? () => host.fetchToken() : session.tokenFetcher(reportId) });
const api = new ReportApi(reportId, keeper);
const live = new LiveChannel(keeper);

/** Filters per page: column → chosen values. */
const filters = /** @type {Map<string, Map<string, (string|number|boolean)[]>>} */ (new Map());
/** @type {EmbeddedReport | null} */
let report = null;
let currentPage = '';
/** The page and filters the host last heard of, to tell it about changes. */
let shownPage = '';
let shownFilters = '[]';
/** How many times the page's data has been loaded; tests wait on it. */
let loads = 0;
/** Stops handing tokens to the Power BI report shown, when one is. */
let stopPowerBi = () => {};
/** A Power BI report waits for its capacity (told by the report, not by Vitrine). */
let powerBiWaiting = false;

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 */
function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

const header = el('header', 'viewer-head');
const title = el('h1', 'viewer-title');
const tabs = el('nav', 'page-tabs');
tabs.setAttribute('aria-label', 'Report pages');
const status = el('div', 'connection');
status.setAttribute('role', 'status');
const slicerBar = el('div', 'slicer-bar');
const chips = el('div', 'filter-chips');
const grid = el('div', 'visual-grid');
const notice = el('div', 'viewer-notice');
notice.hidden = true;
const capacityBanner = el('div', 'capacity-banner');
capacityBanner.setAttribute('role', 'status');
capacityBanner.hidden = true;
header.append(title, tabs, status);
root.replaceChildren(header, capacityBanner, slicerBar, chips, grid, notice);

/**
 * Shows that the report waits for its capacity: starting (with progress) or paused to save
 * cost; the viewer keeps watching and shows the report by itself once it runs.
 * @param {{ code: string, message: string }} detail
 */
function showCapacity(detail) {
  capacityBanner.hidden = false;
  capacityBanner.dataset.code = detail.code;
  setConnection('waiting');
  capacityBanner.replaceChildren();
  const starting = detail.code === 'CapacityStarting';
  emit('capacity', { state: starting ? 'starting' : 'paused', code: detail.code, message: detail.message });
  // The server's message opens with what the heading says (paused to save cost, by an
  // administrator, by its schedule); the rest (when it is scheduled back, that the report
  // comes by itself) is what the viewer adds to it.
  const opening = detail.message.match(/^The report's capacity (?:is|was) ([^.;]*)[.;]\s*/);
  const said = opening ? opening[1] : 'paused';
  const heading = el('strong', '', starting ? 'Starting…' : `${said.charAt(0).toUpperCase()}${said.slice(1)}`);
  const rest = opening ? detail.message.slice(opening[0].length) : detail.message;
  const text = el('span', '', ` ${rest.charAt(0).toUpperCase()}${rest.slice(1)}`);
  capacityBanner.append(heading, text);
  if (detail.code === 'CapacityStarting') capacityBanner.append(el('span', 'progress'));
}

function hideCapacity() {
  if (!capacityBanner.hidden) {
    capacityBanner.hidden = true;
    setConnection('live');
    emit('capacity', { state: 'running' });
    if (report) void loadPage();
  }
}

/**
 * @param {'live' | 'waiting' | 'reconnecting' | 'source' | 'stopped'} state
 * @param {string} [why] shown on hover
 */
function setConnection(state, why = '') {
  status.dataset.state = state;
  status.textContent = {
    live: 'Live',
    waiting: 'Waiting for capacity',
    reconnecting: 'Reconnecting…',
    source: 'Database not answering, retrying…',
    stopped: 'Stopped',
  }[state];
  status.title = why;
}

function pageFilters() {
  let map = filters.get(currentPage);
  if (!map) {
    map = new Map();
    filters.set(currentPage, map);
  }
  return map;
}

function filterList() {
  return [...pageFilters()].filter(([, values]) => values.length > 0).map(([column, values]) => ({ column, values }));
}

/** @returns {Page | undefined} */
function page() {
  return report?.definition?.pages.find((p) => p.id === currentPage);
}

/** The report's pages as the host app sees them. */
function pageInfos() {
  return (report?.definition?.pages ?? []).map((p) => ({ id: p.id, title: p.title, active: p.id === currentPage }));
}

/**
 * A refusal of a host app's command, with its code.
 * @param {string} code
 * @param {string} message
 */
function commandError(code, message) {
  return Object.assign(new Error(message), { code });
}

/**
 * Filters as the host app gives them: a list of `{ column, values }`.
 * @param {unknown} list
 */
function readFilters(list) {
  if (!Array.isArray(list)) throw commandError('BadRequest', 'filters must be a list of { column, values }');
  const map = new Map();
  for (const item of list) {
    const okValues =
      Array.isArray(item?.values) && item.values.every((/** @type {unknown} */ v) => ['string', 'number', 'boolean'].includes(typeof v));
    if (typeof item?.column !== 'string' || !okValues) {
      throw commandError('BadRequest', 'each filter must be { column: string, values: (string|number|boolean)[] }');
    }
    map.set(item.column, item.values);
  }
  return map;
}

/**
 * Runs an interaction: the token is refreshed first when little life remains.
 * @param {() => void} change
 */
async function interact(change) {
  try {
    await keeper.beforeInteraction();
  } catch {
    return; // the keeper announced why; nothing changes
  }
  change();
  await loadPage();
}

function renderTabs() {
  tabs.replaceChildren();
  for (const p of report?.definition?.pages ?? []) {
    const tab = /** @type {HTMLButtonElement} */ (el('button', 'page-tab', p.title));
    tab.type = 'button';
    tab.setAttribute('aria-current', String(p.id === currentPage));
    tab.addEventListener('click', () => {
      if (p.id !== currentPage) void interact(() => (currentPage = p.id));
    });
    tabs.append(tab);
  }
}

function renderChips() {
  chips.replaceChildren();
  for (const { column, values } of filterList()) {
    const chip = /** @type {HTMLButtonElement} */ (el('button', 'chip', `${column}: ${values.map((v) => formatValue(v)).join(', ')} ×`));
    chip.type = 'button';
    chip.title = `Clear the ${column} filter`;
    chip.addEventListener('click', () => void interact(() => pageFilters().delete(column)));
    chips.append(chip);
  }
}

/**
 * Toggles one value of a column's filter (a click on a bar or slice, or a slicer box).
 * @param {string} column
 * @param {string|number|boolean} value
 * @param {boolean} [only] replace the selection instead of adding to it
 */
function toggle(column, value, only = false) {
  const map = pageFilters();
  const current = map.get(column) ?? [];
  const has = current.includes(value);
  const next = only ? (has && current.length === 1 ? [] : [value]) : has ? current.filter((v) => v !== value) : [...current, value];
  map.set(column, next);
}

/** @param {Page} p */
async function renderSlicers(p) {
  slicerBar.replaceChildren();
  for (const slicer of p.slicers ?? []) {
    const box = /** @type {HTMLDetailsElement} */ (el('details', 'slicer'));
    const chosen = pageFilters().get(slicer.column) ?? [];
    const summary = el('summary', '', `${slicer.title ?? slicer.column}: ${chosen.length ? chosen.map((v) => formatValue(v)).join(', ') : 'All'}`);
    const list = el('fieldset', 'slicer-values');
    box.append(summary, list);
    slicerBar.append(box);
    api
      .query({ page: p.id, slicer: slicer.column, filters: filterList() })
      .then((result) => {
        for (const [value] of result.rows) {
          const label = el('label');
          const input = /** @type {HTMLInputElement} */ (el('input'));
          input.type = 'checkbox';
          input.checked = chosen.includes(value);
          input.addEventListener('change', () => void interact(() => toggle(slicer.column, value)));
          label.append(input, document.createTextNode(` ${formatValue(value)}`));
          list.append(label);
        }
      })
      .catch(showError);
  }
}

/** Loads every visual of the current page with the current filters. */
async function loadPage() {
  const p = page();
  if (!p) return;
  renderTabs();
  renderChips();
  void renderSlicers(p);
  const list = filterList();
  const nowFilters = JSON.stringify(list);
  if (shownPage && shownPage !== p.id) emit('pageChanged', { page: p.id, title: p.title });
  else if (shownPage && nowFilters !== shownFilters) emit('filtersChanged', { page: p.id, filters: list });
  shownPage = p.id;
  shownFilters = nowFilters;
  const panels = p.visuals.map((visual) => {
    const existing = /** @type {HTMLElement | null} */ (grid.querySelector(`[data-visual="${CSS.escape(visual.id)}"]`));
    const panel = existing ?? el('section');
    // A panel is reused (its chart stays until the new data arrives); a changed definition
    // may have given it a new type or title.
    panel.className = `visual visual-${visual.type}`;
    panel.dataset.visual = visual.id;
    if (!existing) {
      panel.append(el('h2', 'visual-title'), el('div', 'visual-body'));
    }
    /** @type {HTMLElement} */ (panel.querySelector('.visual-title')).textContent = visual.title;
    panel.classList.add('loading');
    return panel;
  });
  grid.replaceChildren(...panels);
  await Promise.all(
    p.visuals.map(async (visual, index) => {
      const panel = panels[index];
      const body = /** @type {HTMLElement} */ (panel.querySelector('.visual-body'));
      try {
        const result = await api.query({ page: p.id, visual: visual.id, filters: filterList() });
        const column = visual.dimension && !visual.dimension.grain ? visual.dimension.column : null;
        const render = RENDERERS[visual.type] ?? RENDERERS.table;
        render(body, result, {
          onSelect: column
            ? (value) =>
                void interact(() => toggle(column, /** @type {string} */ (value), true)).then(() =>
                  emit('dataSelected', { page: p.id, visual: visual.id, column, value, filters: filterList() }),
                )
            : undefined,
          selected: column ? (pageFilters().get(column) ?? []) : [],
        });
        panel.classList.remove('loading');
      } catch (error) {
        showError(error);
      }
    }),
  );
  loads += 1;
  root.dataset.loaded = String(loads);
  if (notice.hidden) emit('rendered', { page: p.id });
}

/**
 * Explains, in plain words with the code, why the report cannot be shown.
 * @param {string} code
 * @param {string} message
 */
function explain(code, message) {
  notice.hidden = false;
  notice.replaceChildren();
  const box = el('div', 'notice-box');
  box.setAttribute('role', 'alert');
  const heading = el('h2');
  const text = el('p');
  const codeLine = el('p', 'notice-code', `Error code: ${code}`);
  box.append(heading, text);
  if (code === 'TokenExpired' && !host) {
    heading.textContent = 'Your session has ended';
    text.textContent = 'Sign in again to continue where you were. The report keeps its page and filters.';
    // The organization signs in with its identity provider: that way back, to this report.
    const sso = root.dataset.sso;
    if (sso) {
      text.textContent = "Sign in again with your organization's account to come back to this report.";
      const back = `${sso}?return=${encodeURIComponent(location.pathname + location.search)}`;
      const link = /** @type {HTMLAnchorElement} */ (el('a', 'button primary', `Sign in with ${root.dataset.ssoLabel ?? 'single sign-on'}`));
      link.href = back;
      box.append(link);
    }
  }
  if (code === 'TokenExpired' && !host && !root.dataset.ssoRequired) {
    const form = /** @type {HTMLFormElement} */ (el('form', 'notice-sign-in'));
    form.innerHTML =
      '<label>Email <input type="email" name="email" autocomplete="username" required></label>' +
      '<label>Password <input type="password" name="password" autocomplete="current-password" required></label>' +
      '<button type="submit" class="primary">Sign in</button><p class="notice-error" hidden></p>';
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const failure = /** @type {HTMLElement} */ (form.querySelector('.notice-error'));
      try {
        await session.signIn(String(data.get('email')), String(data.get('password')));
        await recover();
      } catch (error) {
        failure.hidden = false;
        failure.textContent = error instanceof ReportError ? `${error.message} (${error.code})` : 'Could not sign in.';
      }
    });
    box.append(form);
  } else if (code !== 'TokenExpired' || host) {
    const removed = code === 'NoAccess' || code === 'TokenRevoked' || code === 'Forbidden';
    heading.textContent = removed
      ? 'Your access to this report was removed'
      : code === 'NoRlsRole'
        ? 'No data has been assigned to you'
        : 'The report cannot be shown';
    text.textContent = message;
    const refresh = /** @type {HTMLButtonElement} */ (el('button', 'primary', 'Refresh'));
    refresh.type = 'button';
    refresh.addEventListener('click', () => void recover());
    box.append(refresh);
  }
  box.append(codeLine);
  notice.append(box);
  setConnection('stopped');
}

/** @param {unknown} error */
function showError(error) {
  if (error instanceof TokenRequestError || error instanceof ReportError) {
    const code = error.code === 'Unauthenticated' ? 'TokenExpired' : error.code;
    explain(code, error.message);
    emit('error', { code, message: error.message });
  } else {
    console.error(error);
  }
}

/** After signing in again or pressing Refresh: a new token, same page, same filters. */
async function recover() {
  try {
    live.stopped = false;
    await keeper.resume();
    notice.hidden = true;
    setConnection('live');
    // Re-read the report too: its pages may have changed while it was refused.
    await open();
  } catch (error) {
    showError(error);
  }
}

/**
 * Access ended (the keeper's token request was refused): the report's data leaves the screen
 * at once, and the notice says why.
 * @param {TokenRequestError} failure
 */
function endAccess(failure) {
  stopPowerBi();
  grid.replaceChildren();
  slicerBar.replaceChildren();
  chips.replaceChildren();
  showError(failure);
  emit('accessEnded', { code: failure.code, message: failure.message });
}

async function open() {
  const first = report === null;
  report = /** @type {EmbeddedReport} */ (await api.report());
  title.textContent = report.name;
  document.title = `${report.name} · Vitrine`;
  if (powerBiGrant(keeper)) {
    showPowerBi();
    return;
  }
  if (!report.definition || report.definition.pages.length === 0) {
    grid.replaceChildren(el('p', 'chart-empty', 'This report has no pages yet.'));
    emit('loaded', { reportId, name: report.name, pages: [] });
    return;
  }
  const pages = report.definition.pages;
  if (first && host && pages.some((p) => p.id === chosen.page)) currentPage = String(chosen.page);
  if (!pages.some((p) => p.id === currentPage)) currentPage = pages[0].id;
  if (first && host && chosen.filters !== undefined) {
    try {
      filters.set(currentPage, readFilters(chosen.filters));
    } catch (error) {
      emit('error', { code: 'BadRequest', message: String(/** @type {Error} */ (error).message) });
    }
  }
  emit('loaded', { reportId, name: report.name, pages: pageInfos() });
  await loadPage();
}

/** Shows the report of Power BI the keeper's token opens (its pages are Power BI's own). */
function showPowerBi() {
  stopPowerBi();
  slicerBar.replaceChildren();
  chips.replaceChildren();
  tabs.replaceChildren();
  grid.classList.add('powerbi');
  stopPowerBi = embedPowerBi(grid, keeper, {
    onCapacity: (detail) => {
      powerBiWaiting = true;
      showCapacity(detail);
    },
    onRunning: () => {
      powerBiWaiting = false;
      hideCapacity();
    },
    onFailure: (code, message) => {
      explain(code, message);
      emit('error', { code, message });
    },
    onEvent: (name, detail) => {
      if (name === 'rendered') {
        loads += 1;
        root.dataset.loaded = String(loads);
        emit('rendered', { page: 'powerbi' });
      } else if (name === 'pageChanged') {
        emit('pageChanged', detail);
      } else if (name === 'error') {
        root.dataset.powerbiError = String(/** @type {{ message?: string }} */ (detail)?.message ?? '');
      }
    },
  });
  emit('loaded', { reportId, name: report?.name ?? '', pages: [] });
}

/** Reads the report again while it is shown, keeping page and filters. */
async function reopen() {
  // A Power BI report's definition is Power BI's: nothing of Vitrine's changes it.
  if (!report || !notice.hidden || grid.classList.contains('powerbi')) return;
  try {
    await open();
  } catch (error) {
    showError(error);
  }
}

if (host) {
  reportSize(host, root);
  host.handle('getPages', async () => pageInfos());
  host.handle('getFilters', async () => filterList());
  host.handle('setPage', async (id) => {
    const target = report?.definition?.pages.find((p) => p.id === id);
    if (!target) throw commandError('NotFound', `The report has no page ${JSON.stringify(id)}.`);
    if (target.id !== currentPage) await interact(() => (currentPage = target.id));
    return { id: target.id, title: target.title, active: true };
  });
  host.handle('setFilters', async (list) => {
    const next = readFilters(list);
    await interact(() => filters.set(currentPage, next));
    return filterList();
  });
  host.handle('refresh', async () => {
    await loadPage();
  });
}

keeper.addEventListener('capacity', (event) => showCapacity(/** @type {CustomEvent} */ (event).detail));
api.addEventListener('capacity', (event) => showCapacity(/** @type {CustomEvent} */ (event).detail));
api.addEventListener('available', () => hideCapacity());
keeper.addEventListener('refreshed', () => {
  if (!powerBiWaiting) hideCapacity();
});
keeper.addEventListener('reconnecting', () => setConnection('reconnecting'));
keeper.addEventListener('reconnected', () => setConnection('live'));
keeper.addEventListener('refused', (event) => endAccess(/** @type {CustomEvent} */ (event).detail));
api.addEventListener('reconnecting', (event) => {
  const detail = /** @type {CustomEvent} */ (event).detail;
  if (detail?.code === 'SourceUnavailable') setConnection('source', `${detail.message} (${detail.code})`);
  else setConnection('reconnecting');
});
api.addEventListener('reconnected', () => setConnection('live'));
live.addEventListener('ready', () => (root.dataset.live = 'ready'));
// What the live channel says changed: the definition (visuals reload in place, page and
// filters kept), the token settings (a token at once, which brings them), or a capacity
// (waiting screens look again at once).
live.addEventListener('changed', () => void reopen());
live.addEventListener('settings', () => void keeper.refresh('settings changed').catch(() => {}));
live.addEventListener('capacity', () => capacityNudge.dispatchEvent(new Event('changed')));
// After a restart or a long disconnection the channel cannot say what it missed: the report is
// read again (definition and data); token settings arrive with the keeper's next token.
live.addEventListener('resync', () => void reopen());
live.addEventListener('revoked', () => (root.dataset.live = 'revoked'));
keeper.addEventListener('refreshed', (event) => {
  const detail = /** @type {CustomEvent} */ (event).detail;
  root.dataset.tokenRefreshes = String(Number(root.dataset.tokenRefreshes ?? 0) + 1);
  root.dataset.lastRefresh = detail.reason;
  emit('tokenRefreshed', { reason: detail.reason, tokenId: detail.tokenId, expiration: keeper.grant?.expiration });
});

async function main() {
  setConnection('live');
  try {
    await keeper.start();
    live.start();
    await open();
  } catch (error) {
    // A refused token was shown when the keeper announced it.
    if (!keeper.stoppedBecause) showError(error);
    return;
  }
  if (tvMode && rotateSeconds > 0) {
    setInterval(() => {
      const pages = report?.definition?.pages ?? [];
      if (pages.length < 2 || !notice.hidden) return;
      const next = pages[(pages.findIndex((p) => p.id === currentPage) + 1) % pages.length];
      void interact(() => (currentPage = next.id));
    }, rotateSeconds * 1000);
  }
  if ((tvMode || host) && refreshMinutes > 0) {
    setInterval(() => {
      if (notice.hidden) void loadPage();
    }, refreshMinutes * 60_000);
  }
}

void main();
