// The stand-in for Entra ID, Power BI and Azure (crates/vitrine-azure-standin), started for
// one test file, and the routing that serves its report pages under Power BI's real host
// name, https://app.powerbi.com, which powerbi-client requires of an embed URL.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { repoRoot } from './server.mjs';

const READY = /listening on (http:\/\/127\.0\.0\.1:\d+)/;

/** The stand-in's binary: $STANDIN_BIN, else the shared CI target dir, else the repo's target/. */
function standinBinary() {
  if (process.env.STANDIN_BIN) return process.env.STANDIN_BIN;
  const candidates = [
    '/var/tmp/vitrine-target/debug/vitrine-azure-standin',
    join(repoRoot, 'target', 'debug', 'vitrine-azure-standin'),
  ];
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`No stand-in binary: cargo build -p vitrine-azure-standin (looked in ${candidates.join(', ')})`);
  return found;
}

/** powerbi-client's script, from the e2e packages (npm ci installs it). */
export const POWERBI_CLIENT = join(repoRoot, 'e2e', 'node_modules', 'powerbi-client', 'dist', 'powerbi.min.js');

/**
 * Starts the stand-in accepting `clientSecret`. Returns `{ url, configFile, control, stop }`:
 * `configFile` is a Vitrine settings file pointing Power BI, Entra ID and ARM at it;
 * `control(method, path, body)` calls its `/__standin/…` API.
 */
export async function startStandin({ clientSecret, transitionSeconds = 1 }) {
  const child = spawn(standinBinary(), ['--client-secret', clientSecret, '--transition-seconds', String(transitionSeconds)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the stand-in did not start: ${output}`)), 10_000);
    child.stdout.on('data', (chunk) => {
      output += chunk.toString();
      const match = output.match(READY);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.stderr.on('data', (chunk) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`the stand-in exited (${code}): ${output}`)));
  });
  const dir = mkdtempSync(join(tmpdir(), 'vitrine-standin-'));
  const configFile = join(dir, 'vitrine.toml');
  writeFileSync(
    configFile,
    [
      `powerbi_api_url = "${url}"`,
      `entra_url = "${url}"`,
      `arm_url = "${url}"`,
      `powerbi_client = "${POWERBI_CLIENT}"`,
      '',
    ].join('\n'),
  );
  const control = async (method, path, body) => {
    const answer = await fetch(`${url}/__standin/${path}`, {
      method,
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await answer.text();
    return { status: answer.status, body: text ? JSON.parse(text) : null };
  };
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  };
  return { url, configFile, control, stop };
}

/** Serves `https://app.powerbi.com/…` in `context` from the stand-in at `standinUrl`. */
export async function routePowerBi(context, standinUrl) {
  await context.route('https://app.powerbi.com/**', async (route) => {
    const asked = new URL(route.request().url());
    const response = await route.fetch({ url: `${standinUrl}${asked.pathname}${asked.search}` });
    await route.fulfill({ response });
  });
}
