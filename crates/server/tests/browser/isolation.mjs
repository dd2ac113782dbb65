// Report isolation in a real browser (contract §8.9.4): a viewer signed in on the main origin opens a report and
// then an HTML attachment whose script attacks the main origin with the viewer's browser state. Prints one JSON
// object: what the browser saw. The Rust test decides what it means and checks the server side itself.
//
// Environment: HUB (main origin), REPORTS (report origin), EMAIL, PASSWORD, REPORT (main-origin path of the
// report's index.html), ATTACHMENT (main-origin path of the attachment), MARKER (a test name the rendered report must
// show).
//
// Requests to any other origin are watched on the whole browser context (watch.mjs).
import { chromium } from 'playwright-core';
import { probeWatch, watchOtherHosts } from './watch.mjs';

const { HUB, REPORTS, EMAIL, PASSWORD, REPORT, ATTACHMENT, MARKER } = process.env;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  // The machine has no network beyond loopback: keep Chromium from trying.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const seen = {};
try {
  const context = await browser.newContext();
  const watch = await watchOtherHosts(context, [new URL(HUB).origin, new URL(REPORTS).origin]);
  const page = await context.newPage();
  await page.goto(`${HUB}/api/healthz`);
  seen.login = await page.evaluate(async ([email, password]) => {
    const res = await fetch('/auth/login', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password }),
    });
    return res.status;
  }, [EMAIL, PASSWORD]);

  // The report: through the main origin's redirect to the report origin, rendered with its data files.
  const failed = [];
  const errors = [];
  page.on('response', (res) => { if (res.status() >= 400) failed.push(`${res.status()} ${res.url()}`); });
  page.on('requestfailed', (req) => failed.push(`failed ${req.url()}`));
  page.on('pageerror', (err) => errors.push(`pageerror ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console ${msg.text()} @ ${msg.location().url}`); });
  await page.goto(`${HUB}${REPORT}`, { waitUntil: 'networkidle' });
  seen.reportOrigin = new URL(page.url()).origin;
  seen.reportRendered = await page.waitForFunction((marker) => document.body.innerText.includes(marker), MARKER,
    { timeout: 20000 }).then(() => true, () => false);
  seen.reportFailures = failed.splice(0);
  seen.reportErrors = errors.splice(0);
  seen.reportTitle = await page.title();

  // The attachment, opened as a page of its own on the report origin: its script runs with full rights there.
  await page.goto(`${HUB}${ATTACHMENT}`);
  await page.waitForSelector('#done', { state: 'attached', timeout: 20000 });
  seen.attack = JSON.parse(await page.textContent('#result'));
  seen.attackOrigin = new URL(page.url()).origin;

  // Back on the main origin: is the session still there?
  await page.goto(`${HUB}/api/healthz`);
  seen.meAfter = await page.evaluate(async () => (await fetch('/auth/me')).status);
  seen.cookies = (await context.cookies()).map((c) => `${c.name}@${c.domain}:${c.path}:${c.httpOnly}`);

  seen.watchCaughtProbe = await probeWatch(context, watch);
  seen.otherHosts = watch;
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(seen)}\n`);
