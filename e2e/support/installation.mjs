// A fresh installation for browser tests: `vitrine serve` on an empty data directory (as an
// operator would start it), with a real SMTP server (aiosmtpd from PyPI) catching its email.

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { vitrineBinary } from './server.mjs';

const START_TIMEOUT_MS = 20_000;
const ANSI = /\x1b\[[0-9;]*m/g;

/** A free loopback port. */
async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

/** Starts aiosmtpd on a free port; `messagesTo(email)` reads what arrived, decoded. */
export async function startMailCatcher() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'vitrine-mail-'));
  const child = spawn('python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', join(dir, 'mail')], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await portOpen(port)) break;
    if (Date.now() > deadline) throw new Error(`aiosmtpd did not start on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const messagesTo = (email) => {
    let files = [];
    try {
      files = readdirSync(join(dir, 'mail', 'new')).sort();
    } catch {
      return [];
    }
    return files
      .map((file) => readFileSync(join(dir, 'mail', 'new', file), 'utf8'))
      .filter((text) => text.split(/\r?\n/).some((line) => line.startsWith('To: ') && line.includes(email)))
      .map((text) => text.replace(/=\r?\n/g, '').replace(/=3D/g, '='));
  };
  /** Waits for the n-th (1-based) message to `email`. */
  const waitFor = async (email, n = 1) => {
    const until = Date.now() + 10_000;
    for (;;) {
      const messages = messagesTo(email);
      if (messages.length >= n) return messages[n - 1];
      if (Date.now() > until) throw new Error(`no message ${n} to ${email}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = () => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  return { port, messagesTo, waitFor, stop };
}

/** Whether something accepts connections on the loopback port. */
function portOpen(port) {
  return new Promise((resolve) => {
    const socket = createConnection(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/**
 * `vitrine serve` on a fresh data directory with SMTP to `smtpPort`. Resolves with
 * `{ baseUrl, setupCode, stop }` once it listens and has logged its set-up code.
 */
export async function startEmptyServer({ smtpPort, testClock = false } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'vitrine-install-'));
  const env = {
    ...process.env,
    VITRINE_LOG: 'info',
    NO_COLOR: '1',
    ...(testClock ? { VITRINE_TEST_CLOCK: '1' } : {}),
  };
  if (smtpPort) {
    Object.assign(env, {
      VITRINE_SMTP_HOST: '127.0.0.1',
      VITRINE_SMTP_PORT: String(smtpPort),
      VITRINE_SMTP_TLS: 'none',
      VITRINE_SMTP_FROM: 'bi@example.com',
    });
  }
  const child = spawn(vitrineBinary(), ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const started = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vitrine serve did not start. Output:\n${output}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk) => {
      output += chunk.toString().replace(ANSI, '');
      const code = output.match(/\bcode=([A-Z0-9]{12})\b/);
      const listening = output.match(/Vitrine is listening.*public_url=(http:\/\/127\.0\.0\.1:\d+)/);
      if (code && listening) {
        clearTimeout(timer);
        resolve({ baseUrl: listening[1], setupCode: code[1] });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`vitrine serve exited (code ${code}, signal ${signal}). Output:\n${output}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { ...started, stop, get output() { return output; } };
}
