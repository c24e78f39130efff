// The token keeper's arithmetic, without a browser: remaining life from the larger of the
// monotonic and wall-clock time since the token arrived, and the backoff schedule.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { TokenKeeper, TokenRequestError, backoffDelay } from '../../web/viewer/token-keeper.js';

function grant(seconds = 3600) {
  return { token: 't', tokenId: 'id', expiration: 'ignored', expiresInSeconds: seconds, refresh: { everySeconds: null, beforeExpirySeconds: 600 } };
}

function keeperWith(clocks) {
  const keeper = new TokenKeeper({ fetchToken: async () => grant(), clocks });
  keeper.accept(grant(), 'test');
  clearTimeout(keeper.timedUpdate);
  return keeper;
}

test('remaining life counts from arrival, never from the wall-clock expiration', () => {
  const now = { wall: 5_000_000, monotonic: 100 };
  const keeper = keeperWith({ wall: () => now.wall, monotonic: () => now.monotonic });
  assert.equal(keeper.remainingSeconds(), 3600);
  now.wall += 600_000;
  now.monotonic += 600_000;
  assert.equal(keeper.remainingSeconds(), 3000);
});

test('a sleep that pauses the monotonic clock cannot delay expiry: the wall clock wins', () => {
  const now = { wall: 0, monotonic: 0 };
  const keeper = keeperWith({ wall: () => now.wall, monotonic: () => now.monotonic });
  now.wall += 3 * 3600_000; // three hours asleep; monotonic time stood still
  assert.ok(keeper.remainingSeconds() < 0);
});

test('a wall clock set back by hours cannot delay expiry: the monotonic clock wins', () => {
  const now = { wall: 10 * 3600_000, monotonic: 0 };
  const keeper = keeperWith({ wall: () => now.wall, monotonic: () => now.monotonic });
  now.wall -= 3 * 3600_000; // someone corrected the TV's clock
  now.monotonic += 50 * 60_000;
  assert.equal(keeper.remainingSeconds(), 600);
});

test('backoff uses full jitter and never waits more than 60 seconds', () => {
  assert.equal(backoffDelay(1, () => 0), 0);
  assert.equal(backoffDelay(1, () => 0.999999), 1999);
  assert.equal(backoffDelay(3, () => 0.5), 4000);
  for (let attempt = 0; attempt < 100; attempt += 1) {
    assert.ok(backoffDelay(attempt, () => 0.999999) < 60_000);
  }
  // Ten thousand viewers coming back after a restart spread over the whole window.
  const delays = Array.from({ length: 10_000 }, () => backoffDelay(10));
  const busiestSecond = Math.max(...Object.values(delays.reduce((count, d) => {
    const second = Math.floor(d / 1000);
    count[second] = (count[second] ?? 0) + 1;
    return count;
  }, {})));
  assert.ok(busiestSecond < 400, `at most a few percent arrive in the same second (got ${busiestSecond})`);
});

test('only network failures, server errors and rate limits are retried', () => {
  assert.equal(new TokenRequestError('Network', 0, '').transient, true);
  assert.equal(new TokenRequestError('ServerError', 503, '').transient, true);
  assert.equal(new TokenRequestError('RateLimited', 429, '').transient, true);
  assert.equal(new TokenRequestError('Unauthenticated', 401, '').transient, false);
  assert.equal(new TokenRequestError('NoAccess', 403, '').transient, false);
});

test('a paused or starting capacity is watched at a steady, spread-out pace, slower while the live channel will tell', async () => {
  const { capacityPollDelay, isCapacityWait } = await import('../../web/viewer/token-keeper.js');
  assert.equal(isCapacityWait('CapacityStarting'), true);
  assert.equal(isCapacityWait('CapacityNotActive'), true);
  assert.equal(isCapacityWait('ServerError'), false);
  assert.equal(capacityPollDelay(() => 0), 3000);
  assert.equal(capacityPollDelay(() => 0.999), 5997);
  assert.equal(capacityPollDelay(() => 0, true), 20_000);
  assert.equal(capacityPollDelay(() => 0.999, true), 29_990);
});
