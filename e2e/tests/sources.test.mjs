// A new user's first report on their own database, in a real browser: an administrator
// connects the machine's PostgreSQL in the portal, tests the connection, adds a table of it as
// a dataset, starts a report on that dataset from the portal's first page of visuals, and
// opens it as a wallboard ("Open in TV mode": data read again every five minutes). A row
// changed in the table then shows on the direct wallboard at its next data refresh, and on the
// imported one only after the dataset is refreshed.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ACCOUNTS, launchBrowser, screenshotPath, startDemoServer } from '../support/server.mjs';
import { assertNoError, clickThrough, notice, open, signIn } from '../support/portal.mjs';

const TIMEOUT = { timeout: 60_000 };

// Its name starts like the Rust tests' source databases, so scripts/test-databases drops it
// when a failed run leaves it behind.
const DATABASE = `vitrine_src_e2e_${process.pid}`;

/** Runs SQL at the machine's PostgreSQL (127.0.0.1:5432, user postgres, trust). */
function psql(database, sql) {
  return execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', database, '-v', 'ON_ERROR_STOP=1', '-Atqc', sql], {
    encoding: 'utf8',
  }).trim();
}

describe('a report on a PostgreSQL table, as a new user builds it', () => {
  let server;
  let browser;
  let admin;

  before(async () => {
    psql('postgres', `DROP DATABASE IF EXISTS ${DATABASE}`);
    psql('postgres', `CREATE DATABASE ${DATABASE}`);
    psql(
      DATABASE,
      `CREATE TABLE orders (region text NOT NULL, amount numeric(12,2) NOT NULL, ordered_on date NOT NULL);
       INSERT INTO orders VALUES ('North', 120, '2026-11-02'), ('South', 80, '2026-11-03'), ('North', 50, '2026-12-01');`,
    );
    // Identical queries share one answer for a second instead of the default 30, so that the
    // wallboard's next data refresh reads the table again.
    const dir = mkdtempSync(join(tmpdir(), 'vitrine-sources-'));
    const config = join(dir, 'vitrine.toml');
    writeFileSync(config, '[limits]\nresult_cache_seconds = 1\n');
    server = await startDemoServer({ config });
    browser = await launchBrowser();
    admin = await signIn(browser, server.baseUrl, ACCOUNTS.admin);
  });

  after(async () => {
    await admin?.context.close().catch(() => {});
    await browser?.close();
    await server?.stop();
    try {
      psql('postgres', `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    } catch {
      // scripts/test-databases drops it on the next run.
    }
  });

  /** Adds a dataset of the `orders` table in `mode`; returns its page's path. */
  async function addDataset(page, name, mode) {
    await open(page, '/admin/datasets', { status: 200 });
    const form = page.locator('form[action="/admin/datasets/source"]');
    await form.locator('input[name="name"]').fill(name);
    await form.locator('select[name="connection"]').selectOption({ label: 'Warehouse database' });
    await form.locator('input[name="table"]').fill('orders');
    await form.locator('select[name="mode"]').selectOption(mode);
    await clickThrough(page, form.getByRole('button', { name: 'Add dataset' }), { status: 200 });
    await assertNoError(page);
    assert.equal(await page.locator('main h1').textContent(), name);
    return new URL(page.url()).pathname;
  }

  /** Starts a report from the dataset's page, saves the first page the editor offers; returns its id. */
  async function reportOn(page, datasetPath, name, expectedTotal) {
    await open(page, datasetPath, { status: 200 });
    const datasetId = datasetPath.split('/').pop();
    await clickThrough(page, page.getByRole('link', { name: 'New report on this dataset' }), { status: 200 });
    const form = page.locator('#add-report form');
    assert.equal(await form.locator('select[name="dataset"]').inputValue(), datasetId, 'the dataset is chosen');
    await form.locator('input[name="name"]').fill(name);
    await clickThrough(page, form.getByRole('button', { name: 'Add report' }), { status: 200 });
    assert.match(new URL(page.url()).pathname, /^\/admin\/reports\/[^/]+\/definition$/);
    // The editor starts on this dataset and its columns, not on the demo's.
    const draft = JSON.parse(await page.locator('textarea[name="definition"]').inputValue());
    assert.equal(draft.dataset, datasetId);
    const visuals = draft.pages[0].visuals;
    assert.deepEqual(visuals.map((v) => v.id), ['total', 'by-group', 'trend']);
    assert.equal(visuals[0].measures[0].column, 'amount');
    assert.equal(visuals[1].dimension.column, 'region');
    assert.deepEqual(visuals[2].dimension, { column: 'ordered_on', grain: 'month' });

    await clickThrough(page, page.getByRole('button', { name: 'Check and preview' }), { status: 200 });
    assert.equal(await notice(page), 'The definition is valid. Save it to publish.');
    const preview = await page.locator('.preview').first().locator('td').allTextContents();
    assert.deepEqual(preview.map(Number), [expectedTotal], 'the preview sums the table');
    await clickThrough(page, page.getByRole('button', { name: 'Save' }), { status: 200 });
    assert.equal(await notice(page), 'Saved.');
    return new URL(page.url()).pathname.split('/')[3];
  }

  /**
   * Opens the report as a wallboard through its "Open in TV mode" link (data read again every
   * five minutes), on a page clock.
   */
  async function wallboard(reportId) {
    const page = await admin.context.newPage();
    await page.clock.install();
    await open(page, `/reports/${reportId}`, { status: 200 });
    await clickThrough(page, page.getByRole('link', { name: 'Open in TV mode' }), { status: 200 });
    assert.equal(new URL(page.url()).search, '?mode=tv&rotate=30&refresh=5');
    await page.waitForSelector('#viewer[data-loaded]');
    await page.waitForFunction(() => document.querySelectorAll('.visual.loading').length === 0);
    return page;
  }

  /** The wallboard's card, as a number ("1,670" reads 1670). */
  const total = async (page) => Number((await page.locator('[data-visual="total"] .card-number').textContent()).replaceAll(',', ''));

  /** Waits for the wallboard's card to read `expected`. */
  async function totalBecomes(page, expected, timeout) {
    await page.waitForFunction(
      (wanted) => Number(document.querySelector('[data-visual="total"] .card-number')?.textContent.replaceAll(',', '')) === wanted,
      expected,
      { timeout },
    );
  }

  /** Lets the wallboard's five minutes pass, after the result cache's second. */
  async function nextDataRefresh(page) {
    await page.waitForTimeout(1_100);
    await page.clock.runFor(5 * 60_000);
  }

  /** Reloads the dataset's page until its import is in (`rows` rows). */
  async function untilImported(page, path, rows) {
    for (let i = 0; i < 80; i += 1) {
      await open(page, path, { status: 200 });
      if ((await page.locator('.page-head p').textContent()).includes(`· ${rows} rows`)) return;
      await page.waitForTimeout(250);
    }
    assert.fail(`the import of ${path} did not finish: ${await page.locator('main').textContent()}`);
  }

  test('a connection is added and tested, a direct dataset of a table gets a report, and the wallboard follows a changed row', TIMEOUT, async () => {
    const page = admin.page;
    await open(page, '/admin/connections', { status: 200 });
    const form = page.locator('form[action="/admin/connections"]');
    await form.locator('input[name="name"]').fill('Warehouse database');
    await form.locator('select[name="kind"]').selectOption('postgres');
    await form.locator('input[name="host"]').fill('127.0.0.1');
    await form.locator('input[name="port"]').fill('5432');
    await form.locator('input[name="database"]').fill(DATABASE);
    await form.locator('input[name="user"]').fill('postgres');
    await form.locator('select[name="tls"]').selectOption('disable');
    await clickThrough(page, form.getByRole('button', { name: 'Add connection' }), { status: 200 });
    assert.equal(await notice(page), 'Created.');
    await clickThrough(page, page.getByRole('button', { name: 'Test connection' }), { status: 200 });
    assert.match(await notice(page), /^Connected: /);

    const dataset = await addDataset(page, 'Orders (live)', 'direct');
    const columns = await page.locator('section.card:has(h2:text("Columns")) tbody tr').allTextContents();
    assert.deepEqual(columns, ['regiontext', 'amountdecimal', 'ordered_ondate']);
    const report = await reportOn(page, dataset, 'Orders wallboard', 250);

    const board = await wallboard(report);
    assert.equal(await total(board), 250);
    const bars = await board.locator('[data-visual="by-group"] .bar-label').allTextContents();
    assert.deepEqual(bars, ['North', 'South']);
    await board.screenshot({ path: screenshotPath('sources-direct-before') });

    psql(DATABASE, "UPDATE orders SET amount = 500 WHERE region = 'South'");
    await nextDataRefresh(board);
    await totalBecomes(board, 670, 10_000);
    await board.screenshot({ path: screenshotPath('sources-direct-after') });
    await board.close();
  });

  test('an imported dataset keeps its copy until it is refreshed, then the open wallboard shows the change by itself', TIMEOUT, async () => {
    const page = admin.page;
    const dataset = await addDataset(page, 'Orders (copy)', 'imported');
    // The first import starts at creation and runs in the background.
    await untilImported(page, dataset, 3);
    const report = await reportOn(page, dataset, 'Orders from the copy', 670);

    const board = await wallboard(report);
    assert.equal(await total(board), 670);
    psql(DATABASE, "UPDATE orders SET amount = 1050 WHERE ordered_on = '2026-12-01'");
    await nextDataRefresh(board);
    await board.waitForFunction(() => document.querySelectorAll('.visual.loading').length === 0);
    await board.waitForTimeout(500);
    assert.equal(await total(board), 670, 'the wallboard reads the copy until a refresh');

    await open(page, dataset, { status: 200 });
    await clickThrough(page, page.getByRole('button', { name: 'Refresh now' }), { status: 200 });
    // The new version reaches the open wallboard through the live channel, before its next
    // data refresh.
    await totalBecomes(board, 1670, 20_000);
    await open(page, dataset, { status: 200 });
    const history = await page.locator('section.card:has(h2:text("Source")) tbody tr').count();
    assert.equal(history, 2, 'the refresh history lists the first import and this one');
    await board.close();
  });
});
