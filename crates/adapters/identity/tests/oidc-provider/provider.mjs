// A real OpenID provider (npm `oidc-provider`) on loopback for allure-hub's sign-in tests.
//
// Started as `node provider.mjs`; prints one line `ISSUER=http://127.0.0.1:<port>` once it listens, then serves
// until killed. One registered confidential client (HTTP Basic client authentication) with one redirect URI, one
// account, and no user interaction: every authorization request is logged in and consented automatically, so a
// client that follows redirects (keeping cookies) arrives at REDIRECT_URI?code=…&state=….
//
// Environment: REDIRECT_URI (required), CLIENT_ID (allure-hub), CLIENT_SECRET (test-secret),
// USER_EMAIL (dev@example.com), USER_NAME (Dev Eloper), USER_EMAIL_VERIFIED (true | false | missing).
import http from 'node:http';

import Provider from 'oidc-provider';

const env = process.env;
const redirectUri = env.REDIRECT_URI;
if (!redirectUri) {
  console.error('REDIRECT_URI is required');
  process.exit(2);
}
const verified = env.USER_EMAIL_VERIFIED ?? 'true';

function accountClaims(sub) {
  const claims = { sub, name: env.USER_NAME ?? 'Dev Eloper', picture: 'https://avatars.example.com/u/1' };
  if (verified !== 'missing') {
    claims.email = env.USER_EMAIL ?? 'dev@example.com';
    claims.email_verified = verified === 'true';
  }
  return claims;
}

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: env.CLIENT_ID ?? 'allure-hub',
      client_secret: env.CLIENT_SECRET ?? 'test-secret',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'picture'] },
  // Put the requested claims into the ID token itself, where the client reads them.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['allure-hub-test-cookie-key'] },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => accountClaims(id) }),
});

// Answers every interaction at once: log in as the single account, then grant what was asked.
async function interact(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: 'user-1' } }, { mergeWithLastSubmission: false });
    return;
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interact(req, res).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  } else {
    callback(req, res);
  }
});

const shutdown = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections(); // do not wait for clients' keep-alive connections
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
console.log(`ISSUER=${issuer}`);
