// @ts-check
// Talking to Vitrine: asking for embed tokens with the session, and reading the report with
// the token. A request answered TokenExpired or TokenRevoked gets one refresh and one retry,
// invisibly; network failures and server errors retry with backoff for as long as the page
// is open.

import { TokenRequestError, backoffDelay, isCapacityWait, waitForCapacity } from './token-keeper.js';

/**
 * @typedef {import('./token-keeper.js').TokenGrant} TokenGrant
 * @typedef {import('./token-keeper.js').TokenKeeper} TokenKeeper
 * @typedef {{ column: string, values: (string | number | boolean)[] }} Filter
 * @typedef {{ name: string, label: string, kind: string, grain?: string }} ResultColumn
 * @typedef {{ columns: ResultColumn[], rows: any[][], truncated: boolean }} QueryResult
 */

/** A data request refused for a reason the user must see. */
export class ReportError extends Error {
  /**
   * @param {string} code
   * @param {number} status
   * @param {string} message
   */
  constructor(code, status, message) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** @param {Response} response */
async function errorOf(response) {
  try {
    const body = await response.json();
    return { code: String(body?.error?.code ?? 'Error'), message: String(body?.error?.message ?? response.statusText) };
  } catch {
    return { code: response.status >= 500 ? 'ServerError' : 'Error', message: response.statusText };
  }
}

/** Session state shared by the token requests: the CSRF token of the signed-in session. */
export class Session {
  /** @param {string} csrfToken */
  constructor(csrfToken) {
    this.csrfToken = csrfToken;
  }

  /**
   * Signs in again in place, keeping the page as it is.
   * @param {string} email
   * @param {string} password
   */
  async signIn(email, password) {
    const response = await fetch('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password }),
      credentials: 'same-origin',
    });
    if (!response.ok) {
      const { code, message } = await errorOf(response);
      throw new ReportError(code, response.status, message);
    }
    const body = await response.json();
    this.csrfToken = body.csrfToken;
  }

  /**
   * A function that asks for a new embed token for `reportId`.
   * @param {string} reportId
   * @returns {() => Promise<TokenGrant>}
   */
  tokenFetcher(reportId) {
    return async () => {
      let response;
      try {
        response = await fetch(`/api/v1/reports/${encodeURIComponent(reportId)}/token`, {
          method: 'POST',
          headers: { 'X-CSRF-Token': this.csrfToken },
          credentials: 'same-origin',
        });
      } catch (error) {
        throw new TokenRequestError('Network', 0, String(error));
      }
      if (!response.ok) {
        const { code, message } = await errorOf(response);
        throw new TokenRequestError(code, response.status, message);
      }
      return /** @type {Promise<TokenGrant>} */ (response.json());
    };
  }
}

export class ReportApi extends EventTarget {
  /**
   * @param {string} reportId
   * @param {TokenKeeper} keeper
   */
  constructor(reportId, keeper) {
    super();
    this.reportId = reportId;
    this.keeper = keeper;
    this.failures = 0;
  }

  /** The report and its pages. */
  report() {
    return this.request('GET', `/api/v1/embed/reports/${encodeURIComponent(this.reportId)}`);
  }

  /**
   * One visual's (or one slicer's) data.
   * @param {{ page: string, visual?: string, slicer?: string, filters: Filter[] }} body
   * @returns {Promise<QueryResult>}
   */
  query(body) {
    return this.request('POST', `/api/v1/embed/reports/${encodeURIComponent(this.reportId)}/query`, body);
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   */
  async request(method, path, body) {
    let retried = false;
    for (;;) {
      const token = await this.keeper.token();
      /** @type {Response} */
      let response;
      try {
        response = await fetch(path, {
          method,
          headers: {
            Authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          credentials: 'omit',
          cache: 'no-store',
        });
      } catch {
        await this.wait();
        continue;
      }
      if (response.ok) {
        this.dispatchEvent(new CustomEvent('available'));
        if (this.failures > 0) this.dispatchEvent(new CustomEvent('reconnected'));
        this.failures = 0;
        return response.json();
      }
      if (response.status === 503) {
        const answer = await errorOf(response.clone());
        if (isCapacityWait(answer.code)) {
          this.dispatchEvent(new CustomEvent('capacity', { detail: answer }));
          await waitForCapacity();
          continue;
        }
      }
      // A query that ran too long (504) would run too long again: it is reported, not retried.
      // A live dataset's database that does not answer (503 SourceUnavailable) is retried
      // like any outage, and said so.
      if ((response.status >= 500 && response.status !== 504) || response.status === 429) {
        const answer = response.status === 503 ? await errorOf(response) : undefined;
        await this.wait(answer?.code === 'SourceUnavailable' ? answer : undefined);
        continue;
      }
      const { code, message } = await errorOf(response);
      if ((code === 'TokenExpired' || code === 'TokenRevoked') && !retried) {
        // One silent refresh and one retry: a viewer who still has access never sees this.
        retried = true;
        await this.keeper.refresh(code === 'TokenExpired' ? 'token expired' : 'token revoked');
        continue;
      }
      throw new ReportError(code, response.status, message);
    }
  }

  /** @param {{ code: string, message: string }} [cause] what the server said, when it said why */
  async wait(cause) {
    this.failures += 1;
    this.dispatchEvent(new CustomEvent('reconnecting', { detail: { attempt: this.failures, ...cause } }));
    await new Promise((resolve) => setTimeout(resolve, backoffDelay(this.failures)));
  }
}
