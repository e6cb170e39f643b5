// A real OpenID provider for the tests: oidc-provider, a certified implementation, on a free
// port of this host, with the development login form (any password; the login is the subject).
//
// Users: any login. `alice` and `bob` have names and groups (anyone else is in `everyone`); a login with `@` is its own
// address, any other `x` is `x@example.com`; a login ending in `.unverified` has an address the
// provider says it has not verified. Clients: `premortem` (secret and redirect URI from the
// environment, for the browser tests) and any registered dynamically (`POST /reg`, one per
// integration test).
//
// For the refusal tests, `POST /__test/tamper {"client_id", "kind"}` alters the next ID token
// the token endpoint gives that client, signed with the provider's own key unless the kind is
// about keys: nonce, expired, skewed (30 s past its expiry, within the allowed skew), issuer,
// audience, unknown-key (a key it never publishes), rotated (a new key, published from then on).
//
// Usage: node provider.mjs --port N [--parent PID]; exits when PID does.
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const arg = (name) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const port = Number(arg('port') ?? 0);
const parent = Number(arg('parent') ?? 0);
if (parent) {
  setInterval(() => {
    try { process.kill(parent, 0); } catch { process.exit(0); }
  }, 1000).unref();
}

const known = {
  alice: { name: 'Alice Able', groups: ['premortem-que-leads', 'everyone'] },
  bob: { name: 'Bob Baker', groups: ['premortem-que-members', 'everyone'] },
};

function claimsOf(sub) {
  const email = sub.includes('@') ? sub : `${sub}@example.com`;
  return {
    sub,
    email,
    email_verified: !sub.endsWith('.unverified'),
    name: known[sub]?.name ?? sub,
    preferred_username: sub.split('@')[0],
    groups: known[sub]?.groups ?? ['everyone'],
  };
}

async function signingKey(kid) {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  return { ...(await jose.exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
}
const providerKey = await signingKey('provider-1');
const published = [];
const tamper = new Map();

async function sign(payload, jwk) {
  const key = await jose.importJWK(jwk, 'RS256');
  return new jose.SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' }).sign(key);
}
const publicOf = ({ kty, n, e, kid, alg, use }) => ({ kty, n, e, kid, alg, use });

async function forge(idToken, kind, issuer) {
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  switch (kind) {
    case 'nonce': return sign({ ...claims, nonce: 'not-the-nonce-that-was-sent' }, providerKey);
    case 'expired': return sign({ ...claims, iat: now - 1200, exp: now - 600 }, providerKey);
    case 'skewed': return sign({ ...claims, iat: now - 630, exp: now - 30 }, providerKey);
    case 'issuer': return sign({ ...claims, iss: `${issuer}/other` }, providerKey);
    case 'audience': return sign({ ...claims, aud: 'another-client' }, providerKey);
    case 'unknown-key': return sign(claims, await signingKey(`unknown-${now}`));
    case 'rotated': {
      const key = await signingKey(`rotated-${published.length + 1}`);
      published.push(publicOf(key));
      return sign(claims, key);
    }
    default: throw new Error(`unknown tamper kind ${kind}`);
  }
}

const server = http.createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const clients = [];
if (process.env.OIDC_CLIENT_SECRET && process.env.OIDC_REDIRECT_URI) {
  clients.push({
    client_id: 'premortem',
    client_secret: process.env.OIDC_CLIENT_SECRET,
    redirect_uris: [process.env.OIDC_REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  });
}

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [providerKey] },
  cookies: { keys: ['premortem-tests-only'], long: { sameSite: 'lax' }, short: { sameSite: 'lax' } },
  claims: {
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  features: { devInteractions: { enabled: true }, registration: { enabled: true } },
  pkce: { required: () => true },
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => claimsOf(sub) }),
  // Consent is granted for everything asked: these are the company's own applications.
  loadExistingGrant: async (ctx) => {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
});

provider.use(async (ctx, next) => {
  await next();
  // The development pages import a web font from the internet, which these machines (and a
  // company's test network) cannot reach: left out, so a browser meets no failed request.
  if (typeof ctx.body === 'string' && ctx.body.includes('fonts.googleapis.com')) {
    ctx.body = ctx.body.replace(/@import url\(https:\/\/fonts\.googleapis\.com[^)]*\);/g, '');
  }
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token) {
    const clientId = ctx.oidc?.client?.clientId;
    const kind = tamper.get(clientId);
    if (kind) {
      tamper.delete(clientId);
      ctx.body = { ...ctx.body, id_token: await forge(ctx.body.id_token, kind, issuer) };
    }
  }
  if (ctx.path === '/jwks' && ctx.status === 200 && published.length) {
    ctx.body = { keys: [...ctx.body.keys, ...published] };
  }
});

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url === '/__test/tamper') {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      const { client_id: clientId, kind } = JSON.parse(body);
      tamper.set(clientId, kind);
      res.writeHead(204).end();
    });
    return;
  }
  callback(req, res);
});
console.log(`ISSUER=${issuer}`);
