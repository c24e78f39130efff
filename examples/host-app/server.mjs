// An example host app: a product with its own users that shows each of them a Vitrine report,
// embedded with Vitrine's SDK. Its backend holds an embed API key (never sent to a browser),
// decides who may see what, and asks Vitrine for a token for the signed-in user.
//
//   VITRINE_URL=http://127.0.0.1:8080 VITRINE_EMBED_KEY=vk_… VITRINE_REPORT_ID=… npm start
//
// Then open http://localhost:3000/ and sign in as one of the users below. The sign-in is a toy
// (a cookie naming the user): a real app has its own.

import { randomBytes } from 'node:crypto';

import express from 'express';

const config = {
  vitrineUrl: (process.env.VITRINE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''),
  embedKey: process.env.VITRINE_EMBED_KEY ?? '',
  reportId: process.env.VITRINE_REPORT_ID ?? '',
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST ?? 'localhost',
  // Guards this app's own administration calls below (a real app has its own).
  adminToken: process.env.HOST_ADMIN_TOKEN ?? randomBytes(16).toString('hex'),
};
if (!config.embedKey || !config.reportId) {
  console.error('Set VITRINE_EMBED_KEY (an API key of scope "embed") and VITRINE_REPORT_ID (the report to show).');
  process.exit(1);
}

/**
 * The host app's own users and what each may see in Vitrine: row-level-security roles and
 * attributes, exactly as the report's rules name them. `allowed: false` is this app taking
 * someone's access away.
 */
const users = new Map([
  ['alice', { name: 'Alice (North region)', roles: ['Own region'], attributes: { region: 'North' }, allowed: true }],
  ['bob', { name: 'Bob (every region)', roles: ['All regions'], attributes: {}, allowed: true }],
]);

/** Signed-in browsers: session id → user id. */
const sessions = new Map();

/**
 * Calls Vitrine with the embed key.
 * @param {string} path
 * @param {unknown} [body]
 */
async function vitrine(path, body) {
  return fetch(`${config.vitrineUrl}/api/v1${path}`, {
    method: 'POST',
    headers: { 'X-API-Key': config.embedKey, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
}

/** @param {import('express').Request} req */
function signedIn(req) {
  const cookie = req.headers.cookie ?? '';
  const id = /(?:^|;\s*)host_session=([a-f0-9]+)/.exec(cookie)?.[1];
  const userId = id ? sessions.get(id) : undefined;
  return userId ? { id: userId, ...users.get(userId) } : null;
}

const app = express();
app.disable('x-powered-by');
app.use(express.urlencoded({ extended: false }));
app.use(express.static(new URL('./public/', import.meta.url).pathname, { index: false }));

app.get('/', (req, res) => {
  const user = signedIn(req);
  // This page loads the SDK from Vitrine and frames Vitrine: its own policy says so.
  res.set('Content-Security-Policy', `default-src 'self'; script-src 'self' ${config.vitrineUrl}; frame-src ${config.vitrineUrl}; style-src 'self'`);
  if (!user) {
    res.type('html').send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Example host app</title>
<link rel="stylesheet" href="/app.css"></head><body><main><h1>Example host app</h1>
<form method="post" action="/login"><label>Sign in as <select name="user">
${[...users].map(([id, u]) => `<option value="${id}">${u.name}</option>`).join('')}</select></label>
<button type="submit">Sign in</button></form></main></body></html>`);
    return;
  }
  res.type('html').send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Example host app</title>
<link rel="stylesheet" href="/app.css"></head><body>
<header><strong>Example host app</strong> <span>Signed in as ${user.name}</span>
<form method="post" action="/logout"><button type="submit">Sign out</button></form></header>
<main><h1>Your numbers</h1>
<div id="report" data-vitrine="${config.vitrineUrl}" data-report="${config.reportId}"></div>
<ol id="events" aria-label="SDK events"></ol></main>
<script type="module" src="/app.js"></script></body></html>`);
});

app.post('/login', (req, res) => {
  const id = String(req.body.user ?? '');
  if (!users.has(id)) return res.status(400).send('Unknown user');
  const session = randomBytes(16).toString('hex');
  sessions.set(session, id);
  res.set('Set-Cookie', `host_session=${session}; HttpOnly; SameSite=Lax; Path=/`);
  res.redirect(303, '/');
});

app.post('/logout', async (req, res) => {
  const user = signedIn(req);
  res.set('Set-Cookie', 'host_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0');
  // Signing out ends the user's open reports too.
  if (user) await vitrine(`/embed/identities/${encodeURIComponent(user.id)}/revoke-tokens`).catch(() => {});
  res.redirect(303, '/');
});

// The one call the page's `fetchToken` makes. The backend checks who is signed in and what
// they may see before it asks Vitrine; Vitrine's answer (a token, or an error with its code)
// is passed through unchanged.
app.post('/api/vitrine-token', async (req, res) => {
  const user = signedIn(req);
  if (!user) return res.status(401).json({ error: { code: 'Unauthenticated', message: 'Sign in to the host app again.' } });
  if (!user.allowed) {
    return res.status(403).json({ error: { code: 'NoAccess', message: 'The example host app no longer shows you this report; ask its administrator.' } });
  }
  try {
    const answer = await vitrine('/embed/tokens', {
      reports: [config.reportId],
      identity: { id: user.id, name: user.name, roles: user.roles, attributes: user.attributes },
    });
    res.status(answer.status).type('json').send(await answer.text());
  } catch {
    res.status(502).json({ error: { code: 'ServerError', message: 'Vitrine could not be reached.' } });
  }
});

// The host app's administration: taking a user's access away, and giving it back. Taking it
// away is two steps: stop asking for their tokens, then revoke the ones they hold (their open
// screens go dark within a second).
app.post('/admin/users/:id/:action(revoke|restore)', async (req, res) => {
  if (req.headers.authorization !== `Bearer ${config.adminToken}`) return res.status(401).json({ error: 'admin token required' });
  const user = users.get(req.params.id);
  if (!user) return res.status(404).json({ error: 'unknown user' });
  user.allowed = req.params.action === 'restore';
  if (!user.allowed) {
    const answer = await vitrine(`/embed/identities/${encodeURIComponent(req.params.id)}/revoke-tokens`);
    if (!answer.ok && answer.status !== 404) return res.status(502).json({ error: `Vitrine answered ${answer.status}` });
  }
  res.json({ id: req.params.id, allowed: user.allowed });
});

const server = app.listen(config.port, config.host, () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`Example host app at http://${config.host}:${port}/ (Vitrine at ${config.vitrineUrl})`);
  if (!process.env.HOST_ADMIN_TOKEN) console.log(`Admin calls: Authorization: Bearer ${config.adminToken}`);
});
