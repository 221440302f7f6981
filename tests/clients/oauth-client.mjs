#!/usr/bin/env node
// The official TypeScript SDK client doing MCP authorization end to end against splunk-mcp in
// `proxy` mode: discovery, dynamic client registration (or a client ID metadata document), the
// browser step automated over plain HTTP (the consent form is approved, the IdP signs the user
// in through `login_hint`), the code exchange, then tools/list and one tools/call; optionally a
// forced refresh. See README.md.
//
//   node oauth-client.mjs --url URL --user USER [options] [call TOOL ['JSON_ARGS']]
//   node oauth-client.mjs --url URL --user USER [options] list
//
// Success: a JSON summary on one stdout line, exit 0; with `list`, the tools and their
// arguments as text for a person instead. Failure: `error: ...` lines on stderr (with the HTTP
// steps taken so far), exit 1. No token is ever printed; `--out` writes them to a file for the
// caller.

import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

import { parseJsonArgs } from './json-args.mjs';
import { renderTools } from './tool-listing.mjs';

const USAGE = `usage: node oauth-client.mjs --url URL [options] [call TOOL ['JSON_ARGS'] | list]
  --url URL                  the MCP endpoint, e.g. http://127.0.0.1:8000/mcp (or the last argument)
  --user USER                login_hint for the IdP (the test IdP signs USER in with no human)
  --scope SCOPE              ask for these scopes instead of the SDK's choice (PRM scopes_supported)
  --client-metadata-url URL  use this client ID metadata document URL as client_id instead of DCR
  --client-id ID             a pre-registered client (with --client-secret S for a confidential one)
  --client-name NAME         client_name to register (default splunk-mcp-oauth-test-client)
  --redirect-path PATH       path of the loopback redirect URI (default /callback)
  --deny                     press Deny on the consent page and report the error the client gets
  --refresh                  after the call, make the SDK refresh (its access token is spoiled,
                             the server's 401 makes it use the refresh token) and call again
  --out FILE                 write the tokens and client credentials (JSON) to FILE
  call TOOL ['JSON_ARGS']    the tool to call after tools/list (default: none)
  list                       print the tools with their arguments (types, required or not,
                             descriptions) as text, instead of the JSON summary`;

/** Parses argv; throws a usage error. */
function parseArgs(argv) {
  const options = {
    url: undefined,
    user: undefined,
    scope: undefined,
    clientMetadataUrl: undefined,
    clientName: 'splunk-mcp-oauth-test-client',
    redirectPath: '/callback',
    deny: false,
    refresh: false,
    out: undefined,
    clientId: undefined,
    clientSecret: undefined,
  };
  const valued = {
    '--url': 'url',
    '--user': 'user',
    '--scope': 'scope',
    '--client-metadata-url': 'clientMetadataUrl',
    '--client-name': 'clientName',
    '--redirect-path': 'redirectPath',
    '--out': 'out',
    '--client-id': 'clientId',
    '--client-secret': 'clientSecret',
  };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg in valued) {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      options[valued[arg]] = value;
    } else if (arg === '--refresh') {
      options.refresh = true;
    } else if (arg === '--deny') {
      options.deny = true;
    } else if (arg === '-h' || arg === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (arg.startsWith('--')) {
      throw new Error(`unknown option ${arg}\n${USAGE}`);
    } else {
      positional.push(arg);
    }
  }
  // The conformance suite's `client` command appends the server URL as the last argument.
  if (!options.url && /^https?:\/\//.test(positional.at(-1) ?? '')) options.url = positional.pop();
  if (!options.url) throw new Error(`--url is required\n${USAGE}`);
  const [command, tool, json, ...rest] = positional;
  if (command === undefined) return { ...options, tool: undefined };
  if (command === 'call' && tool && rest.length === 0) {
    const args = parseJsonArgs(json);
    return { ...options, tool, args };
  }
  if (command === 'list' && tool === undefined) {
    // --deny and --refresh report in the JSON summary, which `list` does not print.
    if (options.deny || options.refresh) {
      throw new Error(`list prints the tools; --deny and --refresh need the JSON summary\n${USAGE}`);
    }
    return { ...options, tool: undefined, list: true };
  }
  throw new Error(`expected nothing, \`call TOOL [JSON_ARGS]\` or \`list\`\n${USAGE}`);
}

/** Every HTTP exchange, as `METHOD origin/path STATUS` (never a query: codes and states live there). */
const trace = [];

/** Adds a grant type to /token entries, so the trace shows how tokens were obtained. */
function describeRequest(url, init, status) {
  const u = new URL(url);
  let line = `${init?.method ?? 'GET'} ${u.origin}${u.pathname} ${status}`;
  const body = init?.body;
  if (body instanceof URLSearchParams && body.get('grant_type')) {
    line += ` grant_type=${body.get('grant_type')}`;
  }
  return line;
}

/** fetch that records each exchange in `trace`; used by the SDK and by the browser step. */
async function tracingFetch(url, init) {
  const target = url instanceof Request ? url.url : String(url);
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    trace.push(describeRequest(target, init, 'failed'));
    throw error;
  }
  trace.push(describeRequest(target, init, response.status));
  return response;
}

/** Cookies per host (host:port), as a user agent keeps them: name -> value. */
class CookieJar {
  constructor() {
    this.hosts = new Map();
  }

  store(url, response) {
    const host = new URL(url).host;
    const cookies = this.hosts.get(host) ?? new Map();
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const expired = attributes.some((a) => {
        const [k, v = ''] = a.split('=');
        const key = k.trim().toLowerCase();
        return (key === 'max-age' && Number(v) <= 0) || (key === 'expires' && Date.parse(v) < Date.now());
      });
      if (expired || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
    this.hosts.set(host, cookies);
  }

  header(url) {
    const cookies = this.hosts.get(new URL(url).host);
    if (!cookies || cookies.size === 0) return undefined;
    return [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/** Decodes the HTML entities a server-rendered page uses in attribute values and text. */
function unescapeHtml(text) {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The attributes of one start tag, lowercased names, decoded values. */
function attributesOf(tag) {
  const attributes = {};
  const re = /([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
  const inner = tag.replace(/^<\s*[a-z]+/i, '').replace(/\/?>$/, '');
  for (const m of inner.matchAll(re)) {
    attributes[m[1].toLowerCase()] = unescapeHtml(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attributes;
}

/** The visible text of a page, whitespace collapsed. */
function pageText(html) {
  return unescapeHtml(
    html
      .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<[^>]+>/g, ' '),
  )
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * The consent form's submission for `decision` (approve or deny): its action, and its fields
 * (hidden inputs such as the consent id and CSRF token, plus the pressed button's name=value).
 * `undefined` when the page has no such form.
 */
function consentSubmission(html, pageUrl, decision) {
  for (const form of html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/gi)) {
    const formTag = form[0].match(/<form\b[^>]*>/i)[0];
    const formAttributes = attributesOf(formTag);
    if ((formAttributes.method ?? 'get').toLowerCase() !== 'post') continue;
    const fields = new URLSearchParams();
    let pressed;
    for (const m of form[0].matchAll(/<(input|button)\b[^>]*>/gi)) {
      const a = attributesOf(m[0]);
      const type = (a.type ?? (m[1].toLowerCase() === 'button' ? 'submit' : 'text')).toLowerCase();
      if (type === 'submit') {
        if (a.name && (a.value ?? '').toLowerCase() === decision) pressed = [a.name, a.value];
      } else if (a.name && type === 'hidden') {
        fields.append(a.name, a.value ?? '');
      }
    }
    // The decision is the pressed button's value, or a hidden field of a one-button form.
    const hiddenDecision = [...fields.values()].some((v) => v.toLowerCase() === decision);
    if (pressed || hiddenDecision) {
      if (pressed) fields.append(pressed[0], pressed[1]);
      return { action: new URL(formAttributes.action ?? pageUrl, pageUrl), fields };
    }
  }
  return undefined;
}

/** The browser step stopped before reaching the client's redirect URI. */
class BrowserStepError extends Error {}

/**
 * The user agent's part, automated over HTTP: GET the authorization URL, follow redirects
 * keeping cookies per host, submit the consent form, follow the IdP's redirects back through
 * the proxy's callback, and stop at the client's redirect URI (returned, not requested).
 */
async function browse(start, redirectUri, decision, consentPages) {
  const jar = new CookieJar();
  const isRedirectUri = (url) =>
    url.origin === redirectUri.origin && url.pathname === redirectUri.pathname;
  let url = start;
  let init = { method: 'GET' };
  for (let hop = 0; hop < 30; hop++) {
    const headers = new Headers(init.headers);
    const cookie = jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    const response = await tracingFetch(url, { ...init, headers, redirect: 'manual' });
    jar.store(url, response);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      const next = new URL(location, url);
      if (isRedirectUri(next)) return next;
      url = next;
      init = { method: 'GET' };
      continue;
    }
    const html = await response.text();
    const submission = response.ok ? consentSubmission(html, url, decision) : undefined;
    if (!submission) {
      throw new BrowserStepError(
        `the sign-in stopped at ${url.origin}${url.pathname} with HTTP ${response.status}: ` +
          pageText(html).slice(0, 400),
      );
    }
    consentPages.push({ url: `${url.origin}${url.pathname}`, text: pageText(html) });
    url = submission.action;
    init = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: submission.fields,
    };
  }
  throw new BrowserStepError('more than 30 redirects during sign-in');
}

/**
 * An `OAuthClientProvider` for a native app with a loopback redirect URI, keeping everything
 * in memory, whose "browser" is `browse`.
 */
class AutomatedProvider {
  constructor(options, redirectUrl) {
    this.options = options;
    this._redirectUrl = redirectUrl;
    this._clientInformation = undefined;
    this._tokens = undefined;
    this._codeVerifier = undefined;
    this._state = undefined;
    this._discovery = undefined;
    /** The code the browser step brought back, for `finishAuth`. */
    this.code = undefined;
    /** Whether a new browser sign-in is allowed (not while a refresh is being forced). */
    this.browserAllowed = true;
    this.authorizations = 0;
    this.tokenSaves = 0;
    this.consentPages = [];
    this.redirectError = undefined;
    if (options.clientId) {
      this._clientInformation = { client_id: options.clientId };
      if (options.clientSecret) this._clientInformation.client_secret = options.clientSecret;
    } else if (options.clientMetadataUrl && !options.clientMetadataUrl.startsWith('https://')) {
      // The SDK takes `clientMetadataUrl` over https only (isHttpsUrl); a loopback http
      // document (the server's dev switch) is used as already-known client information.
      this._clientInformation = { client_id: options.clientMetadataUrl };
    }
  }

  get redirectUrl() {
    return this._redirectUrl;
  }

  get clientMetadataUrl() {
    return this.options.clientMetadataUrl;
  }

  get clientMetadata() {
    return {
      client_name: this.options.clientName,
      redirect_uris: [this._redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      application_type: 'native',
    };
  }

  state() {
    this._state = randomBytes(16).toString('base64url');
    return this._state;
  }

  clientInformation() {
    return this._clientInformation;
  }

  saveClientInformation(information) {
    this._clientInformation = information;
  }

  tokens() {
    return this._tokens;
  }

  saveTokens(tokens) {
    this.tokenSaves += 1;
    this._tokens = tokens;
  }

  saveCodeVerifier(verifier) {
    this._codeVerifier = verifier;
  }

  codeVerifier() {
    if (!this._codeVerifier) throw new Error('no PKCE code verifier saved');
    return this._codeVerifier;
  }

  discoveryState() {
    return this._discovery;
  }

  saveDiscoveryState(state) {
    this._discovery = state;
  }

  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'client') this._clientInformation = undefined;
    if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this._codeVerifier = undefined;
  }

  async redirectToAuthorization(authorizationUrl) {
    if (!this.browserAllowed) {
      throw new Error('the SDK started a new sign-in instead of refreshing its token');
    }
    if (this.authorizations >= MAX_AUTHORIZATIONS) {
      throw new Error(`the server asked for more than ${MAX_AUTHORIZATIONS} sign-ins`);
    }
    this.authorizations += 1;
    const url = new URL(authorizationUrl);
    if (this.options.user) url.searchParams.set('login_hint', this.options.user);
    if (this.options.scope) url.searchParams.set('scope', this.options.scope);
    this.requestedScope = url.searchParams.get('scope');
    this.resource = url.searchParams.get('resource');
    const decision = this.options.deny ? 'deny' : 'approve';
    const landing = await browse(url, new URL(this._redirectUrl), decision, this.consentPages);
    const state = landing.searchParams.get('state');
    if (state !== this._state) {
      throw new Error(`the redirect's state does not match the one sent (got ${state === null ? 'none' : 'another'})`);
    }
    this.issuerParam = landing.searchParams.get('iss');
    const error = landing.searchParams.get('error');
    if (error) {
      this.redirectError = {
        error,
        error_description: landing.searchParams.get('error_description'),
      };
      return;
    }
    this.code = landing.searchParams.get('code');
    if (!this.code) throw new Error('the redirect carries neither code nor error');
  }
}

/** A loopback listener whose port makes the redirect URI (RFC 8252 §7.3); never reached. */
async function loopbackRedirect(path) {
  const server = createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('You can close this window.\n');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, uri: `http://127.0.0.1:${server.address().port}${path}` };
}

/** The transport and client of one connection, with the provider shared across connections. */
function newSession(options, provider) {
  const transport = new StreamableHTTPClientTransport(new URL(options.url), {
    authProvider: provider,
    fetch: tracingFetch,
  });
  const client = new Client({ name: 'splunk-mcp-oauth-test-client', version: '0.1.0' });
  return { transport, client };
}

async function closeSession({ transport, client }) {
  await transport.terminateSession().catch(() => {});
  await client.close().catch(() => {});
}

/** The claims of a JWT, or undefined for an opaque token (only names and ids are reported). */
function jwtClaims(token) {
  const parts = token?.split('.');
  if (parts?.length !== 3) return undefined;
  try {
    return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/** One line describing a failure. */
function describe(error) {
  let message = error instanceof Error ? error.message : String(error);
  const cause = error?.cause;
  if (cause) message += ` (${cause.code ?? cause.message ?? cause})`;
  if (error instanceof StreamableHTTPError && error.code > 0) message = `HTTP ${error.code}: ${message}`;
  return message.replace(/\s*\n\s*/g, ' ');
}

/**
 * The conformance suite's context (`conformance client` sets MCP_CONFORMANCE_CONTEXT): a
 * pre-registered client's credentials, when the scenario has one.
 */
function conformanceContext() {
  const raw = process.env.MCP_CONFORMANCE_CONTEXT;
  if (!raw) return {};
  try {
    return JSON.parse(raw);
  } catch {
    return {};
  }
}

/** Every tool of `tools/list`, following `nextCursor` across pages. */
async function allTools(client) {
  const tools = [];
  let cursor;
  do {
    const page = await client.listTools(cursor === undefined ? undefined : { cursor });
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

/** An error redirect's `error` and `error_description`, as one phrase. */
function describeRedirectError(redirectError) {
  if (!redirectError) return 'no code came back';
  const { error, error_description: description } = redirectError;
  return description ? `${error}: ${description}` : error;
}

/** The line above the `list` output: who signed in, with which scopes, and how many tools. */
function listingHeader(summary, count) {
  const claims = summary.token?.claims;
  const who = claims?.sub ?? 'signed in';
  const scope = summary.token?.scope ?? claims?.scope;
  const scopes = scope ? ` with scopes ${scope}` : '';
  return `${who}${scopes} (client ${summary.client_id}): ${count} tool${count === 1 ? '' : 's'}\n\n`;
}

/** At most this many sign-ins per run (a server that keeps asking must not loop forever). */
const MAX_AUTHORIZATIONS = 3;

/**
 * Runs `work` on a fresh connection; when the SDK had to send the user to sign in (it throws
 * UnauthorizedError once the browser step brought a code back), exchanges the code and starts
 * over on a new connection. Returns `work`'s result, or `undefined` when sign-in was refused.
 */
async function withAuthorization(options, provider, work) {
  for (;;) {
    const session = newSession(options, provider);
    try {
      const result = await work(session);
      await closeSession(session);
      return result;
    } catch (error) {
      await closeSession(session);
      if (!(error instanceof UnauthorizedError)) throw error;
      if (provider.redirectError) return undefined;
      const code = provider.code;
      if (!code) throw error;
      provider.code = undefined;
      await session.transport.finishAuth(code);
    }
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const context = conformanceContext();
  options.clientId ??= context.client_id;
  options.clientSecret ??= context.client_secret;
  const loopback = await loopbackRedirect(options.redirectPath);
  const provider = new AutomatedProvider(options, loopback.uri);
  const summary = {};
  try {
    // Connect: 401 -> discovery -> registration -> browser step -> code -> token -> connect
    // again; then the MCP requests.
    let listed = [];
    const outcome = await withAuthorization(options, provider, async ({ transport, client }) => {
      await client.connect(transport);
      listed = await allTools(client);
      const result = { tools: listed.map((t) => t.name) };
      // Under the conformance suite, its one tool is called so scope step-up can happen.
      const tool = options.tool ?? (process.env.MCP_CONFORMANCE_SCENARIO ? result.tools[0] : undefined);
      if (tool) {
        result.call = await client.callTool({ name: tool, arguments: options.args ?? {} });
      }
      return result;
    });
    if (outcome) Object.assign(summary, outcome);
    else summary.authorization_error = provider.redirectError;
    const first = provider.tokens();
    const claims = jwtClaims(first?.access_token);
    summary.client_id = provider.clientInformation()?.client_id ?? null;
    // The SDK uses an https metadata document URL only where the server supports them.
    summary.registration = options.clientId
      ? 'pre-registered'
      : options.clientMetadataUrl && summary.client_id === options.clientMetadataUrl
        ? 'client_id_metadata_document'
        : 'dynamic';
    summary.redirect_uri = loopback.uri;
    summary.requested_scope = provider.requestedScope ?? null;
    summary.resource = provider.resource ?? null;
    summary.iss_param = provider.issuerParam ?? null;
    summary.consent_pages = provider.consentPages;
    summary.authorizations = provider.authorizations;
    if (first) {
      summary.token = {
        token_type: first.token_type,
        scope: first.scope ?? null,
        expires_in: first.expires_in ?? null,
        has_refresh_token: Boolean(first.refresh_token),
        claims: claims
          ? {
              iss: claims.iss,
              aud: claims.aud,
              sub: claims.sub,
              client_id: claims.client_id,
              scope: claims.scope,
              groups: claims.groups,
            }
          : null,
      };
    }
    const written = { client: provider.clientInformation(), redirect_uri: loopback.uri, tokens: first };

    // Optionally force a refresh: a spoiled access token makes /mcp answer 401, and the SDK
    // answers that with the refresh token it holds (never a new sign-in: see browserAllowed).
    if (options.refresh && first) {
      if (!first.refresh_token) throw new Error('--refresh: the token response had no refresh_token');
      provider.browserAllowed = false;
      const saves = provider.tokenSaves;
      provider._tokens = { ...first, access_token: `spoiled-${randomBytes(8).toString('hex')}` };
      const after = await withAuthorization(options, provider, async ({ transport, client }) => {
        await client.connect(transport);
        return options.tool
          ? await client.callTool({ name: options.tool, arguments: options.args })
          : await client.listTools();
      });
      const refreshed = provider.tokens();
      summary.refresh = {
        refreshed: provider.tokenSaves > saves,
        refresh_token_rotated: refreshed.refresh_token !== first.refresh_token,
        access_token_changed: refreshed.access_token !== first.access_token,
        result: after,
      };
      written.refreshed_tokens = refreshed;
    }
    summary.trace = trace;
    if (options.out) writeFileSync(options.out, `${JSON.stringify(written, null, 2)}\n`, { mode: 0o600 });
    if (options.list) {
      if (!outcome) throw new Error(`the sign-in was refused: ${describeRedirectError(provider.redirectError)}`);
      process.stdout.write(listingHeader(summary, listed.length));
      process.stdout.write(renderTools(listed));
    } else {
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    }
  } finally {
    loopback.server.close();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`error: ${describe(error)}\n`);
    process.stderr.write(`error: HTTP steps: ${trace.join(' | ')}\n`);
    process.exit(1);
  },
);
