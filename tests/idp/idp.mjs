// The OpenID provider of splunk-mcp's test world: oidc-provider with test users, test clients,
// JWT access tokens per resource indicator, token exchange (RFC 8693, Entra on-behalf-of, ID-JAG;
// exchange.mjs), and a login that needs no human.
//
//   node tests/idp/idp.mjs [--port N] [--extra-audience AUD]... [--access-token-ttl SECONDS]
//                          [--exchange-audience AUD]... [--state-file FILE]
//                          [--key-client-jwks FILE]
//
// Prints exactly one line to stdout, the issuer `http://127.0.0.1:PORT`, once it listens;
// everything else (oidc-provider's notices, request errors) goes to stderr. SIGTERM or SIGINT
// stops it. Test-only endpoints under /test/ change a user's groups, count exchanges, set the
// client id ID-JAGs name, and sign ID-JAGs on demand. See README.md for users, clients, scopes,
// token exchange and how the automated login is driven.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import {
  JWT_BEARER, TOKEN_EXCHANGE, TestRequestError, customizeExchangedJwt, registerExchange,
} from './exchange.mjs';

// oidc-provider prints its notices with console.info, which is stdout; callers read stdout for
// the issuer line, so every diagnostic goes to stderr. This runs before oidc-provider loads.
console.info = console.error;
console.log = console.error;

const { default: Provider, errors } = await import('oidc-provider');

const { values: options } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'extra-audience': { type: 'string', multiple: true, default: [] },
    'access-token-ttl': { type: 'string', default: '600' },
    'exchange-audience': { type: 'string', multiple: true, default: [] },
    'state-file': { type: 'string' },
    'key-client-jwks': { type: 'string' },
  },
});

const port = Number.parseInt(options.port, 10);
const accessTokenTtl = Number.parseInt(options['access-token-ttl'], 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  throw new Error(`--port must be a TCP port number, got ${options.port}`);
}
if (!Number.isInteger(accessTokenTtl) || accessTokenTtl <= 0) {
  throw new Error(`--access-token-ttl must be a positive number of seconds, got ${options['access-token-ttl']}`);
}
// Audiences added to every JWT access token besides its resource, so one token can be accepted
// by the MCP server (its resource) and by Splunk (`splunk`): what `passthrough` needs.
const extraAudiences = [
  ...options['extra-audience'],
  ...(process.env.IDP_EXTRA_AUDIENCE ?? '').split(','),
].map((aud) => aud.trim()).filter(Boolean);
/** Audiences token exchange issues access tokens for: Splunk's, and any --exchange-audience. */
const exchangeAudiences = new Set(['splunk', ...options['exchange-audience']]);
/** The clients allowed to exchange a user's token for one for an exchange audience. */
const EXCHANGE_CLIENTS = new Set(['splunk-mcp', 'splunk-mcp-key']);
/**
 * With --key-client-jwks, a client like `splunk-mcp` that authenticates with private_key_jwt
 * (RFC 7523) by the keys of that JWKS file, made by the test that starts the IdP.
 */
const keyClientJwks = options['key-client-jwks']
  ? JSON.parse(readFileSync(options['key-client-jwks'], 'utf8'))
  : undefined;

/** Scopes a resource server (the MCP server, or Splunk) understands. */
const SPLUNK_SCOPES = ['splunk:read', 'splunk:search', 'splunk:admin'];
/** The resource indicator whose tokens are for Splunk alone (`aud: "splunk"`). */
const SPLUNK_RESOURCE = 'urn:splunk';
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The test users, by account id (which is also `sub` and `preferred_username`). */
const USERS = {
  alice: { name: 'Alice Example', email: 'alice@example.com', groups: ['analysts'] },
  bob: { name: 'Bob Example', email: 'bob@example.com', groups: ['admins'] },
  carol: { name: 'Carol Example', email: 'carol@example.com', groups: [] },
};

/** The claims of a test user, as they appear in ID tokens and access tokens. */
function userClaims(accountId) {
  const user = USERS[accountId];
  return {
    sub: accountId,
    preferred_username: accountId,
    name: user.name,
    email: user.email,
    email_verified: true,
    groups: user.groups,
  };
}

/** Finds the user a `login_hint` (or picker choice) names: `alice` or `alice@example.com`. */
function userFromHint(hint) {
  if (!hint) return undefined;
  const name = hint.trim().toLowerCase().replace(/@example\.com$/u, '');
  return Object.hasOwn(USERS, name) ? name : undefined;
}

/** Loopback callbacks; native clients may use them on any port (RFC 8252 §7.3). */
const LOOPBACK_REDIRECTS = ['127.0.0.1', 'localhost'].flatMap((host) => (
  ['/callback', '/auth/callback', '/oauth/callback'].map((path) => `http://${host}${path}`)
));

function isLoopbackResource(indicator) {
  const url = URL.parse(indicator);
  return url !== null
    && (url.protocol === 'http:' || url.protocol === 'https:')
    && LOOPBACK_HOSTS.has(url.hostname);
}

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    ...privateKey.export({ format: 'jwk' }),
    kid: `test-idp-${randomUUID()}`,
    alg: 'RS256',
    use: 'sig',
  };
}

// With --state-file, the IdP outlives its process as a real one with a database does: its keys
// and everything oidc-provider stores (sessions, grants, codes, refresh tokens, registered
// clients) are read from the file at start and written to it when SIGTERM or SIGINT stops it,
// so a test can stop the IdP and start it again on the same port without signing anyone out.
// Without it, everything lives in oidc-provider's own memory adapter and dies with the process.
const stateFile = options['state-file'];
const savedState = stateFile && existsSync(stateFile)
  ? JSON.parse(readFileSync(stateFile, 'utf8'))
  : undefined;
const keys = savedState?.keys ?? { signing: signingKey(), cookie: randomBytes(32).toString('hex') };
/** `Model:id` → `{ payload, expiresAt }` (ms; absent: no expiry), for --state-file. */
const stored = new Map(savedState?.entries ?? []);

/** oidc-provider's storage interface over `stored`; lookups by uid or user code scan it. */
class StateAdapter {
  constructor(model) {
    this.prefix = `${model}:`;
  }

  entry(key) {
    const entry = stored.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      stored.delete(key);
      return undefined;
    }
    return entry;
  }

  findWhere(matches) {
    for (const key of stored.keys()) {
      if (!key.startsWith(this.prefix)) continue;
      const entry = this.entry(key);
      if (entry && matches(entry.payload)) return entry.payload;
    }
    return undefined;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
    stored.set(this.prefix + id, { payload, expiresAt });
  }

  async find(id) {
    return this.entry(this.prefix + id)?.payload;
  }

  async findByUid(uid) {
    return this.findWhere((payload) => payload.uid === uid);
  }

  async findByUserCode(userCode) {
    return this.findWhere((payload) => payload.userCode === userCode);
  }

  async consume(id) {
    const entry = this.entry(this.prefix + id);
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    stored.delete(this.prefix + id);
  }

  async revokeByGrantId(grantId) {
    for (const [key, entry] of stored) {
      if (key.startsWith(this.prefix) && entry.payload.grantId === grantId) stored.delete(key);
    }
  }
}

/** Writes the keys and the unexpired entries to --state-file, readable by its owner only. */
function saveState() {
  if (!stateFile) return;
  const now = Date.now();
  const entries = [...stored].filter(([, entry]) => !(entry.expiresAt <= now));
  writeFileSync(stateFile, JSON.stringify({ keys, entries }), { mode: 0o600 });
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/gu, (c) => `&#${c.charCodeAt(0)};`);
}

// The server listens before the provider exists because the issuer names the port, which is
// only known once listening; nobody knows the URL (and so sends a request) until it is printed.
let provider;
const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://placeholder').pathname;
  let handled;
  if (path.startsWith('/interaction/')) handled = interaction(req, res);
  else if (path.startsWith('/test/')) handled = testControl(req, res, path);
  else handled = provider.callback()(req, res);
  Promise.resolve(handled).catch((err) => {
    console.error('idp: request failed:', err);
    if (!res.headersSent) {
      res.statusCode = 500;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(`interaction failed: ${err.message}\n`);
    }
  });
});

await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'splunk-mcp',
      client_secret: 'splunk-mcp-secret',
      client_name: 'splunk-mcp (confidential test client)',
      // `native` lets loopback redirect URIs match on any port, as the proxy's callback
      // port changes from test to test.
      application_type: 'native',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials', TOKEN_EXCHANGE, JWT_BEARER],
      response_types: ['code'],
      redirect_uris: LOOPBACK_REDIRECTS,
      token_endpoint_auth_method: 'client_secret_basic',
    },
    ...(keyClientJwks
      ? [{
        client_id: 'splunk-mcp-key',
        client_name: 'splunk-mcp (private_key_jwt test client)',
        application_type: 'native',
        grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE, JWT_BEARER],
        response_types: ['code'],
        redirect_uris: LOOPBACK_REDIRECTS,
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: keyClientJwks,
      }]
      : []),
    {
      // Not in EXCHANGE_CLIENTS. It lists the exchange grants so that exchange.mjs refuses its
      // exchanges (`unauthorized_client`), not oidc-provider (`invalid_request`, grant not
      // allowed); it may ask for ID-JAGs, as any client may.
      client_id: 'no-exchange',
      client_secret: 'no-exchange-secret',
      client_name: 'confidential test client not allowed to exchange tokens',
      application_type: 'native',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials', TOKEN_EXCHANGE, JWT_BEARER],
      response_types: ['code'],
      redirect_uris: LOOPBACK_REDIRECTS,
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: 'test-public',
      client_name: 'public test client (PKCE)',
      application_type: 'native',
      // The exchange grants let it ask for ID-JAGs (and be refused an exchange as no-exchange is).
      grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE, JWT_BEARER],
      response_types: ['code'],
      redirect_uris: LOOPBACK_REDIRECTS,
      token_endpoint_auth_method: 'none',
    },
  ],
  ...(stateFile ? { adapter: StateAdapter } : {}),
  jwks: { keys: [keys.signing] },
  cookies: { keys: [keys.cookie] },
  // Splunk scopes are listed too so discovery's scopes_supported names them; tokens for a
  // resource carry the ones its resource server accepts.
  scopes: ['openid', 'profile', 'email', 'offline_access', ...SPLUNK_SCOPES],
  claims: {
    // `groups` rides on `openid`, so every ID token carries it (Splunk and splunk-mcp read it).
    openid: ['sub', 'groups'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  // ID tokens carry the claims of the granted scopes even when an access token is issued too.
  conformIdTokenClaims: false,
  async findAccount(_ctx, id) {
    if (!Object.hasOwn(USERS, id)) return undefined;
    return { accountId: id, claims: async () => userClaims(id) };
  },
  extraTokenClaims(_ctx, token) {
    if (!token.accountId || !Object.hasOwn(USERS, token.accountId)) return undefined;
    const { preferred_username, name, email, groups } = userClaims(token.accountId);
    return { preferred_username, name, email, groups };
  },
  formats: {
    customizers: {
      jwt(_ctx, token, jwt) {
        // An exchanged token is for its one requested audience.
        if (customizeExchangedJwt(token, jwt)) return;
        if (extraAudiences.length === 0) return;
        const audiences = [...new Set([jwt.payload.aud, ...extraAudiences].flat())];
        jwt.payload.aud = audiences.length === 1 ? audiences[0] : audiences;
      },
    },
  },
  issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token')
    && code.scopes.has('offline_access'),
  // OAuth 2.1: authorization code only, always with PKCE S256.
  responseTypes: ['code'],
  pkce: { required: () => true },
  clientBasedCORS: () => true,
  ttl: {
    AccessToken: accessTokenTtl,
    ClientCredentials: accessTokenTtl,
    IdToken: 3600,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 3600,
    Grant: 14 * 24 * 3600,
    RefreshToken: 14 * 24 * 3600,
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    // Open registration (no initial access token), for MCP clients registering themselves.
    registration: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      // A token request without `resource` still gets the resource the grant was made for.
      useGrantedResource: async () => true,
      async getResourceServerInfo(_ctx, indicator) {
        const common = {
          scope: SPLUNK_SCOPES.join(' '),
          accessTokenFormat: 'jwt',
          accessTokenTTL: accessTokenTtl,
          jwt: { sign: { alg: 'RS256' } },
        };
        if (indicator === SPLUNK_RESOURCE) return { ...common, audience: 'splunk' };
        if (isLoopbackResource(indicator)) return common;
        throw new errors.InvalidTarget(`unknown resource ${indicator}: use a loopback URL or ${SPLUNK_RESOURCE}`);
      },
    },
  },
});

const exchange = await registerExchange(provider, {
  errors,
  signingKey: keys.signing,
  audiences: exchangeAudiences,
  exchangeClients: EXCHANGE_CLIENTS,
  resourceScopes: SPLUNK_SCOPES.join(' '),
  accessTokenTtl,
  user: (sub) => (Object.hasOwn(USERS, sub) ? userClaims(sub) : undefined),
});

for (const event of ['server_error', 'grant.error', 'authorization.error', 'introspection.error', 'revocation.error', 'registration_create.error']) {
  provider.on(event, (_ctx, err) => console.error(`idp: ${event}: ${err.message}${err.error_description ? ` (${err.error_description})` : ''}`));
}

/** Answers `/interaction/{uid}` and `/interaction/{uid}/login?user=NAME`: no human needed. */
async function interaction(req, res) {
  const url = new URL(req.url, issuer);
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session, uid } = details;

  if (prompt.name === 'login') {
    const chosen = url.pathname.endsWith('/login') ? url.searchParams.get('user') : params.login_hint;
    if (!chosen) return picker(res, uid, params);
    const accountId = userFromHint(chosen);
    const result = accountId
      ? { login: { accountId } }
      : { error: 'access_denied', error_description: `unknown test user ${chosen}` };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }

  if (prompt.name === 'consent') {
    // Consent is given automatically, for exactly what is missing from the grant.
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  res.statusCode = 501;
  res.end(`prompt ${prompt.name} is not supported by the test IdP\n`);
}

/** The largest body `testControl` reads. */
const MAX_TEST_BODY_BYTES = 64 * 1024;

/**
 * The test-only endpoints, on the issuer's own listener: `method`, a path pattern whose groups
 * are passed to `handle` after the JSON body (`undefined` for GET), and an example body for
 * error messages. `handle` answers a JSON value (200) or throws a `TestRequestError` (400).
 */
const TEST_ENDPOINTS = [
  {
    method: 'PUT',
    path: '/test/users/{name}/groups',
    pattern: /^\/test\/users\/([^/]+)\/groups$/u,
    example: '["admins"]',
    handle: setGroups,
  },
  { method: 'GET', path: '/test/exchanges', pattern: /^\/test\/exchanges$/u, handle: () => exchange.counts() },
  {
    method: 'PUT',
    path: '/test/idjag-clients/{idp-client-id}',
    pattern: /^\/test\/idjag-clients\/([^/]+)$/u,
    example: '"the-client-id-at-the-audience"',
    handle: (body, id) => exchange.setIdJagClient(decodePathSegment(id), body),
  },
  {
    method: 'POST',
    path: '/test/id-jag',
    pattern: /^\/test\/id-jag$/u,
    example: '{"user":"alice","client_id":"c","audience":"http://127.0.0.1:8000"}',
    handle: (body) => exchange.forgeIdJag(body),
  },
];

function decodePathSegment(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new TestRequestError(`${segment} is not a well-formed URL path segment`);
  }
}

/** Answers a request under `/test/`: one of `TEST_ENDPOINTS`, or 404, 405 or 400. */
async function testControl(req, res, path) {
  const endpoint = TEST_ENDPOINTS.find(({ pattern }) => pattern.test(path));
  if (!endpoint) {
    return sendJson(res, 404, {
      error: 'not_found',
      error_description: `no test endpoint ${path}; there are ${TEST_ENDPOINTS.map((e) => `${e.method} ${e.path}`).join(', ')}`,
    });
  }
  if (req.method !== endpoint.method) {
    res.setHeader('Allow', endpoint.method);
    return sendJson(res, 405, {
      error: 'method_not_allowed',
      error_description: `${req.method} ${path}: use ${endpoint.method}`,
    });
  }
  // The body is read before anything is refused, so the connection stays usable.
  const text = await readBody(req, MAX_TEST_BODY_BYTES);
  const refuse = (description) => sendJson(res, 400, {
    error: 'invalid_request',
    error_description: description,
  });
  if (text === undefined) return refuse(`the body is larger than ${MAX_TEST_BODY_BYTES} bytes`);
  let body;
  if (endpoint.method !== 'GET') {
    try {
      body = JSON.parse(text);
    } catch (err) {
      return refuse(`the body is not JSON (${err.message}); send e.g. ${endpoint.example}`);
    }
  }
  try {
    return sendJson(res, 200, await endpoint.handle(body, ...endpoint.pattern.exec(path).slice(1)));
  } catch (err) {
    if (err instanceof TestRequestError) return refuse(err.message);
    throw err;
  }
}

/**
 * `PUT /test/users/{name}/groups`, whose body is a JSON array of strings: that user's groups
 * from now on. Claims are read from `USERS` whenever a token or userinfo is issued, so
 * everything issued afterwards (code and refresh grants alike) carries the new groups, which is
 * how a test removes a user from a group mid-session. Test-only, like the whole IdP.
 */
function setGroups(groups, name) {
  if (!Object.hasOwn(USERS, name)) {
    throw new TestRequestError(`unknown test user ${name}; the users are ${Object.keys(USERS).join(', ')}`);
  }
  if (!Array.isArray(groups) || !groups.every((group) => typeof group === 'string')) {
    throw new TestRequestError(`the body must be a JSON array of strings, e.g. ["admins"]; got ${JSON.stringify(groups)}`);
  }
  USERS[name].groups = [...groups];
  console.error(`idp: ${name}'s groups are now ${JSON.stringify(groups)}`);
  return { user: name, groups };
}

/** The request body as text, or `undefined` when it exceeds `limit` bytes (still drained). */
async function readBody(req, limit) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return size <= limit ? Buffer.concat(chunks).toString('utf8') : undefined;
}

function sendJson(res, status, value) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`${JSON.stringify(value)}\n`);
}

/** Without a `login_hint`: a page of one link per user, for the demo and for browsers. */
function picker(res, uid, params) {
  const links = Object.keys(USERS).map((name) => {
    const href = `/interaction/${encodeURIComponent(uid)}/login?user=${name}`;
    return `<li><a id="user-${name}" href="${escapeHtml(href)}">Sign in as ${name}</a> (groups: ${escapeHtml(USERS[name].groups.join(', ') || 'none')})</li>`;
  }).join('\n');
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`<!doctype html>
<html><head><meta charset="utf-8"><title>Test IdP sign-in</title></head>
<body><h1>Test IdP</h1><p>Client <code>${escapeHtml(params.client_id)}</code> asks for <code>${escapeHtml(params.scope ?? '')}</code>.</p>
<ul>
${links}
</ul></body></html>
`);
}

process.stdout.write(`${issuer}\n`);

function stop() {
  saveState();
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
