// End-to-end check of provider.mjs, and a worked example of the flow a client goes through against it.
//
// Run `npm ci && node verify.mjs` in this folder. It starts provider.mjs as a child process (REDIRECT_URI
// http://127.0.0.1:9/cb; nothing needs to listen there, the redirect is never followed), reads its
// `ISSUER=` line, then: discovery, authorization request (PKCE S256, state, nonce), following the redirects by
// hand with a cookie jar until the Location is REDIRECT_URI?code=…&state=…, the code exchange with HTTP Basic
// client authentication, checks of the ID token (RS256 signature against the JWKS, iss, aud, nonce, claims), and a
// replay of the same code (must fail with invalid_grant). It repeats the flow with client_secret_post, and once
// more against a provider started with USER_EMAIL_VERIFIED=missing. Prints OK and exits 0, or exits 1.
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, createVerify, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const REDIRECT_URI = 'http://127.0.0.1:9/cb';
const CLIENT_ID = 'allure-hub';
const CLIENT_SECRET = 'test-secret';

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// Starts the provider; resolves with { issuer, child } once it printed its ISSUER= line.
function startProvider(extraEnv = {}) {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./provider.mjs', import.meta.url))], {
    env: { ...process.env, REDIRECT_URI, ...extraEnv },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('provider did not print ISSUER= within 10s')), 10_000);
    child.once('exit', (code) => reject(new Error(`provider exited early with ${code}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      const m = /^ISSUER=(http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
      if (!m) reject(new Error(`unexpected first stdout line: ${JSON.stringify(line)}`));
      else resolve({ issuer: m[1], child });
    });
  });
}

// A minimal cookie jar that honours the Path attribute (oidc-provider scopes its interaction cookies to
// /interaction/<uid> and /auth/<uid>).
class Jar {
  cookies = new Map(); // `${path} ${name}` -> { name, value, path }

  store(response) {
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attrs] = header.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const pathAttr = attrs.find((a) => a.toLowerCase().startsWith('path='));
      const path = pathAttr ? pathAttr.slice(5) : '/';
      const expired = attrs.some((a) => /^expires=/i.test(a) && Date.parse(a.slice(8)) <= Date.now());
      if (expired || value === '') this.cookies.delete(`${path} ${name}`);
      else this.cookies.set(`${path} ${name}`, { name, value, path });
    }
  }

  header(url) {
    const { pathname } = new URL(url);
    return [...this.cookies.values()]
      .filter((c) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

async function getJson(url) {
  const res = await fetch(url);
  assert(res.ok, `GET ${url} -> ${res.status}`);
  return res.json();
}

// Runs the authorization code flow and returns { code, verifier, nonce, hops }.
async function authorize(discovery) {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const state = b64url(randomBytes(12));
  const nonce = b64url(randomBytes(12));
  const auth = new URL(discovery.authorization_endpoint);
  auth.search = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    scope: 'openid email profile',
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();

  const jar = new Jar();
  const hops = [];
  let url = auth.href;
  for (let i = 0; i < 20; i += 1) {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header(url) } });
    jar.store(res);
    const location = res.headers.get('location');
    assert(res.status >= 300 && res.status < 400 && location, `GET ${url} -> ${res.status} ${await res.text()}`);
    const next = new URL(location, url);
    hops.push(`${res.status} ${new URL(url).pathname} -> ${location.startsWith('/') ? location : next.origin + next.pathname}`);
    if (next.href.startsWith(REDIRECT_URI)) {
      const params = next.searchParams;
      assert(!params.has('error'), `authorization error: ${params.get('error')} ${params.get('error_description')}`);
      assert(params.get('state') === state, 'state mismatch');
      assert(params.get('iss') === discovery.issuer, 'iss (RFC 9207) mismatch');
      const code = params.get('code');
      assert(code, 'no code in redirect');
      return { code, verifier, nonce, hops };
    }
    url = next.href;
  }
  throw new Error('too many redirects');
}

async function exchange(discovery, code, verifier, method) {
  const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (method === 'client_secret_basic') {
    // RFC 6749 §2.3.1: form-urlencode id and secret, then base64 — what the openidconnect crate sends.
    const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
    headers.authorization = `Basic ${Buffer.from(`${enc(CLIENT_ID)}:${enc(CLIENT_SECRET)}`).toString('base64')}`;
  } else {
    body.set('client_id', CLIENT_ID);
    body.set('client_secret', CLIENT_SECRET);
  }
  const res = await fetch(discovery.token_endpoint, { method: 'POST', headers, body });
  return { status: res.status, json: await res.json() };
}

function checkIdToken(idToken, jwks, issuer, nonce) {
  const [h, p, s] = idToken.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const payload = JSON.parse(Buffer.from(p, 'base64url'));
  assert(header.alg === 'RS256', `alg ${header.alg}`);
  const jwk = jwks.keys.find((k) => k.kid === header.kid && k.kty === 'RSA');
  assert(jwk, `no RSA key with kid ${header.kid} in JWKS`);
  const ok = createVerify('RSA-SHA256').update(`${h}.${p}`).verify(createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url'));
  assert(ok, 'ID token signature does not verify');
  assert(payload.iss === issuer, `iss ${payload.iss}`);
  assert(payload.aud === CLIENT_ID || (Array.isArray(payload.aud) && payload.aud.includes(CLIENT_ID)), `aud ${payload.aud}`);
  assert(payload.nonce === nonce, 'nonce mismatch');
  assert(payload.sub === 'user-1', `sub ${payload.sub}`);
  assert(payload.exp > Date.now() / 1000, 'expired');
  return payload;
}

async function run(extraEnv, method, expectClaims) {
  const { issuer, child } = await startProvider(extraEnv);
  try {
    const discovery = await getJson(`${issuer}/.well-known/openid-configuration`);
    assert(discovery.issuer === issuer, `discovery issuer ${discovery.issuer} != ${issuer}`);
    const jwks = await getJson(discovery.jwks_uri);

    const { code, verifier, nonce, hops } = await authorize(discovery);
    const first = await exchange(discovery, code, verifier, method);
    assert(first.status === 200 && first.json.id_token, `token exchange (${method}) -> ${first.status} ${JSON.stringify(first.json)}`);
    const claims = checkIdToken(first.json.id_token, jwks, issuer, nonce);
    for (const [k, v] of Object.entries(expectClaims)) {
      if (v === undefined) assert(!(k in claims), `claim ${k} should be absent, got ${JSON.stringify(claims[k])}`);
      else assert(claims[k] === v, `claim ${k}: expected ${JSON.stringify(v)}, got ${JSON.stringify(claims[k])}`);
    }

    const replay = await exchange(discovery, code, verifier, method);
    assert(replay.status === 400 && replay.json.error === 'invalid_grant', `code replay -> ${replay.status} ${JSON.stringify(replay.json)}`);

    console.log(`${method} ${JSON.stringify(extraEnv)}: ${hops.length} redirects\n  ${hops.join('\n  ')}\n  id_token: ${JSON.stringify(claims)}`);
  } finally {
    child.kill('SIGTERM');
  }
}

try {
  const full = { email: 'dev@example.com', email_verified: true, name: 'Dev Eloper', picture: 'https://avatars.example.com/u/1' };
  await run({}, 'client_secret_basic', full);
  await run({}, 'client_secret_post', full);
  await run({ USER_EMAIL_VERIFIED: 'false', USER_EMAIL: 'other@example.com' }, 'client_secret_basic', { ...full, email: 'other@example.com', email_verified: false });
  await run({ USER_EMAIL_VERIFIED: 'missing', USER_NAME: 'No Mail' }, 'client_secret_basic', { email: undefined, email_verified: undefined, name: 'No Mail' });
  console.log('OK');
  process.exit(0);
} catch (err) {
  console.error(`FAILED: ${err.stack ?? err}`);
  process.exit(1);
}
