// @ts-check
// A report of Power BI, shown through powerbi-client (served from /assets/powerbi-client.js,
// which defines `window.powerbi` and `window['powerbi-client']`). The token keeper stays the one
// place that knows about token life: every token it gets carries Power BI's own token, which
// is handed to the embedded report with `setAccessToken` — no reload, its page and filters
// kept. What the keeper cannot see from outside the report's frame it learns from the
// report's events: `TokenExpired` (a new token at once) and `CapacityNotActive` (the
// capacity is paused: wait for it, then load the report again, by itself).

import { waitForCapacity } from './token-keeper.js';

/**
 * @typedef {object} PowerBiGrant
 * @property {string} accessToken
 * @property {string} tokenId
 * @property {string} expiration
 * @property {string} embedUrl
 * @property {string} reportId
 *
 * @typedef {object} PowerBiHooks
 * @property {(detail: { code: string, message: string }) => void} onCapacity  the capacity is paused
 * @property {() => void} onRunning   it runs again and the report shows
 * @property {(code: string, message: string) => void} onFailure  the report cannot be shown
 * @property {(name: string, detail: unknown) => void} onEvent  the report's own events
 */

/** The report's errors that mean "paused to save cost", not "broken". */
const CAPACITY_ERRORS = new Set(['CapacityNotActive', 'CapacityIsPaused', 'CapacitySuspended']);

/**
 * The Power BI part of the keeper's current grant, if any.
 * @param {import('./token-keeper.js').TokenKeeper} keeper
 * @returns {PowerBiGrant | undefined}
 */
export function powerBiGrant(keeper) {
  return /** @type {{ powerbi?: PowerBiGrant } | null} */ (keeper.grant)?.powerbi;
}

/**
 * Embeds the keeper's Power BI report in `container` and keeps handing it the keeper's tokens.
 * Returns a function that stops doing so (the container is emptied by its owner).
 * @param {HTMLElement} container
 * @param {import('./token-keeper.js').TokenKeeper} keeper
 * @param {PowerBiHooks} hooks
 * @returns {() => void}
 */
export function embedPowerBi(container, keeper, hooks) {
  const scope = /** @type {any} */ (window);
  const client = scope['powerbi-client'];
  const service = scope.powerbi;
  const first = powerBiGrant(keeper);
  if (!client || !service || !first) {
    hooks.onFailure(
      'PowerBiClientMissing',
      'This server cannot show Power BI reports yet: its operator installs powerbi-client (see docs/powerbi.md).',
    );
    return () => {};
  }
  const frame = document.createElement('div');
  frame.className = 'powerbi-frame';
  container.replaceChildren(frame);
  const report = service.embed(frame, {
    type: 'report',
    tokenType: client.models.TokenType.Embed,
    accessToken: first.accessToken,
    embedUrl: first.embedUrl,
    id: first.reportId,
    settings: { panes: { filters: { expanded: false } } },
  });
  let handed = first.tokenId;
  let stopped = false;
  let waiting = false;

  /** Gives the report the keeper's token when it is a new one. */
  async function hand() {
    const grant = powerBiGrant(keeper);
    if (stopped || !grant || grant.tokenId === handed) return;
    const before = handed;
    handed = grant.tokenId;
    try {
      await report.setAccessToken(grant.accessToken);
    } catch (error) {
      if (handed === grant.tokenId) handed = before;
      throw error;
    }
  }

  async function waitForCapacityThenReload() {
    if (waiting) return;
    waiting = true;
    while (waiting && !stopped) {
      // Power BI's capacity may be one Vitrine's live channel does not speak for: look again
      // at the short pace. Loading again costs Power BI no new token; an expired one says so.
      await waitForCapacity(Math.random, false);
      if (!waiting || stopped) return;
      await report.reload().catch(() => {});
    }
  }

  const onRefreshed = () => void hand().catch((error) => console.warn('setAccessToken failed', error));
  keeper.addEventListener('refreshed', onRefreshed);
  // A click into the report's frame first takes the focus from this page: the moment to
  // refresh a token with little life left, before the report acts on the click.
  const onBlur = () => {
    if (document.activeElement instanceof HTMLIFrameElement) void keeper.beforeInteraction().catch(() => {});
  };
  window.addEventListener('blur', onBlur);

  report.on('error', (/** @type {CustomEvent} */ event) => {
    const detail = event.detail ?? {};
    const code = String(detail.message ?? 'PowerBiError');
    hooks.onEvent('error', detail);
    if (code === 'TokenExpired') {
      void keeper.refresh('expired').then(hand).catch(() => {});
    } else if (CAPACITY_ERRORS.has(code) || CAPACITY_ERRORS.has(String(detail.errorCode))) {
      hooks.onCapacity({
        code: 'CapacityNotActive',
        message: "The report's capacity is paused to save cost. The report appears by itself once it runs.",
      });
      void waitForCapacityThenReload();
    } else {
      hooks.onFailure(code, String(detail.detailedMessage ?? detail.message ?? 'Power BI could not show the report.'));
    }
  });
  report.on('rendered', () => {
    if (waiting) {
      waiting = false;
      hooks.onRunning();
    }
    hooks.onEvent('rendered', {});
  });
  for (const name of ['loaded', 'pageChanged', 'dataSelected']) {
    report.on(name, (/** @type {CustomEvent} */ event) => hooks.onEvent(name, event.detail));
  }
  return () => {
    stopped = true;
    waiting = false;
    keeper.removeEventListener('refreshed', onRefreshed);
    window.removeEventListener('blur', onBlur);
    try {
      service.reset(frame);
    } catch {
      // already gone
    }
  };
}
