// The web UI in a real browser: sign in through the page, follow the navigation from the overview to an
// environment and a project, check keyboard focus is visible, and write screenshots. Prints one JSON object with
// what the browser saw; the Rust test (tests/api/web_ui.rs) decides what it means.
//
// Environment: HUB (main origin), EMAIL, PASSWORD, SHOTS (directory for screenshots).
import { chromium } from 'playwright-core';

const { HUB, EMAIL, PASSWORD, SHOTS } = process.env;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const seen = { errors: [], foreign: [], failed: [], shots: [] };
const hub = new URL(HUB);
const shot = async (page, name) => {
  const path = `${SHOTS}/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  seen.shots.push(path);
};
// What the focused element looks like: its tag, text and outline.
const focused = (page) => page.evaluate(() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return { tag: el.tagName, text: (el.textContent || '').trim().slice(0, 40), outlineStyle: style.outlineStyle,
    outlineWidth: style.outlineWidth };
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
  const page = await context.newPage();
  page.on('pageerror', (err) => seen.errors.push(`pageerror ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') seen.errors.push(`console ${msg.text()}`); });
  page.on('request', (req) => { if (new URL(req.url()).host !== hub.host) seen.foreign.push(req.url()); });
  page.on('response', (res) => {
    if (res.status() >= 400 && !res.url().endsWith('/nope')) seen.failed.push(`${res.status()} ${res.url()}`);
  });

  // An anonymous visit is sent to sign in, and comes back to the page asked for.
  await page.goto(`${HUB}/environments/staging`);
  seen.loginUrl = page.url().slice(HUB.length);
  await shot(page, 'login');
  await page.fill('#email', EMAIL);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${HUB}/environments/staging`), page.click('button[type=submit]')]);
  seen.afterLogin = page.url().slice(HUB.length);

  // A signed-in user visiting the sign-in page is sent on.
  await page.goto(`${HUB}/login?next=/profile`);
  seen.loginWhenSignedIn = page.url().slice(HUB.length);

  // The overview, reached from the navigation.
  await page.click('nav[aria-label=Main] >> text=Overview');
  await page.waitForURL(`${HUB}/`);
  seen.overviewTitle = await page.textContent('h1');
  seen.overviewBars = await page.locator('svg.chart rect.c-pass').count();
  seen.overviewRecent = await page.locator('#recent-title + table tbody tr').count();
  await shot(page, 'overview-light');

  // Keyboard: the first Tab reaches the skip link, the next ones the header; each shows an outline.
  seen.focus = [];
  for (let i = 0; i < 4; i += 1) {
    await page.keyboard.press('Tab');
    seen.focus.push(await focused(page));
  }

  // The filters are kept in the URL.
  await page.selectOption('#f-env', 'staging');
  await Promise.all([page.waitForURL(/envId=staging/), page.click('form.filters button[type=submit]')]);
  seen.filteredUrl = page.url().slice(HUB.length);

  // Environments → staging → its project.
  await page.click('nav[aria-label=Main] >> text=Environments');
  await page.waitForURL(`${HUB}/environments`);
  seen.envCards = await page.locator('.env-card').count();
  await shot(page, 'environments');
  await Promise.all([page.waitForURL(`${HUB}/environments/staging`), page.click('.env-card >> text=Staging')]);
  seen.envTitle = await page.textContent('h1');
  await shot(page, 'environment');
  await Promise.all([
    page.waitForURL(`${HUB}/environments/staging/projects/checkout`), page.click('table >> text=Checkout'),
  ]);
  seen.projectTitle = await page.textContent('h1');
  seen.projectBuilds = await page.locator('#builds-title ~ table tbody tr').allTextContents();
  seen.projectCharts = await page.locator('svg.chart').count();
  await shot(page, 'project-light');

  // The theme toggle switches to dark and says so.
  await page.click('#theme-toggle');
  seen.theme = await page.evaluate(() => document.documentElement.dataset.theme);
  seen.themePressed = await page.getAttribute('#theme-toggle', 'aria-pressed');
  await shot(page, 'project-dark');

  // A phone-sized window keeps the page usable.
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'project-phone-dark');
  seen.phoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  await page.setViewportSize({ width: 1280, height: 900 });

  // A build, from the project's table.
  await Promise.all([
    page.waitForURL(`${HUB}/environments/staging/projects/checkout/builds/b1`), page.click('table >> text=b1'),
  ]);
  seen.buildTitle = (await page.textContent('h1')).replace(/\s+/g, ' ').trim();
  await shot(page, 'build-dark');

  // The 404 page. Chromium logs the 404 status of the document itself as a console error: that one is expected.
  const before = seen.errors.length;
  const missing = await page.goto(`${HUB}/nope`);
  seen.errors = seen.errors.filter((e, i) => i < before || !e.includes('status of 404'));
  seen.notFound = { status: missing.status(), title: await page.textContent('h1') };
  await shot(page, 'not-found');

  // With JavaScript disabled, the same session still reads every page: they are rendered on the server. Each page
  // is shot in both themes, which follow the system setting without any script.
  const pages = {
    overview: '/', environments: '/environments', environment: '/environments/staging',
    project: '/environments/staging/projects/checkout', build: '/environments/staging/projects/checkout/builds/b1',
    profile: '/profile', 'not-found': '/nope',
  };
  seen.noScript = {};
  for (const colorScheme of ['light', 'dark']) {
    const nojs = await browser.newContext({ javaScriptEnabled: false, colorScheme, viewport: { width: 1280, height: 900 } });
    await nojs.addCookies(await context.cookies());
    const plain = await nojs.newPage();
    for (const [name, path] of Object.entries(pages)) {
      const res = await plain.goto(`${HUB}${path}`);
      seen.noScript[path] = { status: res.status(), title: (await plain.textContent('h1')).replace(/\s+/g, ' ').trim(),
        charts: await plain.locator('svg.chart').count() };
      await shot(plain, `page-${name}-${colorScheme}`);
    }
    await nojs.close();
  }

  // Sign out from the profile page: back to sign-in, and pages need signing in again.
  await page.goto(`${HUB}/profile`);
  seen.profileTitle = await page.textContent('h1');
  await Promise.all([page.waitForURL(`${HUB}/login`), page.click('#sign-out')]);
  await page.goto(`${HUB}/`);
  seen.afterSignOut = page.url().slice(HUB.length);
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(seen)}\n`);
