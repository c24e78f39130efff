// @ts-check
// Vitrine's embedding SDK: frames one Vitrine report in a host app's page. No dependencies.
//
//   import { embed } from 'https://bi.example.com/sdk/v1/vitrine-embed.js';
//   const report = embed(element, { url: 'https://bi.example.com', reportId, fetchToken });
//
// The frame loads Vitrine's embed page, which says hello; this module answers only a hello
// from that frame and from Vitrine's exact origin, with a MessageChannel port. Over the port
// the frame asks for tokens (this module calls the host's `fetchToken`), sends events and
// answers commands. The token never appears in a URL and the frame needs no cookie. The
// token's life (when to ask for the next one) is decided inside the frame by the same token
// keeper as Vitrine's own viewer.

const PROTOCOL = 1;
/** How long a frame that loaded may take to say hello before the host hears `NotConnected`. */
const HELLO_AFTER_LOAD_MS = 5_000;
const EVENTS = [
  'loaded',
  'rendered',
  'error',
  'pageChanged',
  'filtersChanged',
  'dataSelected',
  'tokenRefreshed',
  'capacity',
  'accessEnded',
];

/** A refusal or failure with one of Vitrine's stable error codes. */
export class VitrineError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = 'VitrineError';
    this.code = code;
  }
}

/**
 * @param {string} name
 * @param {string} why
 */
function optionError(name, why) {
  return new TypeError(`vitrine embed(): option "${name}" ${why}`);
}

/** @param {unknown} options */
function readOptions(options) {
  const o = /** @type {Record<string, any>} */ (options ?? {});
  let origin;
  try {
    const url = new URL(String(o.url));
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error();
    origin = url.origin;
  } catch {
    throw optionError('url', "must be Vitrine's address, such as https://bi.example.com");
  }
  if (typeof o.reportId !== 'string' || !/^[0-9a-fA-F-]{36}$/.test(o.reportId)) {
    throw optionError('reportId', 'must be a report id');
  }
  if (typeof o.fetchToken !== 'function') {
    throw optionError('fetchToken', "must be a function that returns the host backend's token answer");
  }
  if (o.mode !== undefined && o.mode !== 'normal' && o.mode !== 'tv') throw optionError('mode', "must be 'normal' or 'tv'");
  if (o.theme !== undefined && o.theme !== 'light' && o.theme !== 'dark') throw optionError('theme', "must be 'light' or 'dark'");
  if (o.filters !== undefined && !Array.isArray(o.filters)) throw optionError('filters', 'must be a list of { column, values }');
  return {
    origin,
    reportId: o.reportId,
    /** @type {() => Promise<unknown>} */
    fetchToken: o.fetchToken,
    settings: {
      page: typeof o.page === 'string' ? o.page : undefined,
      filters: o.filters,
      mode: o.mode ?? 'normal',
      theme: o.theme ?? 'light',
      locale: typeof o.locale === 'string' ? o.locale : undefined,
      rotateSeconds: Number.isFinite(o.rotateSeconds) ? o.rotateSeconds : undefined,
      refreshMinutes: Number.isFinite(o.refreshMinutes) ? o.refreshMinutes : undefined,
    },
    title: typeof o.title === 'string' ? o.title : 'Report',
    autoSize: o.autoSize !== false,
  };
}

/**
 * The statuses the frame's token keeper retries for these codes (waiting for a capacity, slowed
 * down, a server fault); any other refusal ends access.
 * @type {Record<string, number>}
 */
const RETRIED_STATUS = { CapacityStarting: 503, CapacityNotActive: 503, RateLimited: 429, ServerError: 500 };

/**
 * What the host's `fetchToken` gave, as the frame's token keeper reads it: a token answer,
 * or a refusal with its code (a host backend that passes Vitrine's error answer through).
 * @param {unknown} value
 */
function tokenAnswer(value) {
  const v = /** @type {Record<string, any>} */ (value ?? {});
  if (typeof v.token === 'string' && typeof v.expiresInSeconds === 'number') return { ok: true, value: v };
  const code = typeof v?.error?.code === 'string' ? v.error.code : 'TokenRequestFailed';
  const message = typeof v?.error?.message === 'string' ? v.error.message : 'fetchToken did not return a token';
  const status = RETRIED_STATUS[code] ?? (typeof v.status === 'number' ? v.status : 403);
  return { ok: false, error: { code, message, status } };
}

/**
 * Frames the report `options.reportId` of the Vitrine at `options.url` in `element`.
 * @param {HTMLElement} element
 * @param {import('./vitrine-embed').EmbedOptions} options
 * @returns {import('./vitrine-embed').EmbeddedReport}
 */
export function embed(element, options) {
  if (!(element instanceof HTMLElement)) throw optionError('element', 'must be an HTML element');
  const config = readOptions(options);
  /** @type {Map<string, Set<(detail: any) => void>>} */
  const handlers = new Map(EVENTS.map((name) => [name, new Set()]));
  /** @type {Map<number, { resolve: (value: any) => void, reject: (error: Error) => void }>} */
  const pending = new Map();
  /** @type {MessagePort | null} */
  let port = null;
  /** @type {(() => void)[]} */
  let waiting = [];
  let nextId = 1;
  let destroyed = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let helloTimer;

  const frame = document.createElement('iframe');
  frame.src = `${config.origin}/embed/reports/${encodeURIComponent(config.reportId)}`;
  frame.title = config.title;
  frame.referrerPolicy = 'strict-origin';
  frame.style.border = '0';
  frame.style.width = '100%';
  frame.style.display = 'block';
  if (config.autoSize) frame.style.height = '480px';
  else frame.style.height = '100%';

  /**
   * @param {string} name
   * @param {unknown} detail
   */
  function emit(name, detail) {
    for (const handler of handlers.get(name) ?? []) {
      try {
        handler(detail);
      } catch (error) {
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  /** @param {MessagePort} target @param {number} id @param {Promise<unknown>} work */
  async function answer(target, id, work) {
    try {
      const value = await work;
      target.postMessage({ type: 'response', id, ...tokenAnswer(value) });
    } catch (error) {
      // A host backend that could not be reached: the frame retries with backoff.
      target.postMessage({ type: 'response', id, ok: false, error: { code: 'Network', status: 0, message: String(error) } });
    }
  }

  /** @param {MessageEvent} event */
  function onPortMessage(event) {
    const data = event.data ?? {};
    if (data.type === 'request' && data.method === 'token' && port) {
      void answer(port, data.id, Promise.resolve().then(() => config.fetchToken()));
    } else if (data.type === 'response') {
      const call = pending.get(data.id);
      if (!call) return;
      pending.delete(data.id);
      if (data.ok) call.resolve(data.value);
      else call.reject(new VitrineError(String(data.error?.code ?? 'Error'), String(data.error?.message ?? '')));
    } else if (data.type === 'event') {
      if (data.name === 'resize' && config.autoSize && Number.isFinite(data.detail?.height)) {
        frame.style.height = `${Math.max(120, Math.ceil(data.detail.height))}px`;
      } else if (data.name === 'loaded' && typeof data.detail?.name === 'string') {
        frame.title = data.detail.name;
      }
      if (handlers.has(data.name)) emit(data.name, data.detail);
    }
  }

  /** Only a hello from this frame, from Vitrine's exact origin, opens the channel. */
  /** @param {MessageEvent} event */
  function onWindowMessage(event) {
    if (event.source !== frame.contentWindow || event.origin !== config.origin) return;
    const data = event.data ?? {};
    if (data.vitrine !== PROTOCOL || data.type !== 'hello') return;
    clearTimeout(helloTimer);
    port?.close();
    const channel = new MessageChannel();
    port = channel.port1;
    port.onmessage = onPortMessage;
    frame.contentWindow?.postMessage({ vitrine: PROTOCOL, type: 'connect', settings: config.settings }, config.origin, [
      channel.port2,
    ]);
    const ready = waiting;
    waiting = [];
    for (const go of ready) go();
  }

  function onFrameLoad() {
    clearTimeout(helloTimer);
    if (port) return;
    helloTimer = setTimeout(() => {
      if (port || destroyed) return;
      emit(
        'error',
        new VitrineError(
          'NotConnected',
          `The report did not connect: is ${location.origin} in Vitrine's Settings › Embedding (embedAllowedOrigins)?`,
        ),
      );
    }, HELLO_AFTER_LOAD_MS);
  }

  /**
   * Sends a command to the frame once it is connected.
   * @param {string} method
   * @param {unknown} [params]
   */
  function call(method, params) {
    if (destroyed) return Promise.reject(new VitrineError('Destroyed', 'This report was destroyed.'));
    return new Promise((resolve, reject) => {
      const send = () => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        port?.postMessage({ type: 'request', id, method, params });
      };
      if (port) send();
      else waiting.push(send);
    });
  }

  window.addEventListener('message', onWindowMessage);
  frame.addEventListener('load', onFrameLoad);
  element.replaceChildren(frame);

  return {
    frame,
    on(name, handler) {
      const set = handlers.get(name);
      if (!set) throw new TypeError(`vitrine: unknown event "${name}"; expected one of ${EVENTS.join(', ')}`);
      set.add(handler);
      return () => set.delete(handler);
    },
    off(name, handler) {
      handlers.get(name)?.delete(handler);
    },
    setFilters: (filters) => call('setFilters', filters),
    setPage: (page) => call('setPage', page),
    getPages: () => call('getPages'),
    getFilters: () => call('getFilters'),
    refresh: () => call('refresh'),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      clearTimeout(helloTimer);
      window.removeEventListener('message', onWindowMessage);
      port?.close();
      port = null;
      for (const { reject } of pending.values()) reject(new VitrineError('Destroyed', 'This report was destroyed.'));
      pending.clear();
      frame.remove();
    },
  };
}
