// A self-test of the IdP's token exchange (exchange.mjs): starts `idp.mjs`, signs users in
// through the automated login, and exercises every success and refusal of RFC 8693 exchange,
// Entra on-behalf-of, ID-JAG issuance and the test-only endpoints, checking the tokens'
// signatures against /jwks. Exits non-zero at the first failed check.
//
//   node tests/idp/exchange-selftest.mjs

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';

const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TT = (name) => `urn:ietf:params:oauth:token-type:${name}`;
const REDIRECT_URI = 'http://127.0.0.1:9/callback';
const MCP = 'http://127.0.0.1:8000/mcp';
const TTL = 120;
const SPLUNK_MCP = { id: 'splunk-mcp', secret: 'splunk-mcp-secret' };
const NO_EXCHANGE = { id: 'no-exchange', secret: 'no-exchange-secret' };
const PUBLIC = { id: 'test-public' };

const idp = spawn(process.execPath, [
  new URL('idp.mjs', import.meta.url).pathname, '--port', '0', '--extra-audience', 'splunk',
  '--exchange-audience', 'reports', '--access-token-ttl', String(TTL),
], { stdio: ['ignore', 'pipe', process.env.IDP_LOG ? 'inherit' : 'ignore'] });
const [issuer] = await once(createInterface({ input: idp.stdout }), 'line');
const keys = createRemoteJWKSet(new URL(`${issuer}/jwks`));
let checks = 0;

/** Signs `user` in as `client` through the automated login: the token endpoint's JSON. */
async function signIn(client, user, scope = 'openid profile email splunk:read splunk:search') {
  const verifier = randomBytes(32).toString('base64url');
  const cookies = new Map();
  let url = new URL(`${issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: client.id, response_type: 'code', redirect_uri: REDIRECT_URI, scope, resource: MCP,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256', state: 's', login_hint: user, prompt: 'consent',
  });
  while (!url.href.startsWith(REDIRECT_URI)) {
    const cookie = [...cookies].filter(([, c]) => url.pathname.startsWith(c.path))
      .map(([name, c]) => `${name}=${c.value}`).join('; ');
    const res = await fetch(url, { redirect: 'manual', headers: { cookie } });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const path = attributes.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='));
      const at = pair.indexOf('=');
      cookies.set(pair.slice(0, at), { value: pair.slice(at + 1), path: path?.slice(5) ?? '/' });
    }
    assert.ok(res.status >= 300 && res.status < 400, `sign-in stopped at ${url} with ${res.status}`);
    url = new URL(res.headers.get('location'), url);
  }
  const { status, body } = await token(client, {
    grant_type: 'authorization_code', code: url.searchParams.get('code'), redirect_uri: REDIRECT_URI,
    code_verifier: verifier, resource: MCP,
  });
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

/** A token request as `client` (HTTP Basic, or client_secret_post with `post`). */
async function token(client, params, { post = false } = {}) {
  const form = new URLSearchParams(params);
  const headers = {};
  if (!client.secret) form.set('client_id', client.id);
  else if (post) form.set('client_id', client.id), form.set('client_secret', client.secret);
  else headers.authorization = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
  const res = await fetch(`${issuer}/token`, { method: 'POST', body: form, headers });
  return { status: res.status, body: await res.json() };
}

/** A test-only endpoint request with `body` as JSON, or `raw` as the body text. */
async function test(method, path, body, raw = body === undefined ? undefined : JSON.stringify(body)) {
  const res = await fetch(`${issuer}${path}`, {
    method, headers: { 'content-type': 'application/json' }, body: raw,
  });
  return { status: res.status, body: await res.json() };
}

/** Expects an OAuth error `error` whose description contains `says`. */
function refused({ status, body }, error, says, what) {
  assert.equal(status, error === 'invalid_client' ? 401 : 400, `${what}: ${JSON.stringify(body)}`);
  assert.equal(body.error, error, `${what}: ${JSON.stringify(body)}`);
  assert.ok(body.error_description?.includes(says), `${what}: ${JSON.stringify(body)}`);
  checks += 1;
}

const exchange = (client, subject, extra = {}, options = {}) => token(client, {
  grant_type: TE, subject_token: subject, subject_token_type: TT('access_token'), audience: 'splunk', ...extra,
}, options);
const obo = (client, assertion, extra = {}) => token(client, {
  grant_type: JWT_BEARER, requested_token_use: 'on_behalf_of', assertion, scope: 'splunk/.default', ...extra,
});
const idJag = (client, subject, extra = {}) => token(client, {
  grant_type: TE, requested_token_type: TT('id-jag'), subject_token: subject,
  subject_token_type: TT('id_token'), audience: 'http://127.0.0.1:9999', ...extra,
});
const forge = async (spec) => (await test('POST', '/test/id-jag', spec)).body.id_jag;

/** Verifies an exchanged access token at /jwks and checks its claims. */
async function checkExchanged(accessToken, { sub, aud, scope, groups }) {
  const { payload, protectedHeader } = await jwtVerify(accessToken, keys, { issuer, audience: aud });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(protectedHeader.typ, 'at+jwt');
  assert.equal(payload.aud, aud, 'aud is the one requested audience, a string');
  assert.equal(payload.sub, sub);
  assert.equal(payload.client_id, 'splunk-mcp');
  assert.deepEqual(payload.act, { sub: 'splunk-mcp' });
  assert.equal(payload.scope, scope);
  assert.equal(payload.preferred_username, sub);
  assert.equal(payload.email, `${sub}@example.com`);
  assert.deepEqual(payload.groups, groups);
  assert.equal(payload.exp - payload.iat, TTL);
  assert.ok(payload.jti);
  checks += 1;
}

try {
  const alice = await signIn(PUBLIC, 'alice');
  const bob = await signIn(SPLUNK_MCP, 'bob');
  const expired = await forge({ user: 'alice', client_id: 'test-public', audience: MCP, typ: 'at+jwt', exp_offset_seconds: -60, scope: 'splunk:read' });
  const foreign = await forge({ user: 'alice', client_id: 'test-public', audience: MCP, typ: 'at+jwt', iss: 'http://127.0.0.1:1' });
  const [head, payload] = alice.access_token.split('.');
  const tampered = `${head}.${payload}.${'A'.repeat(342)}`;
  const service = (await token(SPLUNK_MCP, { grant_type: 'client_credentials', scope: 'splunk:read', resource: MCP })).body.access_token;

  assert.deepEqual(decodeJwt(alice.access_token).aud, [MCP, 'splunk'], 'the --extra-audience');

  // RFC 8693: success paths.
  let answer = await exchange(SPLUNK_MCP, alice.access_token);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.body.issued_token_type, TT('access_token'));
  assert.equal(answer.body.token_type, 'Bearer');
  assert.equal(answer.body.expires_in, TTL);
  await checkExchanged(answer.body.access_token, { sub: 'alice', aud: 'splunk', scope: 'splunk:read splunk:search', groups: ['analysts'] });
  answer = await exchange(SPLUNK_MCP, alice.access_token, { scope: 'splunk:read splunk:admin', subject_token_type: TT('jwt') }, { post: true });
  await checkExchanged(answer.body.access_token, { sub: 'alice', aud: 'splunk', scope: 'splunk:read', groups: ['analysts'] });
  answer = await exchange(SPLUNK_MCP, alice.access_token, { audience: 'reports' });
  await checkExchanged(answer.body.access_token, { sub: 'alice', aud: 'reports', scope: 'splunk:read splunk:search', groups: ['analysts'] });
  assert.equal((await test('PUT', '/test/users/alice/groups', ['admins'])).status, 200);
  answer = await token(SPLUNK_MCP, { grant_type: TE, subject_token: alice.access_token, subject_token_type: TT('access_token'), resource: 'urn:splunk', requested_token_type: TT('access_token') });
  await checkExchanged(answer.body.access_token, { sub: 'alice', aud: 'splunk', scope: 'splunk:read splunk:search', groups: ['admins'] });
  await test('PUT', '/test/users/alice/groups', ['analysts']);
  answer = await exchange(SPLUNK_MCP, alice.id_token, { subject_token_type: TT('jwt') });
  assert.equal(decodeJwt(answer.body.access_token).scope, undefined, 'an ID token holds no scope');

  // RFC 8693: refusals.
  refused(await exchange(NO_EXCHANGE, alice.access_token), 'unauthorized_client', 'not allowed to exchange', 'no-exchange');
  refused(await exchange(PUBLIC, alice.access_token), 'unauthorized_client', 'not allowed to exchange', 'public client');
  refused(await exchange({ ...SPLUNK_MCP, secret: 'wrong' }, alice.access_token), 'invalid_client', 'client authentication failed', 'wrong secret');
  refused(await exchange(SPLUNK_MCP, expired), 'invalid_grant', 'subject_token expired at', 'expired');
  refused(await exchange(SPLUNK_MCP, foreign), 'invalid_grant', 'was issued by http://127.0.0.1:1, not by this IdP', 'foreign issuer');
  refused(await exchange(SPLUNK_MCP, tampered), 'invalid_grant', 'not signed by this IdP', 'bad signature');
  refused(await exchange(SPLUNK_MCP, 'not-a-jwt'), 'invalid_grant', 'is not a JWT', 'not a JWT');
  refused(await exchange(SPLUNK_MCP, alice.id_token), 'invalid_grant', 'must be this IdP\'s access token, not its ID token', 'ID token as access token');
  refused(await exchange(SPLUNK_MCP, await forge({ user: 'alice', client_id: 'x', audience: 'splunk' }), { subject_token_type: TT('jwt') }), 'invalid_grant', 'not its JWT of typ oauth-id-jag+jwt', 'ID-JAG as subject');
  refused(await exchange(SPLUNK_MCP, service), 'invalid_grant', 'is about splunk-mcp, not a user', 'client token');
  refused(await exchange(SPLUNK_MCP, alice.access_token, { audience: 'elsewhere' }), 'invalid_target', 'elsewhere is not an audience', 'audience');
  refused(await exchange(SPLUNK_MCP, alice.access_token, { audience: '' }), 'invalid_target', 'audience (or resource) is required', 'no audience');
  refused(await exchange(SPLUNK_MCP, alice.access_token, { scope: 'splunk:admin' }), 'invalid_scope', 'holds none of the requested scopes', 'scope');
  refused(await exchange(SPLUNK_MCP, alice.access_token, { requested_token_type: TT('refresh_token') }), 'invalid_request', 'unsupported requested_token_type', 'requested type');
  refused(await exchange(SPLUNK_MCP, alice.access_token, { subject_token_type: TT('saml2') }), 'invalid_request', 'unsupported subject_token_type', 'subject type');
  refused(await exchange(SPLUNK_MCP, alice.id_token, { subject_token_type: TT('id_token') }), 'invalid_request', 'for an ID-JAG only', 'ID token for access token');
  refused(await exchange(SPLUNK_MCP, ''), 'invalid_request', 'subject_token', 'no subject');

  // Entra on-behalf-of.
  answer = await obo(SPLUNK_MCP, alice.access_token);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.body.token_type, 'Bearer');
  assert.equal(answer.body.expires_in, TTL);
  await checkExchanged(answer.body.access_token, { sub: 'alice', aud: 'splunk', scope: 'splunk:read splunk:search', groups: ['analysts'] });
  answer = await obo(SPLUNK_MCP, bob.access_token, { scope: 'reports/.default offline_access' });
  await checkExchanged(answer.body.access_token, { sub: 'bob', aud: 'reports', scope: 'splunk:read splunk:search', groups: ['admins'] });
  refused(await obo(NO_EXCHANGE, alice.access_token), 'unauthorized_client', 'not allowed to exchange', 'OBO no-exchange');
  refused(await obo(SPLUNK_MCP, expired), 'invalid_grant', 'assertion expired at', 'OBO expired');
  refused(await obo(SPLUNK_MCP, alice.id_token), 'invalid_grant', 'assertion must be this IdP\'s access token', 'OBO ID token');
  refused(await obo(SPLUNK_MCP, alice.access_token, { scope: 'splunk' }), 'invalid_scope', 'exactly one AUDIENCE/.default', 'OBO scope');
  refused(await obo(SPLUNK_MCP, alice.access_token, { scope: 'elsewhere/.default' }), 'invalid_scope', 'elsewhere is not an audience', 'OBO audience');
  refused(await obo(SPLUNK_MCP, alice.access_token, { requested_token_use: 'other' }), 'invalid_request', 'requested_token_use must be on_behalf_of', 'OBO use');

  // ID-JAG issuance.
  answer = await idJag(PUBLIC, alice.id_token, { resource: 'http://127.0.0.1:9999/mcp', scope: 'splunk:read' });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.deepEqual({ ...answer.body, access_token: undefined }, { access_token: undefined, issued_token_type: TT('id-jag'), token_type: 'N_A', expires_in: 300, scope: 'splunk:read' });
  let verified = await jwtVerify(answer.body.access_token, keys, { issuer, audience: 'http://127.0.0.1:9999', typ: 'oauth-id-jag+jwt' });
  assert.equal(verified.protectedHeader.alg, 'RS256');
  assert.ok(verified.protectedHeader.kid);
  assert.deepEqual(
    { ...verified.payload, jti: typeof verified.payload.jti, iat: undefined, exp: verified.payload.exp - verified.payload.iat },
    { iss: issuer, sub: 'alice', aud: 'http://127.0.0.1:9999', client_id: 'test-public', jti: 'string', iat: undefined, exp: 300, resource: 'http://127.0.0.1:9999/mcp', scope: 'splunk:read', preferred_username: 'alice', name: 'Alice Example', email: 'alice@example.com', groups: ['analysts'] },
  );
  const firstJti = verified.payload.jti;
  assert.deepEqual((await test('PUT', '/test/idjag-clients/test-public', 'mcp-client-1')).body, { idp_client_id: 'test-public', client_id_at_audience: 'mcp-client-1' });
  answer = await idJag(PUBLIC, alice.access_token, { subject_token_type: TT('access_token') });
  verified = await jwtVerify(answer.body.access_token, keys, { issuer, typ: 'oauth-id-jag+jwt' });
  assert.equal(verified.payload.client_id, 'mcp-client-1');
  assert.notEqual(verified.payload.jti, firstJti);
  assert.equal(verified.payload.resource, undefined);
  assert.equal(verified.payload.scope, undefined);
  await test('PUT', '/test/idjag-clients/test-public', null);
  answer = await idJag(SPLUNK_MCP, bob.id_token);
  assert.equal(decodeJwt(answer.body.access_token).client_id, 'splunk-mcp');
  checks += 1;
  refused(await idJag(NO_EXCHANGE, bob.id_token), 'invalid_grant', 'issued to splunk-mcp, not to no-exchange', 'ID-JAG for another client\'s user');
  refused(await idJag(PUBLIC, alice.id_token, { audience: 'splunk' }), 'invalid_target', 'audience must be the http(s) issuer URL', 'ID-JAG audience');
  refused(await idJag(PUBLIC, alice.id_token, { resource: 'urn:splunk' }), 'invalid_target', 'resource must be an http(s) URL', 'ID-JAG resource');
  refused(await idJag(PUBLIC, expired, { subject_token_type: TT('access_token') }), 'invalid_grant', 'expired', 'ID-JAG expired subject');

  // Test-only endpoints.
  const forged = decodeJwt(await forge({ user: 'bob', client_id: 'c', audience: 'http://a', exp_offset_seconds: -10, jti: 'j1', scope: 's' }));
  assert.equal(forged.exp - forged.iat, 300);
  assert.ok(forged.exp < Date.now() / 1000);
  assert.equal(forged.jti, 'j1');
  const noTyp = (await test('POST', '/test/id-jag', { user: 'bob', client_id: 'c', audience: 'http://a', typ: null })).body.id_jag;
  assert.equal(JSON.parse(Buffer.from(noTyp.split('.')[0], 'base64url')).typ, undefined);
  for (const [method, path, body, status, says, raw] of [
    ['POST', '/test/id-jag', { user: 'mallory', client_id: 'c', audience: 'a' }, 400, 'user must be a test user'],
    ['POST', '/test/id-jag', { user: 'bob', audience: 'a' }, 400, 'client_id must be a non-empty string'],
    ['POST', '/test/id-jag', { user: 'bob', client_id: 'c', audience: 'a', exp_offset_seconds: 'x' }, 400, 'exp_offset_seconds must be an integer'],
    ['POST', '/test/id-jag', undefined, 400, 'not JSON', '[1'],
    ['PUT', '/test/idjag-clients/nobody', 'x', 400, 'no client nobody'],
    ['PUT', '/test/idjag-clients/test-public', 5, 400, 'JSON string'],
    ['GET', '/test/id-jag', undefined, 405, 'use POST'],
    ['GET', '/test/nothing', undefined, 404, 'GET /test/exchanges'],
  ]) {
    const res = await test(method, path, body, raw);
    assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assert.ok(res.body.error_description.includes(says), `${method} ${path}: ${JSON.stringify(res.body)}`);
    checks += 1;
  }
  assert.deepEqual((await test('GET', '/test/exchanges')).body, { count: 7, refused: 26, id_jags: 3 });
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  assert.ok(discovery.grant_types_supported.includes(TE) && discovery.grant_types_supported.includes(JWT_BEARER));
  console.log(`exchange self-test: ${checks} checks passed against ${issuer}`);
} finally {
  idp.kill('SIGTERM');
}
