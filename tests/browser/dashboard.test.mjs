// Drives the dashboard in Debian's Chromium against a real `nebula serve`:
// deploys the hello example through the page's form, invokes it on wasm, and
// checks the output, the timing bar, the resources and the new chart point;
// then checks how a failing invocation and a bearer-token server look, and
// the versions and live log panel: the version list, a rollback, and
// invocations arriving over Server-Sent Events while the panel is open.
//
//   cd tests/browser && npm ci
//   NEBULA_BIN=build/release/nebula \
//   NEBULA_EXAMPLE_HELLO=build/release/examples/hello.wasm \
//   node --test tests/browser/dashboard.test.mjs
//
// Environment:
//   NEBULA_BIN                  the nebula binary (required)
//   NEBULA_EXAMPLE_HELLO        hello.wasm from examples/ (required)
//   NEBULA_BROWSER_ARTIFACTS    where screenshots go (default build/browser-artifacts)
//   NEBULA_BROWSER_NODE_MODULES a node_modules holding playwright-core
//                               (default: tests/browser/node_modules)
//   CHROMIUM                    the browser (default /usr/bin/chromium)
//
// Prints "NEBULA_BROWSER_SKIP: <why>" and skips when a prerequisite is
// missing, so that CTest can report the test as skipped rather than passed.

import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const nebulaBin = process.env.NEBULA_BIN || '';
const helloWasm = process.env.NEBULA_EXAMPLE_HELLO || '';
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = path.resolve(process.env.NEBULA_BROWSER_ARTIFACTS || path.join(repo, 'build', 'browser-artifacts'));
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const STEP_MS = 15_000;

function loadPlaywright() {
  const modules = process.env.NEBULA_BROWSER_NODE_MODULES || path.join(here, 'node_modules');
  try {
    return createRequire(path.join(modules, 'noop.js'))('playwright-core');
  } catch {
    return null;
  }
}

const playwright = loadPlaywright();
function missingPrerequisite() {
  if (!nebulaBin || !fs.existsSync(nebulaBin)) return `NEBULA_BIN (${nebulaBin || 'unset'}) is not a file`;
  if (!helloWasm || !fs.existsSync(helloWasm)) return `NEBULA_EXAMPLE_HELLO (${helloWasm || 'unset'}) is not a file`;
  if (!fs.existsSync(chromiumPath)) return `no browser at ${chromiumPath} (apt-get install -y chromium)`;
  if (!playwright) return 'playwright-core is not installed (npm ci in tests/browser)';
  return '';
}
const skip = missingPrerequisite();
if (skip) console.log(`NEBULA_BROWSER_SKIP: ${skip}`);

// Starts `nebula serve` on a free port with its own data directory and
// resolves with its base URL once it prints "listening on http://…".
async function startServer(extraArgs = []) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nebula-browser-data-'));
  const child = spawn(nebulaBin,
    ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--no-docker', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nebula serve did not start within 30 s:\n${log}`)), 30_000);
    const onData = (chunk) => {
      log += chunk;
      const match = /listening on (http:\/\/[^\s)]+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve(match[1].replace(/\/$/, ''));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`nebula serve exited early (${code ?? signal}):\n${log}`));
    });
  });
  // onData keeps collecting the log after start-up, for failure reports.
  let stopping = false;
  return {
    base,
    log: () => log,
    // Throws with the server's log when it died while a test was running.
    assertAlive() {
      if (stopping || (child.exitCode === null && child.signalCode === null)) return;
      throw new Error(`nebula serve died (${child.exitCode ?? child.signalCode}); its log:\n${log.slice(-4000)}`);
    },
    async stop() {
      if (!stopping && (child.exitCode !== null || child.signalCode !== null)) {
        console.error(`nebula serve had died (${child.exitCode ?? child.signalCode}); its log:\n${log.slice(-4000)}`);
      }
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// A fresh profile per browser; every request outside the server's origin is
// refused and recorded, so the test also proves the page needs no CDN.
async function openBrowser(base, t) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'nebula-browser-profile-'));
  const context = await playwright.chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1366, height: 900 },
  });
  context.setDefaultTimeout(STEP_MS);
  const foreign = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${base}/`)) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  const page = context.pages()[0] || (await context.newPage());
  const errors = [];
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // The browser logs every non-2xx fetch as "Failed to load resource";
    // tests that expect one filter these out.
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  t.after(async () => {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  });
  return { context, page, foreign, errors };
}

async function screenshot(page, name) {
  fs.mkdirSync(artifacts, { recursive: true });
  const file = path.join(artifacts, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

async function deployHello(page, name) {
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('WebAssembly module (.wasm)').setInputFiles(helloWasm);
  await page.getByLabel('Timeout (ms)').fill('5000');
  await page.getByLabel('Memory (MB)').fill('64');
  await page.getByRole('button', { name: /^(Deploy|Update)$/ }).click();
  const status = page.locator('#deploy-status');
  await page.waitForFunction(() => document.querySelector('#deploy-status')?.dataset.kind);
  assert.equal(await status.getAttribute('data-kind'), 'ok', await status.textContent());
  await page.locator(`#functions-body tr[data-key="${name}"]`).waitFor();
}

// Invokes a function from outside the page; resolves with the response's
// status, invocation id and version.
async function invokeFromOutside(base, name, body) {
  const response = await fetch(`${base}/v1/functions/${name}/invoke`, { method: 'POST', body });
  await response.arrayBuffer();
  return {
    status: response.status,
    id: response.headers.get('x-nebula-invocation-id'),
    version: response.headers.get('x-nebula-version'),
  };
}

describe('dashboard', { skip: skip || false }, () => {
  let server;
  before(async () => { server = await startServer(); });
  afterEach(() => server?.assertAlive());
  after(async () => { await server?.stop(); });

  test('deploys hello through the form, invokes it on wasm and charts it', async (t) => {
    const { page, foreign, errors } = await openBrowser(server.base, t);
    t.diagnostic(`server ${server.base}`);
    await page.goto(`${server.base}/`);
    await page.locator('#connection[data-state="live"]').waitFor();
    assert.equal(await page.title(), 'Nebula');

    await deployHello(page, 'hello');
    const row = page.locator('#functions-body tr[data-key="hello"]');
    assert.match(await row.textContent(), /wasm/);

    const points = page.locator('#charts [data-function="hello"] .pt');
    const pointsBefore = await points.count();

    await page.locator('#invoke-function').selectOption('hello');
    await page.getByRole('radio', { name: 'wasm' }).check();
    await page.getByLabel('Input (sent on stdin)').fill('Nebula');
    await page.getByRole('button', { name: 'Invoke', exact: true }).click();

    const output = page.locator('#invoke-output');
    await output.waitFor();
    assert.match(await output.textContent(), /Hello, Nebula!/);
    assert.match(await page.locator('.http-status').textContent(), /^200$/);

    // The stacked bar has its phases from Server-Timing, with numbers.
    const legend = page.locator('#invoke-timing .timing-legend');
    for (const phase of ['queue', 'startup', 'exec']) {
      assert.match(await legend.locator(`[data-phase="${phase}"]`).textContent(), /\d.*(µs|ms|s)$/);
    }
    assert.ok(await page.locator('#invoke-timing svg rect').count() >= 2, 'timing bar has segments');
    // CPU and memory come from GET /v1/invocations/{id}.
    await page.locator('#invoke-resources:not([hidden])').waitFor();
    assert.match(await page.locator('#invoke-resources').textContent(), /CPU time/);

    // A point for the new invocation appears in both charts of hello.
    await page.waitForFunction(
      (n) => document.querySelectorAll('#charts [data-function="hello"] .pt').length > n, pointsBefore);
    const id = await page.locator('#invoke-result code').first().textContent();
    assert.equal(await page.locator(`#charts [data-function="hello"] .pt[data-id="${id}"]`).count(), 2);
    await page.locator(`#invocations-body tr[data-key="${id}"]`).waitFor();

    // The functions list counts it once the stats catch up.
    await page.waitForFunction(() => [...document.querySelectorAll(
      '#functions-body tr[data-key="hello"] td[data-label="Invocations"] li')].some((li) => li.textContent === 'wasm 1'));

    const desktop = await screenshot(page, 'dashboard.png');
    t.diagnostic(`screenshot ${desktop}`);
    await page.setViewportSize({ width: 375, height: 812 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `page is ${overflow}px wider than a 375px screen`);
    t.diagnostic(`screenshot ${await screenshot(page, 'dashboard-phone.png')}`);

    assert.deepEqual(foreign, [], 'the page loaded nothing from another origin');
    assert.deepEqual(errors, []);
  });

  test('shows a failed invocation as problem+json with exit code and stderr', async (t) => {
    const { page } = await openBrowser(server.base, t);
    await page.goto(`${server.base}/`);
    await page.locator('#functions-body tr[data-key="hello"]').waitFor();
    await page.locator('#invoke-function').selectOption('hello');
    // hello refuses names over 100 bytes with exit code 2 and a message.
    await page.getByLabel('Input (sent on stdin)').fill('x'.repeat(200));
    await page.getByLabel('Input (sent on stdin)').press('Control+Enter');
    const problem = page.locator('#invoke-result .problem');
    await problem.waitFor();
    assert.match(await page.locator('.http-status').textContent(), /^502$/);
    const text = await problem.textContent();
    assert.match(text, /Exit code\s*2/);
    assert.match(text, /longer than 100 bytes/);
    await page.locator('#invocations-body .outcome.bad').first().waitFor();
  });

  test('marks an invocation whose output was cut at max_output_bytes', async (t) => {
    // hello, deployed through the API with room for 4 bytes of output.
    const upload = await fetch(`${server.base}/v1/modules`, {
      method: 'POST', headers: { 'Content-Type': 'application/wasm' }, body: fs.readFileSync(helloWasm),
    });
    assert.equal(upload.status, 201);
    const { digest } = await upload.json();
    const deploy = await fetch(`${server.base}/v1/functions/tiny-out`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ wasm: { module: digest }, limits: { max_output_bytes: 4 } }),
    });
    assert.equal(deploy.status, 201, await deploy.text());
    const { page } = await openBrowser(server.base, t);
    await page.goto(`${server.base}/`);
    await page.locator('#functions-body tr[data-key="tiny-out"]').waitFor();
    await page.locator('#invoke-function').selectOption('tiny-out');
    await page.getByLabel('Input (sent on stdin)').fill('Nebula');
    await page.getByRole('button', { name: 'Invoke', exact: true }).click();
    await page.locator('#invoke-result .problem').waitFor();
    assert.match(await page.locator('.http-status').textContent(), /^502$/);
    const row = page.locator('#invocations-body tr', { hasText: 'tiny-out' }).first();
    await row.waitFor();
    assert.match(await row.textContent(), /output cut/);
  });

  test('lists versions, rolls back, and follows the live log of the selected function', async (t) => {
    // hello came through the form as version 1; deploying it again through
    // the API makes the next version.
    const upload = await fetch(`${server.base}/v1/modules`, {
      method: 'POST', headers: { 'Content-Type': 'application/wasm' }, body: fs.readFileSync(helloWasm),
    });
    assert.equal(upload.status, 201);
    const { digest } = await upload.json();
    const redeploy = await fetch(`${server.base}/v1/functions/hello`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ wasm: { module: digest }, limits: { timeout_ms: 5000, memory_mb: 64 } }),
    });
    assert.equal(redeploy.status, 200, await redeploy.clone().text());
    const latest = (await redeploy.json()).version;
    assert.ok(Number.isInteger(latest) && latest >= 2, `a redeploy makes a new version (got ${latest})`);
    const previous = latest - 1;

    const { page, errors } = await openBrowser(server.base, t);
    await page.goto(`${server.base}/`);
    await page.locator('#functions-body tr[data-key="hello"]').waitFor();
    assert.match(await page.locator('#functions-body tr[data-key="hello"] .limits').textContent(),
      new RegExp(`^version ${latest} `));
    await page.getByRole('button', { name: 'Versions and live log of hello' }).click();
    assert.equal(await page.locator('#detail-function').inputValue(), 'hello');

    // The version list, newest first: the serving one marked, the one below
    // it with a rollback button.
    const servingRow = page.locator(`#versions-body tr[data-version="${latest}"][data-serving="true"]`);
    await servingRow.waitFor();
    assert.match(await servingRow.textContent(), /serving/);
    assert.match(await servingRow.textContent(), /wasm sha256:/);
    assert.equal(await page.locator('#detail-serving').textContent(), `Serving version ${latest}`);
    const versionsShown = await page.locator('#versions-body tr').evaluateAll(
      (rows) => rows.map((row) => Number(row.dataset.version)));
    assert.deepEqual(versionsShown, [...versionsShown].sort((a, b) => b - a), 'newest first');
    const olderRow = page.locator(`#versions-body tr[data-version="${previous}"]`);
    await olderRow.waitFor();

    // An invocation made while the panel is open arrives over the stream.
    await page.locator('#live-log-state[data-state="live"]').waitFor();
    const first = await invokeFromOutside(server.base, 'hello', 'live log');
    assert.equal(first.status, 200);
    assert.equal(first.version, String(latest));
    const firstEntry = page.locator(`#live-log li[data-id="${first.id}"]`);
    await firstEntry.waitFor();
    assert.equal(await firstEntry.locator('.version-number').textContent(), `v${latest}`);
    assert.equal(await firstEntry.locator('.trigger').textContent(), 'http');
    assert.equal(await firstEntry.locator('.outcome').textContent(), 'ok');
    assert.match(await firstEntry.locator('.total').textContent(), /^\d.* (µs|ms|s)$/);
    assert.equal(await firstEntry.locator('code').textContent(), first.id);
    assert.match(await firstEntry.locator('time').textContent(), /\d\d:\d\d:\d\d/);
    assert.equal(await firstEntry.getAttribute('data-outcome'), 'ok');

    // A failing call shows its stderr.
    const failing = await invokeFromOutside(server.base, 'hello', 'x'.repeat(200));
    assert.equal(failing.status, 502);
    const failingEntry = page.locator(`#live-log li[data-id="${failing.id}"]`);
    await failingEntry.waitFor();
    assert.match(await failingEntry.locator('pre').textContent(), /longer than 100 bytes/);

    // Roll back with the button: the older version serves, and the next
    // invocation says so.
    await olderRow.getByRole('button', { name: `Roll hello back to version ${previous}` }).click();
    await page.locator(`#versions-body tr[data-version="${previous}"][data-serving="true"]`).waitFor();
    assert.match(await page.locator('#versions-status').textContent(), new RegExp(`now serves version ${previous}\\.`));
    assert.equal(await page.locator('#detail-serving').textContent(), `Serving version ${previous}`);
    const second = await invokeFromOutside(server.base, 'hello', 'after the rollback');
    assert.equal(second.version, String(previous));
    const secondEntry = page.locator(`#live-log li[data-id="${second.id}"]`);
    await secondEntry.waitFor();
    assert.equal(await secondEntry.locator('.version-number').textContent(), `v${previous}`);

    // Choosing another function closes hello's stream and follows the other.
    const helloStreamClosed = page.waitForEvent('requestfailed',
      (request) => request.url().includes('/v1/functions/hello/logs'));
    await page.locator('#detail-function').selectOption('tiny-out');
    await helloStreamClosed;
    assert.equal(await page.locator('#live-log').getAttribute('data-function'), 'tiny-out');
    assert.equal(await page.locator('#live-log li').count(), 0, 'the log starts empty for the new function');
    await page.locator('#live-log-state[data-state="live"]').waitFor();
    const elsewhere = await invokeFromOutside(server.base, 'hello', 'not shown');
    const tiny = await invokeFromOutside(server.base, 'tiny-out', 'Nebula');
    await page.locator(`#live-log li[data-id="${tiny.id}"]`).waitFor();
    assert.equal(await page.locator(`#live-log li[data-id="${elsewhere.id}"]`).count(), 0);
    assert.equal(await page.locator('#live-log li').count(), 1);

    t.diagnostic(`screenshot ${await screenshot(page, 'dashboard-versions.png')}`);
    assert.deepEqual(errors, []);
  });
});

describe('dashboard with a bearer token', { skip: skip || false }, () => {
  const token = 'browser-test-token';
  let server;
  before(async () => { server = await startServer(['--token', token]); });
  afterEach(() => server?.assertAlive());
  after(async () => { await server?.stop(); });

  test('asks for the token once, in a dialog, and then deploys', async (t) => {
    const { page } = await openBrowser(server.base, t);
    await page.goto(`${server.base}/`);
    await page.locator('#connection[data-state="live"], #connection[data-state="down"]').waitFor();

    let asked = 0;
    page.on('request', (request) => {
      if (request.url().includes('/v1/modules')) asked += request.headers().authorization ? 0 : 1;
    });
    await page.getByLabel('Name', { exact: true }).fill('guarded');
    await page.getByLabel('WebAssembly module (.wasm)').setInputFiles(helloWasm);
    await page.getByRole('button', { name: 'Deploy' }).click();

    const dialog = page.getByRole('dialog', { name: 'API token' });
    await dialog.waitFor();
    // Keyboard only: the token field has focus inside the modal dialog.
    await page.keyboard.type(token);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('#deploy-status')?.dataset.kind);
    assert.equal(await page.locator('#deploy-status').getAttribute('data-kind'), 'ok',
      await page.locator('#deploy-status').textContent());
    assert.equal(await page.evaluate(() => sessionStorage.getItem('nebula.token')), token);
    assert.equal(asked, 1, 'exactly one upload went out without the token');
    assert.equal(await dialog.isVisible(), false);
  });
});
