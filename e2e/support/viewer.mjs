// Helpers for the viewer scenarios: an API session for an administrator, the server's test
// clock, and a viewer page whose own clock is under the test's control.

import assert from 'node:assert/strict';

import { DEMO_PASSWORD } from './server.mjs';

/** Signs in over the JSON API; returns a small client with the session cookie and CSRF token. */
export async function apiSession(baseUrl, email, password = DEMO_PASSWORD) {
  const response = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  assert.equal(response.status, 200, `API sign-in as ${email}`);
  const cookie = response.headers.get('set-cookie').split(';')[0];
  const { csrfToken } = await response.json();
  const call = async (method, path, body) => {
    const answer = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { Cookie: cookie, 'X-CSRF-Token': csrfToken, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await answer.text();
    return { status: answer.status, body: text ? JSON.parse(text) : null };
  };
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body ?? {}),
    patch: (path, body) => call('PATCH', path, body),
    put: (path, body) => call('PUT', path, body),
    delete: (path) => call('DELETE', path),
  };
}

/**
 * Switches every capacity to manual (it stays on), for scenarios about tokens rather than
 * capacity: hours moved on the test clock would otherwise let the demo's on-demand capacity
 * pause under them.
 */
export async function keepCapacitiesOn(admin) {
  const list = await admin.get('/api/v1/capacities');
  assert.equal(list.status, 200, JSON.stringify(list.body));
  for (const capacity of list.body) {
    const changed = await admin.patch(`/api/v1/capacities/${capacity.id}`, { mode: 'manual' });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
  }
}

/** Moves the server's test clock forward (the server then runs one capacity scheduler pass). */
export async function advanceServer(baseUrl, seconds) {
  const response = await fetch(`${baseUrl}/__test__/clock`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ advanceSeconds: seconds }),
  });
  assert.equal(response.status, 200, 'the server runs with a test clock (a test-clock build)');
}

/** Live channels stay open for as long as the report (or the display) does: not requests to wait for. */
const STREAMS = new Set(['/api/v1/embed/live', '/api/v1/display/live']);

/** Counts the page's requests in flight, to wait for them after moving its clock. */
export function trackRequests(page) {
  const state = { pending: 0, tokenRequests: 0, liveChannels: 0, log: [] };
  page.on('request', (request) => {
    const path = new URL(request.url()).pathname;
    if (STREAMS.has(path)) {
      state.liveChannels += 1;
      return;
    }
    state.pending += 1;
    if (request.method() === 'POST' && path.endsWith('/token')) state.tokenRequests += 1;
    state.log.push(`${request.method()} ${path}`);
  });
  const done = (request) => {
    if (STREAMS.has(new URL(request.url()).pathname)) return;
    state.pending = Math.max(0, state.pending - 1);
  };
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  return state;
}

/** Waits (in real time) until the page has no request in flight and the viewer is idle. */
export async function settle(page, requests) {
  for (let i = 0; i < 400; i += 1) {
    if (requests.pending === 0) {
      await page.waitForTimeout(30);
      if (requests.pending === 0) return;
    }
    await page.waitForTimeout(25);
  }
  throw new Error(`requests still in flight: ${requests.log.slice(-5).join(', ')}`);
}

/**
 * Lets `minutes` pass for both the server and the page, in steps, letting every request the
 * page makes on the way finish before time moves on.
 */
export async function idle(page, requests, baseUrl, minutes, { step = 5 } = {}) {
  for (let done = 0; done < minutes; done += step) {
    const now = Math.min(step, minutes - done);
    await advanceServer(baseUrl, now * 60);
    await page.clock.runFor(now * 60_000);
    await settle(page, requests);
  }
}

/** Opens a report in the viewer and waits until every visual has data. */
export async function openReport(page, reportId, query = '') {
  const response = await page.goto(`/reports/${reportId}${query}`);
  assert.equal(response.status(), 200);
  await page.waitForSelector('#viewer[data-loaded]');
  await page.waitForFunction(() => document.querySelectorAll('.visual.loading').length === 0);
}

/** Waits until the viewer has loaded data again after an interaction. */
export async function afterInteraction(page, action) {
  const before = await page.getAttribute('#viewer', 'data-loaded');
  await action();
  await page.waitForFunction((previous) => {
    const loaded = document.getElementById('viewer')?.dataset.loaded;
    return loaded && loaded !== previous && document.querySelectorAll('.visual.loading').length === 0;
  }, before);
}

export async function noticeShown(page) {
  return page.evaluate(() => !document.querySelector('.viewer-notice')?.hasAttribute('hidden'));
}
