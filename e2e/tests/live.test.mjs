// The live channel's reading of server-sent events, in Node: events split across chunks,
// comments (keep-alives) skipped, CRLF line ends.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseEvents } from '../../web/viewer/live.js';

test('events are read whole, keep-alive comments skipped, the unfinished rest kept', () => {
  const first = parseEvents('event: ready\ndata: {}\n\n: keep-alive\n\nevent: rev');
  assert.deepEqual(first.events, [{ event: 'ready', data: '{}' }]);
  assert.equal(first.rest, 'event: rev');
  const second = parseEvents(`${first.rest}oked\r\ndata: {"code":"TokenRevoked"}\r\n\r\n`);
  assert.deepEqual(second.events, [{ event: 'revoked', data: '{"code":"TokenRevoked"}' }]);
  assert.equal(second.rest, '');
});
