// A company's OpenID provider for the single sign-on tests: the npm package `oidc-provider`
// (a certified implementation), run in the test's own process on 127.0.0.1.
//
// Its dev interactions sign in any login name; an account's claims come from `people`
// (email, name, groups). PKCE is required of every client, and `groups` is sent in the ID
// token. `forgeNext(change)` rewrites the next ID token the token endpoint answers (as an
// attacker between the two would), re-signed with the provider's own key unless `change`
// says otherwise; `rotate()` restarts the provider on the same address with a new signing key
// listed first.

import { createServer } from 'node:http';

import * as jose from 'jose';
import Provider from 'oidc-provider';

async function signingKey(kid) {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  return { ...(await jose.exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
}

/**
 * Starts the provider. `people` maps a login (an email) to `{ name, groups }`; unknown logins
 * sign in too, with no groups. Returns `{ issuer, clientId, clientSecret, people, forgeNext,
 * rotate, tokenRequests, stop }`.
 */
export async function startProvider({ redirectUri, people = {}, clientId = 'vitrine', clientSecret = 'provider-test-secret' }) {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  let keys = [await signingKey('key-1')];
  let forge = null;
  const counters = { tokenRequests: 0 };

  const configure = () => {
    const provider = new Provider(issuer, {
      clients: [{
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      }],
      pkce: { required: () => true },
      claims: {
        openid: ['sub'],
        email: ['email', 'email_verified'],
        profile: ['name'],
        groups: ['groups'],
      },
      conformIdTokenClaims: false,
      findAccount: async (_ctx, sub) => ({
        accountId: sub,
        claims: async () => ({
          sub,
          email: sub,
          email_verified: true,
          name: people[sub]?.name ?? sub.split('@')[0],
          groups: people[sub]?.groups ?? [],
        }),
      }),
      jwks: { keys },
      cookies: { keys: ['oidc-test-cookie-key'] },
      features: { devInteractions: { enabled: true } },
      ttl: { AccessToken: 600, Grant: 3600, IdToken: 600, Interaction: 600, Session: 3600 },
    });
    provider.use(async (ctx, next) => {
      const isToken = ctx.method === 'POST' && ctx.path === '/token';
      if (isToken) counters.tokenRequests += 1;
      await next();
      if (isToken && forge && ctx.status === 200 && ctx.body?.id_token) {
        const change = forge;
        forge = null;
        ctx.body = { ...ctx.body, id_token: await change(ctx.body.id_token) };
      }
    });
    return provider;
  };

  let handler = configure().callback();
  server.on('request', (req, res) => handler(req, res));

  /** Re-signs `claims` with the provider's current key (or `key`, a private JWK). */
  const sign = async (claims, key = keys[0]) =>
    new jose.SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
      .sign(await jose.importJWK(key, 'RS256'));

  return {
    issuer,
    clientId,
    clientSecret,
    people,
    counters,
    /**
     * Rewrites the next ID token: `change(claims)` returns the claims to sign (with the
     * provider's key, or `{ claims, key }` to sign with another), or `{ raw }` to send as is.
     */
    forgeNext(change) {
      forge = async (idToken) => {
        const claims = jose.decodeJwt(idToken);
        const result = await change({ ...claims }, idToken);
        if (result.raw) return result.raw;
        if (result.claims) return sign(result.claims, result.key);
        return sign(result);
      };
    },
    /** A private key the provider never published. */
    strangerKey: () => signingKey('stranger'),
    /** Restarts with a new signing key first (the old one still listed), on the same address. */
    async rotate() {
      keys = [await signingKey(`key-${keys.length + 1}`), ...keys];
      handler = configure().callback();
      return keys[0].kid;
    },
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

/**
 * Signs in at the provider's dev interaction pages as `login` (any password), consenting when
 * asked; resolves with the response of the page the browser ends on.
 */
export async function signInAtProvider(page, issuer, login) {
  await page.waitForURL((url) => url.origin === issuer, { timeout: 10_000 });
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  const left = page.waitForURL((url) => url.origin !== issuer, { timeout: 10_000 }).then(() => 'left');
  const consent = page.getByRole('button', { name: 'Continue' }).waitFor({ timeout: 10_000 }).then(() => 'consent', () => null);
  await page.getByRole('button', { name: 'Sign-in' }).click();
  if ((await Promise.race([left, consent])) === 'consent') {
    await page.getByRole('button', { name: 'Continue' }).click();
  }
  await left;
  await page.waitForLoadState('load');
}
