// Signing in through the sign-in page with a `next` that names another host, in a real browser: whatever the
// server's check or the page's script lets through, the browser re-reads with its own URL parsing, so this is where
// an open redirect shows. Each sign-in runs in a fresh (signed-out) context; requests to any other host are
// recorded and refused. Prints one JSON object with where each sign-in ended; the Rust test (tests/api/web_ui.rs)
// decides what it means.
//
// Environment: HUB (main origin), EMAIL, PASSWORD, NEXTS (a JSON array of `next` values as written in the query),
// TAMPERED (a JSON array of values put into the form's `data-next` after the page loaded, standing in for markup
// the server did not check, to prove the script's own guard).
import { chromium } from 'playwright-core';

const { HUB, EMAIL, PASSWORD, NEXTS, TAMPERED } = process.env;
const hub = new URL(HUB);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const seen = { results: [], foreign: [], errors: [] };

const signIn = async (next, tampered) => {
  const label = tampered === undefined ? next : `data-next ${JSON.stringify(tampered)}`;
  const context = await browser.newContext();
  context.setDefaultTimeout(30000);
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.host !== hub.host) {
      seen.foreign.push(`${label}: ${url.href}`);
      return route.abort();
    }
    return route.continue();
  });
  const page = await context.newPage();
  page.on('pageerror', (err) => seen.errors.push(`${label}: ${err.message}`));
  try {
    await page.goto(`${HUB}/login?next=${next}`);
    if (tampered !== undefined) {
      await page.evaluate((value) => { document.getElementById('login-form').dataset.next = value; }, tampered);
    }
    await page.fill('#email', EMAIL);
    await page.fill('#password', PASSWORD);
    // Any navigation away from the sign-in page: to this origin, or (refused) elsewhere, which leaves an error page.
    await Promise.all([
      page.waitForURL((url) => url.host !== hub.host || url.pathname !== '/login'),
      page.click('button[type=submit]'),
    ]);
    seen.results.push({ next: label, landed: page.url() });
  } catch (err) {
    // A navigation to another host fails (it is refused above): where the page was left is the answer.
    seen.results.push({ next: label, landed: page.url(), error: String(err).split('\n')[0] });
  } finally {
    await context.close();
  }
};

try {
  for (const next of JSON.parse(NEXTS)) await signIn(next);
  for (const value of JSON.parse(TAMPERED)) await signIn('/', value);
} catch (err) {
  seen.fatal = String(err && err.stack ? err.stack : err);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(seen));
