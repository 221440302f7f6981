#!/usr/bin/env node
// splunk-mcp's consent page in a real browser: headless Debian Chromium driven by
// playwright-core. Opens an authorization URL of the proxy, screenshots the consent page,
// checks its text, presses Approve (or Deny), and follows the browser through the IdP's
// automated login back to the client's redirect URI. See README.md.
//
//   node consent-browser.mjs --url AUTHORIZE_URL --redirect-uri URI --screenshot FILE.png
//                            [--expect TEXT]... [--deny] [--chromium PATH]
//
// Success: one JSON line on stdout, exit 0:
//   {"landing":{"code":..,"state":..,"iss":..,"error":..},"consent":{"title":..,"text":..,
//    "content_security_policy":..,"x_frame_options":..,"status":..},"screenshot":FILE}
// Failure: `error: ...` on stderr, exit 1 (exit 3 when Chromium is not installed).

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

const USAGE = `usage: node consent-browser.mjs --url AUTHORIZE_URL --redirect-uri URI --screenshot FILE.png
                                [--expect TEXT]... [--deny] [--chromium PATH]
  --url URL           the proxy's /authorize URL (with login_hint for the test IdP)
  --redirect-uri URI  the client's redirect URI; the run ends when the browser gets there
  --screenshot FILE   where to save a PNG of the consent page
  --expect TEXT       text the consent page must show (repeatable)
  --deny              press Deny instead of Approve
  --chromium PATH     the browser (default /usr/bin/chromium, Debian's package \`chromium\`)`;

/** Flags of a headless browser that talks to nobody but the servers under test. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** How long one step (a navigation, a click's consequences) may take. */
const STEP_TIMEOUT_MS = 20_000;

function parseArgs(argv) {
  const options = {
    url: undefined,
    redirectUri: undefined,
    screenshot: undefined,
    expect: [],
    deny: false,
    chromium: '/usr/bin/chromium',
  };
  const valued = {
    '--url': 'url',
    '--redirect-uri': 'redirectUri',
    '--screenshot': 'screenshot',
    '--chromium': 'chromium',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg in valued || arg === '--expect') {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      if (arg === '--expect') options.expect.push(value);
      else options[valued[arg]] = value;
    } else if (arg === '--deny') {
      options.deny = true;
    } else if (arg === '-h' || arg === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else {
      throw new Error(`unexpected argument ${arg}\n${USAGE}`);
    }
  }
  for (const name of ['url', 'redirectUri', 'screenshot']) {
    if (!options[name]) throw new Error(`--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is required\n${USAGE}`);
  }
  return options;
}

/** Whether `url` is the redirect URI (same origin and path; the query carries the answer). */
function atRedirectUri(url, redirectUri) {
  return url.origin === redirectUri.origin && url.pathname === redirectUri.pathname;
}

class MissingBrowser extends Error {}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (!existsSync(options.chromium)) {
    throw new MissingBrowser(
      `Chromium is not installed at ${options.chromium}: install Debian's package with ` +
        '`sudo apt-get install -y chromium` (CI does this in .ci/run), or pass --chromium PATH',
    );
  }
  const redirectUri = new URL(options.redirectUri);
  const profile = mkdtempSync(join(tmpdir(), 'splunk-mcp-consent-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: options.chromium,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: STEP_TIMEOUT_MS,
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    const response = await page.goto(options.url, { waitUntil: 'load' });
    if (!response) throw new Error(`no response for the authorization URL`);
    const headers = response.headers();
    const consent = {
      status: response.status(),
      title: await page.title(),
      text: (await page.locator('body').innerText()).replace(/\s+/g, ' ').trim(),
      content_security_policy: headers['content-security-policy'] ?? null,
      x_frame_options: headers['x-frame-options'] ?? null,
    };
    await page.screenshot({ path: options.screenshot, fullPage: true });
    if (!response.ok()) {
      throw new Error(`the authorization URL answered HTTP ${consent.status}: ${consent.text.slice(0, 400)}`);
    }
    const missing = options.expect.filter((t) => !consent.text.includes(t));
    if (missing.length > 0) {
      throw new Error(
        `the consent page does not show ${missing.map((t) => JSON.stringify(t)).join(', ')}; ` +
          `it reads: ${consent.text.slice(0, 600)}`,
      );
    }
    const decision = options.deny ? 'deny' : 'approve';
    let button = page.locator(`button[value="${decision}"], input[type="submit"][value="${decision}"]`);
    if ((await button.count()) === 0) {
      button = page.getByRole('button', { name: options.deny ? /deny|cancel/i : /approve|allow/i });
    }
    if ((await button.count()) !== 1) {
      throw new Error(`the consent page has ${await button.count()} ${decision} buttons, expected one`);
    }
    // The form posts to the proxy, which sends the browser to the IdP and back through
    // /auth/callback to the client's redirect URI.
    await Promise.all([
      page.waitForURL((url) => atRedirectUri(url, redirectUri), { waitUntil: 'commit' }),
      button.click(),
    ]);
    const landing = new URL(page.url());
    const param = (name) => landing.searchParams.get(name);
    const result = {
      landing: { code: param('code'), state: param('state'), iss: param('iss'), error: param('error') },
      consent,
      screenshot: options.screenshot,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`error: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exit(error instanceof MissingBrowser ? 3 : 1);
  },
);
