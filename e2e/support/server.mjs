// Starts a fresh `vitrine demo` server for one test file, and a headless Chromium to drive it.
//
// The demo seeds a new temporary data directory on every start, so each test file gets
// the same known organizations, users, groups and reports, and nothing leaks between files.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const resultsDir = join(repoRoot, 'e2e', 'test-results');

/** The password of every demo account in these tests. */
export const DEMO_PASSWORD = 'e2e-demo-password';

export const ACCOUNTS = {
  admin: 'admin@example.com',
  contributor: 'contributor@example.com',
  viewer: 'viewer@example.com',
  regional: 'regional@example.com',
  tv: 'tv@example.com',
  acmeAdmin: 'admin@acme.example.com',
};

const READY = /Vitrine demo is running at (http:\/\/127\.0\.0\.1:\d+)\//;
const START_TIMEOUT_MS = 20_000;

/** The `vitrine` binary: $VITRINE_BIN, else the shared CI target dir, else the repo's target/. */
export function vitrineBinary() {
  if (process.env.VITRINE_BIN) return process.env.VITRINE_BIN;
  const candidates = [
    '/var/tmp/vitrine-target/debug/vitrine',
    join(repoRoot, 'target', 'debug', 'vitrine'),
  ];
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new Error(
      `No vitrine binary: set VITRINE_BIN or build it (looked in ${candidates.join(', ')})`,
    );
  }
  return found;
}

/**
 * Spawns `vitrine demo --password <pw> --port <port>` and resolves once it prints its address.
 * `testClock` starts it with the hand-moved clock of `test-clock` builds; `rows` sizes the
 * demo dataset; `dataDir` keeps the data (to restart on the same data and port); `config` is
 * a TOML settings file.
 * Returns `{ baseUrl, output, stop }`; `stop()` sends SIGTERM and waits for the exit.
 */
export async function startDemoServer({ password = DEMO_PASSWORD, port = 0, rows, dataDir, testClock = false, config } = {}) {
  const binary = vitrineBinary();
  if (!existsSync(binary)) throw new Error(`VITRINE_BIN=${binary} does not exist`);
  const args = ['demo', '--password', password, '--port', String(port)];
  if (rows !== undefined) args.push('--rows', String(rows));
  if (dataDir !== undefined) args.push('--data-dir', dataDir);
  if (config !== undefined) args.push('--config', config);
  const child = spawn(binary, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      VITRINE_LOG: process.env.VITRINE_LOG ?? 'warn',
      ...(testClock ? { VITRINE_TEST_CLOCK: '1' } : {}),
    },
  });
  let output = '';
  const exited = new Promise((resolveExit) => child.once('exit', (code, signal) => resolveExit({ code, signal })));

  const baseUrl = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vitrine demo did not start within ${START_TIMEOUT_MS} ms. Output:\n${output}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk) => {
      output += chunk.toString();
      const match = output.match(READY);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => {
      output += chunk.toString();
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`vitrine demo exited early (code ${code}, signal ${signal}). Output:\n${output}`));
    });
  });

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  return { baseUrl, stop, get output() { return output; } };
}

/** Debian's Chromium, headless; nothing is downloaded. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** `args`: more Chromium switches, for a scenario that needs them. */
export async function launchBrowser({ args = [] } = {}) {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: apt-get install -y chromium (scripts/test does this)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      ...args,
    ],
  });
}

/** A path under e2e/test-results/ for a screenshot, creating the folder. */
export function screenshotPath(name) {
  mkdirSync(resultsDir, { recursive: true });
  return join(resultsDir, `${name}.png`);
}
