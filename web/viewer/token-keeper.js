// @ts-check
// The one place that knows about the embed token's life: when it arrived, how long it lives,
// when to refresh it (on interaction, on the timed update, on wake, when found expired), and
// how to keep trying when the network or the server is away. Everything else asks it for a
// valid token and never looks at expiry itself.

/**
 * @typedef {object} RefreshPolicy
 * @property {number | null} everySeconds   the organization's timed update, or null when off
 * @property {number} beforeExpirySeconds    refresh before an interaction when less remains
 *
 * @typedef {object} TokenGrant
 * @property {string} token
 * @property {string} tokenId
 * @property {string} expiration             RFC 3339; shown only, never used for timing
 * @property {number} expiresInSeconds
 * @property {RefreshPolicy} refresh
 *
 * @typedef {object} Clocks
 * @property {() => number} wall       milliseconds, like Date.now()
 * @property {() => number} monotonic  milliseconds, like performance.now()
 */

/** A token request the server refused or could not answer. */
export class TokenRequestError extends Error {
  /**
   * @param {string} code      the server's error code, or 'Network' / 'ServerError'
   * @param {number} status    HTTP status, 0 for a network failure
   * @param {string} message
   */
  constructor(code, status, message) {
    super(message);
    this.code = code;
    this.status = status;
  }

  /** Worth retrying: the network failed or the server had a problem. */
  get transient() {
    return this.status === 0 || this.status >= 500 || this.status === 429;
  }
}

/**
 * Backoff after the n-th consecutive failure: full jitter, capped at 60 s, so that thousands
 * of viewers coming back after a restart spread out instead of arriving in the same second.
 * @param {number} attempt
 * @param {() => number} [random]
 */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(60_000, 1_000 * 2 ** Math.min(attempt, 16));
  return Math.floor(random() * ceiling);
}

/**
 * The server's answers that mean "wait for the capacity", not "something broke".
 * @param {string} code
 */
export function isCapacityWait(code) {
  return code === 'CapacityStarting' || code === 'CapacityNotActive';
}

/**
 * Told by the live channel that a capacity changed state: waiting screens look again now.
 * `listening` is true while the channel is open; then it says when to look, and the poll is
 * only a fallback.
 */
export const capacityNudge = Object.assign(new EventTarget(), { listening: false });

/**
 * How long to wait before looking at a paused or starting capacity again: 3 to 6 seconds, so
 * that the screens watching it do not ask in step; 20 to 30 seconds while a live channel will
 * say when it changes.
 * @param {() => number} [random]
 * @param {boolean} [listening]
 */
export function capacityPollDelay(random = Math.random, listening = capacityNudge.listening) {
  return listening ? 20_000 + Math.floor(random() * 10_000) : 3_000 + Math.floor(random() * 3_000);
}

/**
 * Waits before looking at a paused or starting capacity again: the poll's delay, cut short
 * when the live channel says a capacity changed state. `listening` false polls at the short
 * pace even with the channel open (a capacity the channel does not speak for).
 * @param {() => number} [random]
 * @param {boolean} [listening]
 */
export function waitForCapacity(random = Math.random, listening = capacityNudge.listening) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      capacityNudge.removeEventListener('changed', done);
      resolve(undefined);
    };
    const timer = setTimeout(done, capacityPollDelay(random, listening));
    capacityNudge.addEventListener('changed', done);
  });
}

const HEARTBEAT_MS = 15_000;
/** A heartbeat this late means the device slept (timers do not run in sleep). */
const LATE_MS = 30_000;

export class TokenKeeper extends EventTarget {
  /**
   * @param {object} options
   * @param {() => Promise<TokenGrant>} options.fetchToken  asks the server for a new token
   * @param {Clocks} [options.clocks]
   * @param {() => number} [options.random]
   */
  constructor({ fetchToken, clocks, random }) {
    super();
    this.fetchToken = fetchToken;
    this.clocks = clocks ?? { wall: () => Date.now(), monotonic: () => performance.now() };
    this.random = random ?? Math.random;
    /** @type {TokenGrant | null} */
    this.grant = null;
    this.receivedWall = 0;
    this.receivedMonotonic = 0;
    /** @type {Promise<TokenGrant> | null} */
    this.inFlight = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timedUpdate = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.heartbeat = undefined;
    this.lastBeat = 0;
    this.lastWallBeat = 0;
    this.failures = 0;
    /** Why the keeper stopped trying: a code the user must act on, or null. */
    this.stoppedBecause = /** @type {string | null} */ (null);
    this.onWake = () => {
      if (document.visibilityState === 'visible') void this.check('wake');
    };
  }

  /** Gets the first token and starts the timed update and the wake watch. */
  async start() {
    await this.refresh('start');
    this.lastBeat = this.clocks.monotonic();
    this.lastWallBeat = this.clocks.wall();
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    document.addEventListener('visibilitychange', this.onWake);
    window.addEventListener('online', this.onWake);
    window.addEventListener('pageshow', this.onWake);
  }

  stop() {
    clearTimeout(this.timedUpdate);
    clearInterval(this.heartbeat);
    document.removeEventListener('visibilitychange', this.onWake);
    window.removeEventListener('online', this.onWake);
    window.removeEventListener('pageshow', this.onWake);
  }

  /**
   * Seconds of life left, counted from when the token arrived: the larger of the monotonic
   * and the wall-clock time since then, so neither a wrong clock nor a sleep delays a refresh.
   */
  remainingSeconds() {
    if (!this.grant) return 0;
    const monotonic = this.clocks.monotonic() - this.receivedMonotonic;
    const wall = this.clocks.wall() - this.receivedWall;
    const elapsed = Math.max(monotonic, wall, 0) / 1000;
    return this.grant.expiresInSeconds - elapsed;
  }

  /** A token that has not expired, refreshing first when needed. */
  async token() {
    if (!this.grant || this.remainingSeconds() <= 0) await this.refresh('expired');
    return /** @type {TokenGrant} */ (this.grant).token;
  }

  /** Before acting on a click, a filter or a page switch: refresh first when little life remains. */
  async beforeInteraction() {
    if (!this.grant) return this.refresh('interaction');
    if (this.remainingSeconds() < this.grant.refresh.beforeExpirySeconds) await this.refresh('interaction');
  }

  /**
   * On wake (tab shown, back online, a late timer): refresh when the token expired or the
   * timed update came due while the device slept.
   * @param {string} reason
   */
  async check(reason) {
    if (!this.grant || this.stoppedBecause) return;
    const every = this.grant.refresh.everySeconds;
    const age = this.grant.expiresInSeconds - this.remainingSeconds();
    const due = this.remainingSeconds() < this.grant.refresh.beforeExpirySeconds || (every !== null && age >= every);
    if (due) await this.refresh(reason).catch(() => {});
  }

  /**
   * Notices a sleep: timers do not run while the device sleeps, so a heartbeat arriving much
   * later than planned means it just woke. An idle page that did not sleep does nothing here:
   * without the timed update its token (and session) may lapse, like any idle session.
   */
  beat() {
    const now = Math.max(this.clocks.monotonic(), this.lastBeat);
    const wallNow = this.clocks.wall();
    const late = Math.max(now - this.lastBeat, wallNow - this.lastWallBeat) - HEARTBEAT_MS;
    this.lastBeat = now;
    this.lastWallBeat = wallNow;
    if (late > LATE_MS) void this.check('woke from sleep');
  }

  /**
   * Gets a new token, one request at a time. Transient failures retry with backoff for as
   * long as the page is open; refusals (signed out, access removed) stop and are announced.
   * @param {string} reason
   * @returns {Promise<TokenGrant>}
   */
  refresh(reason) {
    if (!this.inFlight) {
      this.inFlight = this.fetchWithRetry(reason).finally(() => {
        this.inFlight = null;
      });
    }
    return this.inFlight;
  }

  /** @param {string} reason */
  async fetchWithRetry(reason) {
    for (;;) {
      try {
        const grant = await this.fetchToken();
        this.accept(grant, reason);
        return grant;
      } catch (error) {
        const failure =
          error instanceof TokenRequestError ? error : new TokenRequestError('Network', 0, String(error));
        if (!failure.transient) {
          this.stoppedBecause = failure.code;
          this.dispatchEvent(new CustomEvent('refused', { detail: failure }));
          throw failure;
        }
        this.failures += 1;
        if (isCapacityWait(failure.code)) {
          // The capacity is paused or starting: watch it at a steady pace until it runs.
          this.dispatchEvent(new CustomEvent('capacity', { detail: { code: failure.code, message: failure.message } }));
          await waitForCapacity(this.random);
          continue;
        }
        this.dispatchEvent(new CustomEvent('reconnecting', { detail: { attempt: this.failures, reason } }));
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(this.failures, this.random)));
      }
    }
  }

  /**
   * @param {TokenGrant} grant
   * @param {string} reason
   */
  accept(grant, reason) {
    this.grant = grant;
    this.receivedWall = this.clocks.wall();
    this.receivedMonotonic = this.clocks.monotonic();
    this.stoppedBecause = null;
    if (this.failures > 0) this.dispatchEvent(new CustomEvent('reconnected'));
    this.failures = 0;
    clearTimeout(this.timedUpdate);
    const every = grant.refresh.everySeconds;
    if (every !== null && every > 0) {
      this.timedUpdate = setTimeout(() => void this.refresh('timed update').catch(() => {}), every * 1000);
    }
    this.dispatchEvent(new CustomEvent('refreshed', { detail: { reason, tokenId: grant.tokenId } }));
  }

  /** After the user signed in again (or an administrator restored access): try again. */
  async resume() {
    this.stoppedBecause = null;
    return this.refresh('resume');
  }
}
