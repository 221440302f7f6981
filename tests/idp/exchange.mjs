// Token exchange at the test IdP's /token, as the IdPs splunk-mcp meets in production do it:
//
// - RFC 8693 token exchange (Okta, Keycloak, Auth0): a user's access token for a JWT access
//   token whose audience is another API (Splunk), asked for by an allowed confidential client;
// - Entra ID's on-behalf-of flow (the jwt-bearer grant with `requested_token_use=on_behalf_of`
//   and `scope=AUDIENCE/.default`), answering with the same kind of token;
// - ID-JAG issuance (the Identity Assertion JWT Authorization Grant, the MCP "enterprise-managed
//   authorization" extension): by RFC 8693 with `requested_token_type=...:id-jag`, any client
//   gets a short-lived signed assertion about its own user for another authorization server.
//
// Both grants are oidc-provider extension points (`registerGrantType`); exchanged access tokens
// are oidc-provider's own `AccessToken`s for a resource server with the JWT format, so they look
// like every other access token of this IdP, plus `act`. See README.md.

import { randomUUID } from 'node:crypto';
import { SignJWT, createLocalJWKSet, errors as joseErrors, importJWK, jwtVerify } from 'jose';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
/** The JWT `typ` of an ID-JAG. */
const ID_JAG_TYP = 'oauth-id-jag+jwt';
/** Lifetime of an ID-JAG in seconds. */
const ID_JAG_TTL = 300;
/** `gty` of exchanged access tokens; the JWT customizer recognises them by it. */
const EXCHANGED_GTY = 'token-exchange';
/** The suffix of an Entra on-behalf-of scope, `AUDIENCE/.default`. */
const DEFAULT_SCOPE_SUFFIX = '/.default';

/** The kinds of subject token each `subject_token_type` stands for. */
const SUBJECT_KINDS = {
  [ACCESS_TOKEN_TYPE]: ['access token'],
  [JWT_TYPE]: ['access token', 'ID token'],
  [ID_TOKEN_TYPE]: ['ID token'],
};

/**
 * Customizes the JWT of an exchanged access token (oidc-provider's `formats.customizers.jwt`):
 * `act` names the client that exchanged it (RFC 8693 §4.1) and `aud` stays the one requested
 * audience, without `--extra-audience`. Returns whether `token` was an exchanged one.
 */
export function customizeExchangedJwt(token, jwt) {
  if (token.gty !== EXCHANGED_GTY) return false;
  jwt.payload.act = { sub: token.clientId };
  return true;
}

/** A refusal of a test-only request: 400 with `invalid_request` and this description. */
export class TestRequestError extends Error {}

/**
 * Registers the token-exchange and jwt-bearer grants with `provider` (call it before the first
 * request, as static clients' `grant_types` are checked against the registered grants).
 *
 * - `errors`: oidc-provider's error classes;
 * - `signingKey`: the IdP's private signing JWK (with `kid`), for ID-JAGs and for checking
 *   subject tokens;
 * - `audiences`: the audiences exchanged access tokens may be issued for;
 * - `exchangeClients`: ids of the clients allowed to exchange tokens for those audiences (any
 *   client may ask for an ID-JAG);
 * - `resourceScopes`: the scopes exchanged access tokens may carry (space-separated);
 * - `accessTokenTtl`: their lifetime in seconds;
 * - `user(sub)`: the current claims of a test user, or `undefined` for no such user.
 *
 * Returns what the test-only endpoints need: `counts()`, `setIdJagClient(id, value)` and
 * `forgeIdJag(spec)`.
 */
export async function registerExchange(provider, {
  errors, signingKey, audiences, exchangeClients, resourceScopes, accessTokenTtl, user,
}) {
  const { issuer } = provider;
  const { d, p, q, dp, dq, qi, ...publicJwk } = signingKey;
  const ownKeys = createLocalJWKSet({ keys: [publicJwk] });
  const privateKey = await importJWK(signingKey, 'RS256');
  /** IdP client id → its client id at the ID-JAG's audience (`PUT /test/idjag-clients/...`). */
  const idJagClients = new Map();
  const counts = { exchanges: 0, refused: 0, idJags: 0 };

  const invalidGrant = (description) => new errors.CustomOIDCProviderError('invalid_grant', description);

  function required(params, ...names) {
    const missing = names.filter((name) => !params[name]);
    if (missing.length > 0) {
      throw new errors.InvalidRequest(`missing required parameter(s) ${missing.join(', ')}`);
    }
  }

  function refuseUnlessExchanger(client) {
    if (!exchangeClients.has(client.clientId)) {
      throw new errors.UnauthorizedClient(`client ${client.clientId} is not allowed to exchange tokens`);
    }
  }

  /**
   * Verifies a subject token (or on-behalf-of assertion) named `param`: a JWT of this IdP
   * (signature by its key, `iss`, `exp`), of one of `kinds`, about a test user. Returns its
   * kind and claims.
   */
  async function verifySubject(token, kinds, param) {
    let verified;
    try {
      verified = await jwtVerify(token, ownKeys, { issuer, algorithms: ['RS256'] });
    } catch (err) {
      throw invalidGrant(`${param} ${subjectProblem(err)}`);
    }
    const { payload: claims, protectedHeader: { typ } } = verified;
    const kind = typ === 'at+jwt' ? 'access token'
      : typ === undefined || typ.toUpperCase() === 'JWT' ? 'ID token'
        : `JWT of typ ${typ}`;
    if (!kinds.includes(kind)) {
      throw invalidGrant(`${param} must be this IdP's ${kinds.join(' or ')}, not its ${kind}`);
    }
    if (typeof claims.sub !== 'string' || user(claims.sub) === undefined) {
      throw invalidGrant(`${param} is about ${claims.sub}, not a user of this IdP (a client's own token cannot be exchanged)`);
    }
    return { kind, claims };
  }

  function subjectProblem(err) {
    if (err instanceof joseErrors.JWTExpired) {
      return `expired at ${new Date(err.payload.exp * 1000).toISOString()}`;
    }
    if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'iss') {
      return `was issued by ${err.payload.iss}, not by this IdP (${issuer})`;
    }
    if (err instanceof joseErrors.JWSSignatureVerificationFailed
      || err instanceof joseErrors.JWKSNoMatchingKey) {
      return 'is not signed by this IdP\'s key';
    }
    if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'is not signed with RS256';
    if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) {
      return `is not a JWT (${err.message})`;
    }
    return `is invalid (${err.message})`;
  }

  function checkAudience(audience, errorClass) {
    if (!audiences.has(audience)) {
      throw new errorClass(`${audience} is not an audience this IdP exchanges tokens for; allowed: ${[...audiences].join(', ')}`);
    }
    return audience;
  }

  /** The `scope` of an exchanged token: the requested scopes the subject holds, or all of them. */
  function narrowScope(subjectScope, requested) {
    const held = new Set(typeof subjectScope === 'string' ? subjectScope.split(' ').filter(Boolean) : []);
    if (!requested) return [...held].join(' ');
    const granted = requested.split(' ').filter((scope) => held.has(scope));
    if (granted.length === 0) {
      throw new errors.InvalidScope(`the subject token holds none of the requested scopes ${requested} (it has: ${[...held].join(' ') || 'none'})`, requested);
    }
    return [...new Set(granted)].join(' ');
  }

  /** An oidc-provider JWT access token for `audience` about the subject, for `client`. */
  async function exchangedAccessToken(ctx, subject, audience, scope) {
    const resourceServer = new provider.ResourceServer(audience, {
      audience,
      scope: resourceScopes,
      accessTokenFormat: 'jwt',
      accessTokenTTL: accessTokenTtl,
      jwt: { sign: { alg: 'RS256' } },
    });
    const token = new provider.AccessToken({
      accountId: subject.claims.sub,
      client: ctx.oidc.client,
      gty: EXCHANGED_GTY,
      scope: scope || undefined,
      resourceServer,
    });
    ctx.oidc.entity('AccessToken', token);
    const value = await token.save();
    counts.exchanges += 1;
    console.error(`idp: exchanged ${subject.claims.sub}'s ${subject.kind} for ${ctx.oidc.client.clientId}, aud ${audience}`);
    return { value, expiresIn: token.expiration, scope };
  }

  /** `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693). */
  async function tokenExchange(ctx) {
    const { params, client } = ctx.oidc;
    required(params, 'subject_token', 'subject_token_type');
    const kinds = SUBJECT_KINDS[params.subject_token_type];
    if (!kinds) {
      throw new errors.InvalidRequest(`unsupported subject_token_type ${params.subject_token_type}; use ${Object.keys(SUBJECT_KINDS).join(', ')}`);
    }
    if (params.requested_token_type === ID_JAG_TYPE) return issueIdJag(ctx, kinds);
    if (![undefined, ACCESS_TOKEN_TYPE, JWT_TYPE].includes(params.requested_token_type)) {
      throw new errors.InvalidRequest(`unsupported requested_token_type ${params.requested_token_type}; use ${ACCESS_TOKEN_TYPE} (the default) or ${ID_JAG_TYPE}`);
    }
    if (params.subject_token_type === ID_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`an ID token can be exchanged for an ID-JAG only (requested_token_type ${ID_JAG_TYPE})`);
    }
    refuseUnlessExchanger(client);
    const subject = await verifySubject(params.subject_token, kinds, 'subject_token');
    // `resource=urn:splunk` names Splunk as it does at the authorization endpoint.
    const target = params.audience
      ?? (params.resource === 'urn:splunk' ? 'splunk' : params.resource);
    if (!target) {
      throw new errors.InvalidTarget(`audience (or resource) is required; allowed: ${[...audiences].join(', ')}`);
    }
    const audience = checkAudience(target, errors.InvalidTarget);
    const scope = narrowScope(subject.claims.scope, params.scope);
    const token = await exchangedAccessToken(ctx, subject, audience, scope);
    ctx.body = {
      access_token: token.value,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: token.expiresIn,
      ...(token.scope ? { scope: token.scope } : undefined),
    };
  }

  /** `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` as Entra's on-behalf-of flow. */
  async function onBehalfOf(ctx) {
    const { params, client } = ctx.oidc;
    required(params, 'assertion', 'requested_token_use', 'scope');
    if (params.requested_token_use !== 'on_behalf_of') {
      throw new errors.InvalidRequest(`requested_token_use must be on_behalf_of, got ${params.requested_token_use}`);
    }
    refuseUnlessExchanger(client);
    const subject = await verifySubject(params.assertion, ['access token'], 'assertion');
    const targets = params.scope.split(' ').filter((scope) => scope.endsWith(DEFAULT_SCOPE_SUFFIX));
    if (targets.length !== 1) {
      throw new errors.InvalidScope(`scope must name exactly one AUDIENCE${DEFAULT_SCOPE_SUFFIX}, e.g. splunk${DEFAULT_SCOPE_SUFFIX}; got ${params.scope}`, params.scope);
    }
    const audience = checkAudience(targets[0].slice(0, -DEFAULT_SCOPE_SUFFIX.length), errors.InvalidScope);
    const scope = narrowScope(subject.claims.scope, undefined);
    const token = await exchangedAccessToken(ctx, subject, audience, scope);
    ctx.body = {
      token_type: 'Bearer',
      ...(token.scope ? { scope: token.scope } : undefined),
      expires_in: token.expiresIn,
      access_token: token.value,
    };
  }

  /** RFC 8693 with `requested_token_type=...:id-jag`: an ID-JAG for the client's own user. */
  async function issueIdJag(ctx, kinds) {
    const { params, client } = ctx.oidc;
    const subject = await verifySubject(params.subject_token, kinds, 'subject_token');
    const issuedTo = subject.kind === 'ID token' ? [subject.claims.aud].flat() : [subject.claims.client_id];
    if (!issuedTo.includes(client.clientId)) {
      throw invalidGrant(`subject_token was issued to ${issuedTo.join(', ')}, not to ${client.clientId}; a client gets an ID-JAG for its own user only`);
    }
    if (!params.audience || !isHttpUrl(params.audience)) {
      throw new errors.InvalidTarget('audience must be the http(s) issuer URL of the authorization server the ID-JAG is for');
    }
    if (params.resource !== undefined && !isHttpUrl(params.resource)) {
      throw new errors.InvalidTarget('resource must be an http(s) URL (the MCP server\'s)');
    }
    const now = Math.floor(Date.now() / 1000);
    const idJag = await signIdJag({
      sub: subject.claims.sub,
      clientId: idJagClients.get(client.clientId) ?? client.clientId,
      audience: params.audience,
      resource: params.resource,
      scope: params.scope,
      iat: now,
      exp: now + ID_JAG_TTL,
    });
    counts.idJags += 1;
    console.error(`idp: issued an ID-JAG about ${subject.claims.sub} to ${client.clientId} for ${params.audience}`);
    ctx.body = {
      access_token: idJag,
      issued_token_type: ID_JAG_TYPE,
      token_type: 'N_A',
      expires_in: ID_JAG_TTL,
      ...(params.scope ? { scope: params.scope } : undefined),
    };
  }

  async function signIdJag({
    iss = issuer, sub, clientId, audience, resource, scope, iat, exp, jti = randomUUID(),
    typ = ID_JAG_TYP,
  }) {
    const profile = user(sub);
    const claims = {
      iss,
      sub,
      aud: audience,
      client_id: clientId,
      jti,
      iat,
      exp,
      ...(resource ? { resource } : undefined),
      ...(scope ? { scope } : undefined),
      preferred_username: profile.preferred_username,
      name: profile.name,
      email: profile.email,
      groups: profile.groups,
    };
    const header = { alg: 'RS256', kid: signingKey.kid, ...(typ === null ? undefined : { typ }) };
    return new SignJWT(claims).setProtectedHeader(header).sign(privateKey);
  }

  /** Counts refusals by the exchange handlers themselves (not client authentication's). */
  const counted = (handler) => async (ctx) => {
    try {
      await handler(ctx);
    } catch (err) {
      counts.refused += 1;
      throw err;
    }
  };

  provider.registerGrantType(TOKEN_EXCHANGE, counted(tokenExchange), [
    'subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'resource', 'scope',
  ]);
  provider.registerGrantType(JWT_BEARER, counted(onBehalfOf), ['assertion', 'requested_token_use', 'scope']);

  return {
    /** `GET /test/exchanges`: how many exchanges were served and refused, ID-JAGs issued. */
    counts: () => ({ count: counts.exchanges, refused: counts.refused, id_jags: counts.idJags }),

    /**
     * `PUT /test/idjag-clients/{id}`: `value` (a string) is the `client_id` of ID-JAGs issued
     * to IdP client `id` from now on; `null` restores the default, `id` itself.
     */
    async setIdJagClient(id, value) {
      if (value !== null && (typeof value !== 'string' || value === '')) {
        throw new TestRequestError(`the body must be a JSON string (the client id at the audience) or null; got ${JSON.stringify(value)}`);
      }
      if (!await provider.Client.find(id)) {
        throw new TestRequestError(`no client ${id} at this IdP`);
      }
      if (value === null) idJagClients.delete(id);
      else idJagClients.set(id, value);
      console.error(`idp: ID-JAGs for ${id} name client_id ${value ?? id}`);
      return { idp_client_id: id, client_id_at_audience: value ?? id };
    },

    /**
     * `POST /test/id-jag`: an ID-JAG signed with the IdP's key as `spec` says, valid or not:
     * `{user, client_id, audience, resource?, scope?, exp_offset_seconds? (300), typ? (null: no
     * typ), iss?, jti?}`. `exp` is now + `exp_offset_seconds`; `iat` is `exp` - 300, or now if
     * that is later.
     */
    async forgeIdJag(spec) {
      if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
        throw new TestRequestError('the body must be a JSON object {user, client_id, audience, ...}');
      }
      const {
        user: sub, client_id: clientId, audience, resource, scope, exp_offset_seconds: offset = ID_JAG_TTL,
        typ, iss, jti,
      } = spec;
      if (typeof sub !== 'string' || user(sub) === undefined) {
        throw new TestRequestError(`user must be a test user, got ${JSON.stringify(sub)}`);
      }
      for (const [name, value, optional] of [
        ['client_id', clientId, false], ['audience', audience, false], ['resource', resource, true],
        ['scope', scope, true], ['iss', iss, true], ['jti', jti, true],
      ]) {
        if (!(optional && value === undefined) && (typeof value !== 'string' || value === '')) {
          throw new TestRequestError(`${name} must be a non-empty string${optional ? ' when given' : ''}, got ${JSON.stringify(value)}`);
        }
      }
      if (!Number.isInteger(offset)) {
        throw new TestRequestError(`exp_offset_seconds must be an integer, got ${JSON.stringify(offset)}`);
      }
      if (!(typ === undefined || typ === null || (typeof typ === 'string' && typ !== ''))) {
        throw new TestRequestError(`typ must be a non-empty string or null (no typ), got ${JSON.stringify(typ)}`);
      }
      const now = Math.floor(Date.now() / 1000);
      const exp = now + offset;
      const idJag = await signIdJag({
        iss, sub, clientId, audience, resource, scope, iat: Math.min(now, exp - ID_JAG_TTL), exp, jti, typ,
      });
      return { id_jag: idJag };
    },
  };
}

function isHttpUrl(value) {
  const url = URL.parse(value);
  return url !== null && (url.protocol === 'http:' || url.protocol === 'https:');
}
