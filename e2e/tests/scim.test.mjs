// SCIM provisioning against the real server: the PyPI conformance client `scim2-cli` (on
// scim2-tester) runs every check it has against /scim/v2 and must find nothing wrong; and, in
// Chromium, a person the identity provider deactivates loses their open report within a
// second of the SCIM call.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { ACCOUNTS, launchBrowser, screenshotPath, startDemoServer } from '../support/server.mjs';
import { signIn } from '../support/portal.mjs';
import { apiSession, keepCapacitiesOn, openReport } from '../support/viewer.mjs';

const TIMEOUT = { timeout: 180_000 };

/** Runs `scim2 <args>` (scim2-cli, installed by scripts/test) with `headers`; answers its exit and output. */
function scim2(args, headers) {
  return new Promise((resolve) => {
    const child = spawn('python3', ['-c', 'from scim2_cli import cli; cli()', ...args], {
      env: { ...process.env, SCIM_CLI_HEADERS: headers },
    });
    let output = '';
    child.stdout.on('data', (chunk) => { output += chunk; });
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('SCIM provisioning', () => {
  let browser;
  let server;
  let admin;
  let key;

  before(async () => {
    browser = await launchBrowser();
    server = await startDemoServer({ rows: 20_000 });
    admin = await apiSession(server.baseUrl, ACCOUNTS.admin);
    await keepCapacitiesOn(admin);
    const made = await admin.post('/api/v1/api-keys', { name: 'Identity provider', scope: 'scim' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    key = made.body.key;
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('the SCIM conformance client scim2-cli finds every check passed', TIMEOUT, async () => {
    const { code, output } = await scim2(['--url', `${server.baseUrl}/scim/v2`, 'test'], `Authorization: Bearer ${key}`);
    const failed = output.split('\n').filter((line) => /^(ERROR|CRITICAL|SKIPPED)/.test(line));
    assert.deepEqual(failed, [], output);
    assert.match(output, /SUCCESS/);
    assert.equal(code, 0, output);
  });

  test('a person the provider deactivates loses their open report within a second', TIMEOUT, async () => {
    const { context, page } = await signIn(browser, server.baseUrl, ACCOUNTS.viewer);
    const reports = await admin.get('/api/v1/reports');
    await openReport(page, reports.body.find((r) => r.name === 'Sales overview').id);
    await page.waitForSelector('#viewer[data-live="ready"]');

    const call = (method, path, body) => fetch(`${server.baseUrl}/scim/v2${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/scim+json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    const found = await (await call('GET', `/Users?filter=${encodeURIComponent(`userName eq "${ACCOUNTS.viewer}"`)}`)).json();
    assert.equal(found.totalResults, 1);
    const id = found.Resources[0].id;

    // Entra ID's deactivation, word for word.
    const started = Date.now();
    const answer = await call('PATCH', `/Users/${id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
    assert.equal(answer.status, 200);
    await page.locator('.viewer-notice').waitFor({ state: 'visible', timeout: 1_500 });
    const took = Date.now() - started;
    assert.ok(took < 1_500, `the report left ${took} ms after the SCIM call`);
    await page.waitForFunction(() => document.querySelectorAll('.visual').length === 0 || document.querySelector('.viewer-notice:not([hidden])'));
    await page.screenshot({ path: screenshotPath('scim-deactivated') });
    await context.close();
  });
});
