// @ts-check
// The embed page's side of the channel to the host app's page (sdk/vitrine-embed.js is the
// other side). The page says hello to its parent, addressed to each origin allowed to frame
// it (the browser delivers it only to the right one); the parent answers with a
// MessageChannel port, accepted only from the parent window and from an allowed origin.
// Every other message is ignored. Over the port the viewer asks for tokens (the host calls
// its backend), sends events and answers the host's commands.

import { TokenRequestError } from './token-keeper.js';

const PROTOCOL = 1;
/** How long the host may take to answer a token request before the keeper retries. */
const TOKEN_TIMEOUT_MS = 30_000;

/**
 * @typedef {{ page?: string, filters?: unknown, mode?: string, theme?: string, locale?: string,
 *   rotateSeconds?: number, refreshMinutes?: number }} HostSettings
 * @typedef {import('./token-keeper.js').TokenGrant} TokenGrant
 */

export class HostChannel {
  /**
   * @param {MessagePort} port
   * @param {HostSettings} settings
   */
  constructor(port, settings) {
    this.port = port;
    this.settings = settings;
    this.nextId = 1;
    /** @type {Map<number, { resolve: (value: any) => void, reject: (error: Error) => void }>} */
    this.pending = new Map();
    /** @type {Map<string, (params: any) => Promise<unknown>>} */
    this.commands = new Map();
    port.onmessage = (event) => this.receive(event.data ?? {});
  }

  /** @param {any} data */
  receive(data) {
    if (data.type === 'response') {
      const call = this.pending.get(data.id);
      if (!call) return;
      this.pending.delete(data.id);
      if (data.ok) call.resolve(data.value);
      else {
        const error = data.error ?? {};
        call.reject(new TokenRequestError(String(error.code ?? 'Error'), Number(error.status ?? 0), String(error.message ?? '')));
      }
    } else if (data.type === 'request') {
      const command = this.commands.get(data.method);
      const work = command ? command(data.params) : Promise.reject(Object.assign(new Error(`Unknown command ${data.method}`), { code: 'BadRequest' }));
      work.then(
        (value) => this.port.postMessage({ type: 'response', id: data.id, ok: true, value }),
        (/** @type {any} */ error) =>
          this.port.postMessage({
            type: 'response',
            id: data.id,
            ok: false,
            error: { code: String(error?.code ?? 'Error'), message: String(error?.message ?? error) },
          }),
      );
    }
  }

  /**
   * A new token from the host's `fetchToken`; refusals and failures as the keeper reads them.
   * @returns {Promise<TokenGrant>}
   */
  fetchToken() {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TokenRequestError('Network', 0, 'The host page did not answer the token request.'));
      }, TOKEN_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.port.postMessage({ type: 'request', id, method: 'token' });
    });
  }

  /**
   * Tells the host something happened.
   * @param {string} name
   * @param {unknown} detail
   */
  emit(name, detail) {
    this.port.postMessage({ type: 'event', name, detail });
  }

  /**
   * Answers the host's command `method`.
   * @param {string} method
   * @param {(params: any) => Promise<unknown>} run
   */
  handle(method, run) {
    this.commands.set(method, run);
  }
}

/**
 * Says hello to the parent and resolves with the channel once it answered.
 * @param {string[]} allowedOrigins  the origins allowed to frame this report
 * @param {string} reportId
 * @returns {Promise<HostChannel>}
 */
export function connectToHost(allowedOrigins, reportId) {
  return new Promise((resolve) => {
    /** @param {MessageEvent} event */
    const onMessage = (event) => {
      if (event.source !== window.parent || !allowedOrigins.includes(event.origin)) return;
      const data = event.data ?? {};
      if (data.vitrine !== PROTOCOL || data.type !== 'connect' || !event.ports[0]) return;
      window.removeEventListener('message', onMessage);
      resolve(new HostChannel(event.ports[0], typeof data.settings === 'object' && data.settings ? data.settings : {}));
    };
    window.addEventListener('message', onMessage);
    for (const origin of allowedOrigins) {
      window.parent.postMessage({ vitrine: PROTOCOL, type: 'hello', report: reportId }, origin);
    }
  });
}

/**
 * Reports the height of `content` to the host whenever it changes, so the frame fits it.
 * @param {HostChannel} host
 * @param {HTMLElement} content
 */
export function reportSize(host, content) {
  let last = 0;
  const observer = new ResizeObserver(() => {
    const height = Math.ceil(content.getBoundingClientRect().bottom + window.scrollY + 16);
    if (Math.abs(height - last) >= 2) {
      last = height;
      host.emit('resize', { height });
    }
  });
  observer.observe(content);
}
