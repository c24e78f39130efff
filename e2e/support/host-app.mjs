// Starts the example host app (examples/host-app, Node.js + Express) against a Vitrine server,
// on another origin than Vitrine's: `http://localhost:<port>` while Vitrine is on 127.0.0.1,
// so the two are different sites and the frame is a third-party one.

import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { repoRoot } from './server.mjs';

const READY = /Example host app at (http:\/\/localhost:\d+)\//;

/** Returns `{ url, adminToken, stop }`. */
export async function startHostApp({ vitrineUrl, embedKey, reportId }) {
  const adminToken = 'e2e-host-admin-token';
  const child = spawn(process.execPath, [join(repoRoot, 'examples', 'host-app', 'server.mjs')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      VITRINE_URL: vitrineUrl,
      VITRINE_EMBED_KEY: embedKey,
      VITRINE_REPORT_ID: reportId,
      PORT: '0',
      HOST: 'localhost',
      HOST_ADMIN_TOKEN: adminToken,
    },
  });
  let output = '';
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`the host app did not start:\n${output}`)), 10_000);
    child.stdout.on('data', (chunk) => {
      output += chunk.toString();
      const match = output.match(READY);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    });
    child.stderr.on('data', (chunk) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`the host app exited (${code}):\n${output}`)));
  });
  const admin = async (path) => {
    const response = await fetch(`${url}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${adminToken}` } });
    return { status: response.status, body: await response.json() };
  };
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
    child.kill('SIGTERM');
    await exited;
  };
  return { url, admin, stop };
}
