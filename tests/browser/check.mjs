// Real-browser and validator checks of the site.
//
// Starts the hearth binary (built-in demo site, and tests/fixtures/site-full when that
// folder exists), opens each page in Debian's headless Chromium at phone and desktop
// width in light and dark colour schemes, and fails on console errors, page errors,
// failed requests, serious or critical axe-core violations, and Nu HTML Checker errors.
// Screenshots and the HTML as served go to artifacts/ at the repository root.
//
//   cargo build && node tests/browser/check.mjs
//
// Environment: HEARTH_BIN (default target/debug/hearth, relative to the repository
// root), CHROMIUM (default /usr/bin/chromium), JAVA (default java on PATH).

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = require('axe-core').source;
const vnuJar = String(require('vnu-jar'));

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const HEARTH = path.resolve(REPO, process.env.HEARTH_BIN || 'target/debug/hearth');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const JAVA = process.env.JAVA || 'java';
const ARTIFACTS = path.join(REPO, 'artifacts');
const SCREENSHOTS = path.join(ARTIFACTS, 'screenshots');
const HTML = path.join(ARTIFACTS, 'html');

/// A deadline for things that should happen promptly; generous, because CI machines are
/// shared. Waiting on a condition up to it is not a timing assertion.
const PATIENCE_MS = 30_000;

const NOT_FOUND_PATH = '/no-such-page';
const PAGES = [
  { path: '/', name: 'home' },
  { path: '/about', name: 'about' },
  { path: NOT_FOUND_PATH, name: '404', expect404: true },
];

const VIEWPORTS = [
  {
    name: 'phone',
    options: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
  },
  { name: 'desktop', options: { viewport: { width: 1280, height: 900 } } },
];
const SCHEMES = ['light', 'dark'];
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];
const AXE_FAILING = new Set(['serious', 'critical']);
/// What a request to another host gets instead (1×1 transparent PNG for images).
const PIXEL = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

// Each site's Markdown pages are checked too.
const SITES = [
  {
    name: 'demo',
    args: [],
    pages: [
      { path: '/uses', name: 'uses' },
      { path: '/blog', name: 'blog' },
      { path: '/blog/restore-drills', name: 'post' },
      { path: '/tags', name: 'tags' },
      { path: '/login', name: 'login' },
      { path: '/photos', name: 'photos' },
    ],
  },
];
const SITE_FULL = path.join(REPO, 'tests', 'fixtures', 'site-full');
if (existsSync(SITE_FULL)) {
  SITES.push({ name: 'site-full', args: ['--content', SITE_FULL], pages: [{ path: '/notes', name: 'notes' }] });
}

// What was found, grouped so that the same finding in several views is told once:
// key -> { where, what, views: [] }.
const failures = new Map();
const notes = new Map(); // moderate/minor axe findings and console warnings
const skipped = []; // "site path (why)"
const summaries = []; // one line per checked page
const servers = new Set();

function record(map, where, what, view) {
  const key = `${where}\0${what}`;
  if (!map.has(key)) map.set(key, { where, what, views: [] });
  if (view) map.get(key).views.push(view);
}
function fail(where, what, view) {
  record(failures, where, what, view);
}
function note(where, what, view) {
  record(notes, where, what, view);
}
const VIEW_ORDER = VIEWPORTS.flatMap((v) => SCHEMES.map((s) => `${v.name} ${s}`));
function report(map) {
  for (const { where, what, views } of map.values()) {
    views.sort((a, b) => VIEW_ORDER.indexOf(a) - VIEW_ORDER.indexOf(b));
    const at = views.length ? `${where} [${views.join(', ')}]` : where;
    console.log(`  - ${at}: ${what.split('\n').join('\n    ')}`);
  }
}

// ---------------------------------------------------------------------------------
// The server under test.

/// Starts `hearth serve` on a free loopback port with a scratch data folder, and
/// resolves once its "listening" log line names the address.
async function startServer(site) {
  const dir = mkdtempSync(path.join(tmpdir(), `hearth-browser-${site.name}-`));
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith('HEARTH_') || name === 'DATABASE_URL' || name === 'RUST_LOG') {
      delete env[name];
    }
  }
  // A fresh SQLite database in the scratch folder: it needs migrating before serving
  // (`--no-migrate` refuses an empty database), so ask for it explicitly.
  const args = ['serve', '--listen', '127.0.0.1:0', '--migrate', '--data', path.join(dir, 'data'), ...site.args];
  const child = spawn(HEARTH, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const server = { site, dir, child, logs: [], exited: null, addr: null };
  servers.add(server);
  const exited = once(child, 'exit').then(([code, signal]) => {
    server.exited = signal ? `signal ${signal}` : `code ${code}`;
  });
  child.on('error', (e) => server.logs.push(`(could not start: ${e.message})`));

  const listening = new Promise((resolve, reject) => {
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        server.logs.push(line);
        if (server.addr === null && line.includes('"message":"listening"')) {
          try {
            server.addr = JSON.parse(line).addr;
            resolve(server.addr);
          } catch (e) {
            reject(new Error(`unreadable "listening" line: ${line}`));
          }
        }
      });
    }
    exited.then(() => reject(new Error(`hearth exited (${server.exited}) before listening`)));
  });
  server.exitedPromise = exited;
  try {
    await withDeadline(listening, PATIENCE_MS, 'hearth did not log "listening"');
  } catch (e) {
    await stopServer(server);
    throw new Error(`${e.message}; command: ${HEARTH} ${args.join(' ')}\nits output:\n${server.logs.join('\n')}`);
  }
  return server;
}

/// Stops a server with SIGTERM (SIGKILL if it does not exit in time) and removes its
/// scratch folder.
async function stopServer(server) {
  if (!servers.has(server)) return;
  servers.delete(server);
  const { child } = server;
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    const exit = once(child, 'exit');
    child.kill('SIGTERM');
    try {
      await withDeadline(exit, PATIENCE_MS, 'no exit after SIGTERM');
    } catch {
      console.error(`hearth (${server.site.name}) did not stop on SIGTERM; killing it`);
      child.kill('SIGKILL');
      await exit;
    }
  }
  rmSync(server.dir, { recursive: true, force: true });
}

/// Last resort when the process goes away abruptly.
function killServersNow() {
  for (const { child, dir } of servers) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  servers.clear();
}
process.on('exit', killServersNow);
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping`);
    killServersNow();
    process.exit(code);
  });
}

function withDeadline(promise, ms, message) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms / 1000}s`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------
// One page in the browser.

/// Opens `url` in one viewport and colour scheme: screenshot, console, requests, axe.
async function checkView(browser, { where, url, expect404, shot }, viewport, scheme) {
  const view = `${viewport.name} ${scheme}`;
  const context = await browser.newContext({ ...viewport.options, colorScheme: scheme, reducedMotion: 'reduce' });
  // The test is hermetic: only the server under test is reached. Requests to any other
  // host (an image URL in the résumé, say) get a stand-in, and are noted, not failed.
  const origin = new URL(url).origin;
  await context.route('**/*', (route) => {
    const req = route.request();
    const target = new URL(req.url());
    if (target.origin === origin || target.protocol === 'data:' || target.protocol === 'blob:') {
      return route.continue();
    }
    note(where, `request to another host answered with a stand-in: ${req.method()} ${req.url()} (${req.resourceType()})`, view);
    return req.resourceType() === 'image'
      ? route.fulfill({ status: 200, contentType: 'image/png', body: PIXEL })
      : route.fulfill({ status: 204, body: '' });
  });
  const page = await context.newPage();
  page.setDefaultTimeout(PATIENCE_MS);
  page.setDefaultNavigationTimeout(PATIENCE_MS);
  let closing = false;
  const problems = [];
  const warnings = [];
  page.on('console', (msg) => {
    if (closing) return;
    const loc = msg.location();
    const place = loc && loc.url ? ` (at ${loc.url}:${loc.lineNumber}:${loc.columnNumber})` : '';
    if (msg.type() === 'error') {
      // Chromium reports the 404 document itself as a failed resource load; that status
      // is what the 404 check asks for, so it is not an error of the page.
      if (expect404 && loc && loc.url === url && /status of 404/.test(msg.text())) return;
      problems.push(`console error: ${msg.text()}${place}`);
    } else if (msg.type() === 'warning') {
      warnings.push(`console warning: ${msg.text()}${place}`);
    }
  });
  page.on('pageerror', (err) => {
    if (!closing) problems.push(`page error: ${err.stack || err.message}`);
  });
  page.on('requestfailed', (req) => {
    if (!closing) problems.push(`request failed: ${req.method()} ${req.url()}: ${req.failure()?.errorText}`);
  });
  page.on('response', (res) => {
    if (closing) return;
    const req = res.request();
    const isDocument = req.isNavigationRequest() && req.frame() === page.mainFrame();
    if (res.status() >= 400 && !isDocument) {
      problems.push(`subresource answered ${res.status()}: ${req.method()} ${res.url()} (${req.resourceType()})`);
    }
  });

  let axeResults = null;
  try {
    const response = await page.goto(url, { waitUntil: 'load' });
    const status = response ? response.status() : 0;
    if (expect404 ? status !== 404 : status !== 200) {
      problems.push(`the browser got status ${status} for the page, expected ${expect404 ? 404 : 200}`);
    }
    await page.evaluate(() => document.fonts.ready.then(() => undefined));
    // Browsers fetch the page's icon (or /favicon.ico when it names none) on their own
    // schedule, too late for the listeners above to be sure to see it: ask for it here.
    const icons = await page.evaluate(() =>
      [...document.querySelectorAll('link[rel~="icon"]')].map((l) => l.href));
    for (const icon of icons.length ? icons : [`${origin}/favicon.ico`]) {
      if (new URL(icon).origin !== origin) continue;
      const answer = await page.request.get(icon, { failOnStatusCode: false, maxRedirects: 0 });
      if (answer.status() >= 400) problems.push(`the page's icon answered ${answer.status()}: GET ${icon}`);
    }
    await page.screenshot({ path: shot(viewport.name, scheme), fullPage: true, animations: 'disabled' });
    // Evaluated over the DevTools protocol, so that the page's Content-Security-Policy
    // (which rightly refuses inline scripts) neither blocks it nor has to be bypassed.
    await page.evaluate(`${axeSource}\n;undefined`);
    axeResults = await page.evaluate(
      (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
      AXE_TAGS,
    );
  } catch (e) {
    problems.push(`could not check the page: ${e.message}`);
  } finally {
    closing = true;
    await context.close();
  }

  for (const p of problems) fail(where, p, view);
  for (const w of warnings) note(where, w, view);
  let serious = 0;
  let minor = 0;
  for (const v of axeResults ? axeResults.violations : []) {
    const nodes = v.nodes
      .map((n) => `      ${JSON.stringify(n.target)} ${n.html.replace(/\s+/g, ' ').slice(0, 200)}${
        n.failureSummary ? `\n        ${n.failureSummary.replace(/\s*\n\s*/g, '; ')}` : ''}`)
      .join('\n');
    const text = `axe ${v.id} (${v.impact}): ${v.help} <${v.helpUrl}>\n${nodes}`;
    if (AXE_FAILING.has(v.impact)) {
      serious += 1;
      fail(where, text, view);
    } else {
      minor += 1;
      note(where, text, view);
    }
  }
  return { ok: problems.length === 0 && serious === 0 && axeResults !== null, serious, minor, problems: problems.length };
}

/// Fetches a page as served, saves its HTML, and checks it in every viewport and scheme.
async function checkPage(browser, server, page) {
  const site = server.site.name;
  const where = `${site} ${page.path}`;
  const url = `http://${server.addr}${page.path}`;
  let res;
  let body;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(PATIENCE_MS), headers: { accept: 'text/html' } });
    body = await res.text();
  } catch (e) {
    // A server that went away is told once, with its output, by the caller.
    await withDeadline(server.exitedPromise, 5000, 'exit').catch(() => {});
    if (server.exited) return;
    const cause = e.cause ? ` (${e.cause.code || e.cause.message})` : '';
    fail(where, `GET ${url}: ${e.message}${cause}`);
    return;
  }
  if (res.status === 404 && !page.expect404) {
    skipped.push(`${where} (answers 404)`);
    console.log(`SKIP ${where}: answers 404 — not checked`);
    return;
  }
  const wanted = page.expect404 ? 404 : 200;
  if (res.status !== wanted) {
    fail(where, `GET ${url} answered ${res.status}, expected ${wanted}`);
  }
  const type = res.headers.get('content-type') || '';
  if (!type.startsWith('text/html')) {
    fail(where, `GET ${url} answered content-type "${type}", expected text/html`);
  }
  const htmlFile = path.join(HTML, `${site}-${page.name}.html`);
  writeFileSync(htmlFile, body);

  const shot = (viewport, scheme) => path.join(SCREENSHOTS, `${site}-${page.name}-${viewport}-${scheme}.png`);
  let serious = 0;
  let minor = 0;
  let problems = 0;
  let ok = res.status === wanted && type.startsWith('text/html');
  // The views are independent (a browser context each): check them side by side.
  const views = VIEWPORTS.flatMap((viewport) => SCHEMES.map((scheme) => [viewport, scheme]));
  const results = await Promise.all(
    views.map(([viewport, scheme]) =>
      checkView(browser, { where, url, expect404: page.expect404, shot }, viewport, scheme)),
  );
  for (const r of results) {
    serious += r.serious;
    minor += r.minor;
    problems += r.problems;
    ok &&= r.ok;
  }
  const line =
    `${ok ? 'ok  ' : 'FAIL'} ${where.padEnd(24)} HTTP ${res.status}, ${VIEWPORTS.length * SCHEMES.length} views, ` +
    `console/requests: ${problems ? `${problems} problem(s)` : 'clean'}, ` +
    `axe (summed over the views): ${serious} serious/critical, ${minor} moderate/minor`;
  console.log(line);
  summaries.push(line);
  return htmlFile;
}

/// The API's docs page: Swagger UI, served from the binary, must load nothing from
/// elsewhere, log no errors, and show one entry per operation of the served document.
/// (It is Swagger UI's own markup, so axe and the HTML checker are not run over it.)
async function checkDocs(browser, server) {
  const where = `${server.site.name} /api/v1/docs/`;
  const origin = `http://${server.addr}`;
  const problems = [];
  let shown = 0;
  let operations = 0;
  const context = await browser.newContext(VIEWPORTS[1].options);
  await context.route('**/*', (route) => {
    const req = route.request();
    if (new URL(req.url()).origin === origin) return route.continue();
    problems.push(`request to another host: ${req.method()} ${req.url()}`);
    return route.abort();
  });
  const page = await context.newPage();
  page.setDefaultTimeout(PATIENCE_MS);
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`answered ${res.status()}: ${res.url()}`);
  });
  try {
    const doc = await (await fetch(`${origin}/api/v1/openapi.json`)).json();
    const methods = new Set(['get', 'put', 'post', 'delete', 'patch']);
    operations = Object.values(doc.paths).flatMap((item) => Object.keys(item).filter((m) => methods.has(m))).length;
    await page.goto(`${origin}/api/v1/docs/`, { waitUntil: 'load' });
    await page.locator('.opblock').nth(operations - 1).waitFor();
    shown = await page.locator('.opblock').count();
    if (shown !== operations) problems.push(`shows ${shown} operations, the document has ${operations}`);
    await page.screenshot({ path: path.join(SCREENSHOTS, `${server.site.name}-api-docs.png`), fullPage: true });
  } catch (e) {
    problems.push(`could not check the page: ${e.message} (${shown} of ${operations} operations shown)`);
  } finally {
    await context.close();
  }
  for (const p of problems) fail(where, p);
  const line = `${problems.length ? 'FAIL' : 'ok  '} ${where.padEnd(24)} Swagger UI: ${shown} of ${operations} operations shown`;
  console.log(line);
  summaries.push(line);
}

// ---------------------------------------------------------------------------------
// The Nu HTML Checker over every saved page.

function runVnu(files) {
  if (files.length === 0) {
    fail('vnu', 'no HTML was saved, nothing to validate');
    return;
  }
  const run = spawnSync(JAVA, ['-jar', vnuJar, '--errors-only', '--format', 'gnu', ...files], {
    encoding: 'utf8',
    timeout: 5 * PATIENCE_MS,
  });
  if (run.error) {
    fail('vnu', `could not run ${JAVA} -jar ${vnuJar}: ${run.error.message} (is a Java runtime installed?)`);
    return;
  }
  const lines = `${run.stdout}${run.stderr}`.split('\n').filter((l) => l.trim() !== '');
  for (const line of lines) {
    fail('vnu', line.replace(`${HTML}${path.sep}`, 'artifacts/html/'));
  }
  if (run.status !== 0 && lines.length === 0) {
    fail('vnu', `exited with ${run.status ?? run.signal} and printed nothing`);
  }
  if (run.status === 0 && lines.length === 0) {
    summaries.push(`ok   vnu: ${files.length} HTML file(s) valid`);
  } else {
    summaries.push(`FAIL vnu: ${lines.length} error(s) in ${files.length} HTML file(s)`);
  }
}

// ---------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  if (!existsSync(HEARTH)) {
    console.error(`error: no hearth binary at ${HEARTH}; build it first (cargo build) or set HEARTH_BIN`);
    process.exit(2);
  }
  if (!existsSync(CHROMIUM)) {
    console.error(`error: no Chromium at ${CHROMIUM}; install Debian's chromium (scripts/services.sh does)`);
    process.exit(2);
  }
  rmSync(SCREENSHOTS, { recursive: true, force: true });
  rmSync(HTML, { recursive: true, force: true });
  mkdirSync(SCREENSHOTS, { recursive: true });
  mkdirSync(HTML, { recursive: true });
  if (SITES.length === 1) {
    console.log(`note: ${path.relative(REPO, SITE_FULL)} does not exist; checking the built-in demo only`);
  }

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    timeout: PATIENCE_MS,
  });
  const htmlFiles = [];
  try {
    for (const site of SITES) {
      let server;
      try {
        server = await startServer(site);
      } catch (e) {
        fail(site.name, e.message);
        continue;
      }
      console.log(`==> ${site.name}: hearth listening on ${server.addr}`);
      let crashed = false;
      try {
        for (const page of [...PAGES, ...site.pages]) {
          const file = await checkPage(browser, server, page);
          if (file) htmlFiles.push(file);
          if (server.exited) {
            crashed = true;
            fail(site.name, `hearth exited (${server.exited}) while being checked; its output:\n${server.logs.join('\n')}`);
            break;
          }
        }
        if (!crashed && site.name === 'demo') await checkDocs(browser, server);
      } finally {
        await stopServer(server);
      }
      if (server.exited && server.exited !== 'code 0' && !crashed) {
        fail(site.name, `hearth exited with ${server.exited} on SIGTERM; its output:\n${server.logs.join('\n')}`);
      }
    }
  } finally {
    await browser.close();
  }

  console.log(`==> Nu HTML Checker over ${htmlFiles.length} file(s)`);
  runVnu(htmlFiles);

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log('');
  if (notes.size) {
    console.log(`Not failing (axe moderate/minor, console warnings), ${notes.size}:`);
    report(notes);
    console.log('');
  }
  if (skipped.length) {
    console.log('!'.repeat(72));
    console.log(`!! SKIPPED ${skipped.length} page(s), not checked at all:`);
    for (const s of skipped) console.log(`!!   ${s}`);
    console.log('!'.repeat(72));
    console.log('');
  }
  for (const s of summaries) console.log(s);
  console.log(`screenshots: ${path.relative(REPO, SCREENSHOTS)}/, HTML: ${path.relative(REPO, HTML)}/`);
  if (failures.size) {
    console.log(`\nFAILED, ${failures.size} problem(s):`);
    report(failures);
    console.log(`browser checks FAILED in ${seconds}s: ${failures.size} problem(s), listed above`);
    process.exitCode = 1;
  } else {
    console.log(`browser checks passed in ${seconds}s`);
  }
}

main().catch((e) => {
  console.error(`browser checks crashed: ${e.stack || e}`);
  killServersNow();
  process.exit(1);
});
