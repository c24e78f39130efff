// @ts-check
// The live channel: one server-sent-events stream per open report, authenticated by the
// current embed token in a header (EventSource cannot send one, so this reads a fetch
// stream). When the server says the token was revoked, the keeper asks for a new one at once:
// refused when access is gone, which the viewer shows within a second; granted when access
// only changed, and the channel reconnects with the new token. A dropped stream reconnects
// with backoff and jitter for as long as the page is open. Meanwhile the server says what
// changed — `capacity`, `changed` (the report's definition), `settings`, `resync` — each with
// an event id, sent back as Last-Event-ID on reconnect so that nothing is missed.

import { backoffDelay, capacityNudge } from './token-keeper.js';

/** @typedef {import('./token-keeper.js').TokenKeeper} TokenKeeper */

/**
 * Splits a server-sent-events text into complete events; returns them and the rest.
 * @param {string} buffer
 * @returns {{ events: { event: string, data: string, id?: string }[], rest: string }}
 */
export function parseEvents(buffer) {
  const blocks = buffer.replace(/\r\n/g, '\n').split('\n\n');
  const rest = blocks.pop() ?? '';
  const events = [];
  for (const block of blocks) {
    let event = 'message';
    /** @type {string | undefined} */
    let id;
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const [field, ...value] = line.split(':');
      const text = value.join(':').replace(/^ /, '');
      if (field === 'event') event = text;
      else if (field === 'data') data.push(text);
      else if (field === 'id') id = text;
    }
    if (data.length || event !== 'message') events.push(id === undefined ? { event, data: data.join('\n') } : { event, data: data.join('\n'), id });
  }
  return { events, rest };
}

export class LiveChannel extends EventTarget {
  /**
   * @param {TokenKeeper} keeper
   * @param {{ url?: string, random?: () => number }} [options]
   */
  constructor(keeper, { url = '/api/v1/embed/live', random = Math.random } = {}) {
    super();
    this.keeper = keeper;
    this.url = url;
    this.random = random;
    /** @type {AbortController | null} */
    this.current = null;
    this.failures = 0;
    this.stopped = false;
    /** @type {string | null} the id of the last event heard */
    this.lastEventId = null;
  }

  start() {
    // Every new token gets its own channel; the old one is closed.
    this.keeper.addEventListener('refreshed', () => this.connect());
    this.keeper.addEventListener('refused', () => this.stop());
    // Offline, the stream is dead even if the browser keeps it: let it go (the server then
    // stops counting this screen as looking), and connect again once back.
    globalThis.addEventListener?.('offline', () => {
      this.current?.abort();
      this.current = null;
      capacityNudge.listening = false;
    });
    globalThis.addEventListener?.('online', () => {
      this.failures = 0;
      this.connect();
    });
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.current?.abort();
    this.current = null;
    capacityNudge.listening = false;
  }

  connect() {
    if (this.stopped || !this.keeper.grant) return;
    this.current?.abort();
    const controller = new AbortController();
    this.current = controller;
    void this.run(this.keeper.grant.token, controller);
  }

  /**
   * @param {string} token
   * @param {AbortController} controller
   */
  async run(token, controller) {
    let ended = 'closed';
    try {
      const response = await fetch(this.url, {
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'text/event-stream',
          ...(this.lastEventId ? { 'Last-Event-ID': this.lastEventId } : {}),
        },
        cache: 'no-store',
        signal: controller.signal,
      });
      if (response.status === 401) {
        // Refused already: revoked (the keeper finds out why with a new token) or expired.
        const body = await response.json().catch(() => null);
        ended = body?.error?.code === 'TokenRevoked' ? 'revoked' : 'expired';
      } else if (response.ok && response.body) {
        ended = await this.read(response.body, controller);
      }
    } catch {
      if (controller.signal.aborted) return;
    }
    if (controller.signal.aborted || this.stopped) return;
    capacityNudge.listening = false;
    if (ended === 'revoked') {
      this.failures = 0;
      this.dispatchEvent(new CustomEvent('revoked'));
      // A new token connects the next channel; a refusal stops this one and is shown.
      void this.keeper.refresh('revoked').catch(() => {});
      return;
    }
    if (ended === 'expired') {
      // The keeper's own rules decide when the next token comes (interaction, timed update,
      // wake); the channel reconnects with it.
      this.dispatchEvent(new CustomEvent('expired'));
      return;
    }
    this.failures += 1;
    await new Promise((resolve) => setTimeout(resolve, backoffDelay(this.failures, this.random)));
    if (!controller.signal.aborted) this.connect();
  }

  /**
   * @param {ReadableStream<Uint8Array>} body
   * @param {AbortController} controller
   * @returns {Promise<string>} why the stream ended
   */
  async read(body, controller) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done || controller.signal.aborted) return 'closed';
      const parsed = parseEvents(buffer + decoder.decode(value, { stream: true }));
      buffer = parsed.rest;
      for (const { event, data, id } of parsed.events) {
        if (id !== undefined) this.lastEventId = id;
        if (event === 'capacity' || event === 'changed' || event === 'settings' || event === 'resync') {
          let detail = null;
          try {
            detail = JSON.parse(data);
          } catch {
            // no detail
          }
          this.dispatchEvent(new CustomEvent(event, { detail }));
        }
        if (event === 'ready') {
          capacityNudge.listening = true;
          this.failures = 0;
          this.dispatchEvent(new CustomEvent('ready'));
        }
        if (event === 'revoked' || event === 'expired') {
          void reader.cancel().catch(() => {});
          return event;
        }
      }
    }
  }
}
