#!/usr/bin/env node
// A one-shot MCP client on the official TypeScript SDK (Client + StreamableHTTPClientTransport),
// for tests that must see the server through a real third-party client. See README.md.
//
//   node mcp-client.mjs --url URL [--token TOKEN] list
//   node mcp-client.mjs --url URL [--token TOKEN] [--progress] [--cancel-after MS] call TOOL ['JSON_ARGS']
//
// --progress asks for progress notifications (a progressToken) and prints
// `{"result": ..., "progress": [...]}` instead of the bare result. --cancel-after MS aborts the
// call after MS milliseconds, as a user pressing stop does (the SDK sends
// notifications/cancelled), and prints `{"cancelled": true, "progress": [...]}`.
//
// Success: the result JSON on one stdout line, exit 0 (a tool result with isError is a success
// of the protocol and is printed too). Failure: one stderr line `error: ...`, exit 1; when an HTTP
// answer caused it the line starts `error: HTTP <status>` and ends with the server's
// WWW-Authenticate header, if any.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

import { parseJsonArgs } from './json-args.mjs';

const USAGE =
  'usage: node mcp-client.mjs --url URL [--token TOKEN] list\n' +
  "       node mcp-client.mjs --url URL [--token TOKEN] [--progress] [--cancel-after MS] call TOOL ['JSON_ARGS']";

/** Parses argv into { url, token, command, tool, args }; throws a usage error. */
function parseArgs(argv) {
  const options = { url: undefined, token: undefined, progress: false, cancelAfter: undefined };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--url' || arg === '--token') {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      options[arg.slice(2)] = value;
    } else if (arg === '--progress') {
      options.progress = true;
    } else if (arg === '--cancel-after') {
      const value = Number.parseInt(argv[++i], 10);
      if (!Number.isInteger(value) || value < 0) throw new Error(`--cancel-after needs milliseconds\n${USAGE}`);
      options.cancelAfter = value;
    } else if (arg === '-h' || arg === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (arg.startsWith('--')) {
      throw new Error(`unknown option ${arg}\n${USAGE}`);
    } else {
      positional.push(arg);
    }
  }
  if (!options.url) throw new Error(`--url is required\n${USAGE}`);
  const [command, tool, json, ...rest] = positional;
  if (command === 'list' && positional.length === 1) return { ...options, command };
  if (command === 'call' && tool && rest.length === 0) {
    const args = parseJsonArgs(json);
    return { ...options, command, tool, args };
  }
  throw new Error(`expected \`list\` or \`call TOOL [JSON_ARGS]\`\n${USAGE}`);
}

/** The last HTTP answer that was not 2xx, so a failure can name its status and challenge. */
let lastRefusal;

/** fetch that remembers refused POSTs; the SDK's errors keep the status but not the headers. */
async function recordingFetch(url, init) {
  const response = await fetch(url, init);
  // Only POSTs carry requests; a 405 to the optional GET stream is normal.
  if (!response.ok && init?.method === 'POST') {
    lastRefusal = {
      status: response.status,
      challenge: response.headers.get('www-authenticate'),
    };
  }
  return response;
}

/** One line describing why the run failed. */
function describe(error) {
  let message = error instanceof Error ? error.message : String(error);
  // Node's fetch hides the reason (e.g. ECONNREFUSED) in `cause`.
  const cause = error?.cause;
  if (cause) message += ` (${cause.code ?? cause.message ?? cause})`;
  let status;
  if (error instanceof StreamableHTTPError && error.code > 0) status = error.code;
  else if (error instanceof UnauthorizedError) status = 401;
  let line = status ? `HTTP ${status}: ${message}` : message;
  if (lastRefusal?.challenge && lastRefusal.status === status) {
    line += ` (WWW-Authenticate: ${lastRefusal.challenge})`;
  }
  return line.replace(/\s*\n\s*/g, ' ');
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const headers = options.token ? { Authorization: `Bearer ${options.token}` } : {};
  const transport = new StreamableHTTPClientTransport(new URL(options.url), {
    requestInit: { headers },
    fetch: recordingFetch,
  });
  const client = new Client({ name: 'splunk-mcp-test-client', version: '0.1.0' });
  await client.connect(transport);
  try {
    if (options.command === 'list') {
      process.stdout.write(`${JSON.stringify(await client.listTools())}\n`);
      return;
    }
    const progress = [];
    const abort = new AbortController();
    const requestOptions = { signal: abort.signal };
    if (options.progress) requestOptions.onprogress = (update) => progress.push(update);
    if (options.cancelAfter !== undefined) {
      setTimeout(() => abort.abort('cancelled by the test'), options.cancelAfter);
    }
    let result;
    try {
      result = await client.callTool(
        { name: options.tool, arguments: options.args },
        undefined,
        requestOptions,
      );
    } catch (error) {
      if (!abort.signal.aborted) throw error;
      process.stdout.write(`${JSON.stringify({ cancelled: true, progress })}\n`);
      return;
    }
    const printed = options.progress || options.cancelAfter !== undefined
      ? { result, progress }
      : result;
    process.stdout.write(`${JSON.stringify(printed)}\n`);
  } finally {
    // Ends the server-side session (DELETE); a stateless server may refuse, which is fine.
    await transport.terminateSession().catch(() => {});
    await client.close().catch(() => {});
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`error: ${describe(error)}\n`);
    process.exit(1);
  },
);
