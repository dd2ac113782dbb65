// The web UI in a real browser: sign in through the page, follow the navigation from the overview to an
// environment and a project, check keyboard focus is visible, and write screenshots. Prints one JSON object with
// what the browser saw; the Rust test (tests/api/web_ui.rs) decides what it means.
//
// Then the management pages: create an environment and a project, upload a zip through the project page while
// /uploads shows the phases live, the notification arriving at the bell, an API key created and revoked, the
// retention settings changed and a sweep run, a failing part retried, a resumed and a cancelled upload, a results
// folder zipped by the page and uploaded (resent after a failure with only its missing parts); a viewer's pages
// without management controls and its 403 pages; and axe-core run inside every page in both themes (the report is
// written next to the screenshots as a11y.json).
//
// Every context that runs the pages' scripts is watched for requests to other hosts (watch.mjs): neither the UI nor
// the framed report may send any.
//
// Environment: HUB (main origin), REPORTS (report origin), EMAIL, PASSWORD, SHOTS (directory for screenshots),
// VIEWER_COOKIE (a session of a user with the viewer role), ZIP (a results archive to upload), FOLDER (the same
// results as a folder, uploaded through the folder input).
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { probeWatch, watchOtherHosts } from './watch.mjs';

const { HUB, REPORTS, EMAIL, PASSWORD, SHOTS, VIEWER_COOKIE, ZIP, FOLDER } = process.env;
const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const seen = { errors: [], foreign: [], failed: [], shots: [] };
const hub = new URL(HUB);
const reportHost = REPORTS ? new URL(REPORTS).host : hub.host;
const serverOrigins = [hub.origin, ...(REPORTS ? [new URL(REPORTS).origin] : [])];
// One watch per context; those of the accessibility audit (which bypasses the pages' policies) are kept apart.
const otherHosts = [];
const auditOtherHosts = [];
const merged = (watches) => ({ left: watches.flatMap((w) => w.left), blocked: watches.flatMap((w) => w.blocked),
  otherFailures: watches.flatMap((w) => w.otherFailures) });
const shot = async (page, name) => {
  const path = `${SHOTS}/${name}.png`;
  // Generous: on a loaded machine Chromium may take long to produce a stable frame.
  await page.screenshot({ path, fullPage: true, timeout: 120000 });
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
  context.setDefaultTimeout(60000);
  otherHosts.push(await watchOtherHosts(context, serverOrigins));
  const page = await context.newPage();
  page.on('pageerror', (err) => seen.errors.push(`pageerror ${err.message}`));
  // Messages about another host's resources come from the framed report (its own requests), not from the UI.
  seen.reportFrameConsole = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const from = msg.location().url || '';
    const host = (() => { try { return new URL(from).host; } catch { return hub.host; } })();
    if (host !== hub.host) seen.reportFrameConsole.push(`${msg.text()} ${from}`);
    else seen.errors.push(`console ${msg.text()} ${from}`);
  });
  // The pages' own requests and messages are checked; what the framed Allure report does inside its frame (on the
  // report origin) is recorded apart, as it is the report's, not the UI's.
  seen.reportFrameRequests = [];
  const watch = (p) => {
    p.on('request', (req) => {
      if (req.frame() !== p.mainFrame()) { seen.reportFrameRequests.push(req.url()); return; }
      if (new URL(req.url()).host !== hub.host) seen.foreign.push(req.url());
    });
    p.on('response', (res) => {
      if (res.request().frame() !== p.mainFrame()) return;
      if (res.status() >= 400 && !res.url().endsWith('/nope')) seen.failed.push(`${res.status()} ${res.url()}`);
    });
  };
  watch(page);

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
  if (seen.phoneOverflow) {
    seen.phoneWide = await page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
      .filter((el) => { for (let a = el.parentElement; a; a = a.parentElement) { if (['auto', 'hidden', 'scroll'].includes(getComputedStyle(a).overflowX)) return false; } return true; })
      .slice(0, 8).map((el) => `${el.tagName}#${el.id}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`));
  }
  await page.setViewportSize({ width: 1280, height: 900 });

  // A build, from the project's table.
  await Promise.all([
    page.waitForURL(`${HUB}/environments/staging/projects/checkout/builds/b1`), page.click('table >> text=b1'),
  ]);
  seen.buildTitle = (await page.textContent('h1')).replace(/\s+/g, ' ').trim();
  // The report is framed from the report origin.
  await page.waitForSelector('iframe.report-frame');
  const reportFrame = await (async () => {
    for (let i = 0; i < 100; i += 1) {
      const frame = page.frames().find((f) => f.url().startsWith(`${REPORTS}/reports/`));
      if (frame) return frame;
      await page.waitForTimeout(100);
    }
    return null;
  })();
  seen.reportFrame = reportFrame ? new URL(reportFrame.url()).origin : null;
  // And renders there: the tree lists the build's four tests (named a, b, c and d). Chromium does not render a
  // cross-origin frame out of view, so it is scrolled into view first.
  await page.locator('iframe.report-frame').scrollIntoViewIfNeeded();
  seen.reportFrameRendered = reportFrame ? await reportFrame.waitForFunction(() => {
    const lines = document.body.innerText.split('\n').map((l) => l.trim());
    return ['a', 'b', 'c', 'd'].every((name) => lines.includes(name));
  }, null, { timeout: 30000 }).then(() => true, () => false) : false;
  await shot(page, 'build-dark');

  // --- Management: an environment and a project, created through the pages. ---
  await page.goto(`${HUB}/environments`);
  await page.fill('#env-id', 'qa');
  await page.fill('#env-name', 'QA');
  await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('#new-env button[type=submit]')]);
  seen.envCreated = await page.locator('.env-card[data-id=qa]').count();
  await page.goto(`${HUB}/environments/qa`);
  await page.fill('#project-id', 'web');
  await page.fill('#project-name', 'Web');
  await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('#new-project button[type=submit]')]);
  seen.projectCreated = await page.locator('tr[data-id=web]').count();
  await page.fill('#env-rename', 'QA team');
  await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('#rename-env button[type=submit]')]);
  seen.envRenamed = await page.textContent('h1');

  // The confirmation dialog: focus stays inside it, and Escape closes it without deleting.
  await page.click('#delete-env');
  await page.waitForSelector('#confirm-dialog[open]');
  const inDialog = [];
  for (let i = 0; i < 3; i += 1) {
    await page.keyboard.press('Tab');
    inDialog.push(await page.evaluate(() => Boolean(document.activeElement.closest('#confirm-dialog'))));
  }
  seen.dialogTrapsFocus = inDialog.every(Boolean);
  await shot(page, 'dialog-dark');
  await page.keyboard.press('Escape');
  seen.dialogClosedByEscape = !(await page.locator('#confirm-dialog[open]').count());
  seen.envAfterEscape = (await page.goto(`${HUB}/environments/qa`)).status();

  // --- An upload through the project page, watched live on /uploads in a second tab. ---
  const uploadsTab = await context.newPage();
  watch(uploadsTab);
  uploadsTab.on('pageerror', (err) => seen.errors.push(`pageerror ${err.message}`));
  await uploadsTab.goto(`${HUB}/uploads?envId=qa`);
  await uploadsTab.waitForFunction(() => document.getElementById('uploads-table').dataset.live === 'true');
  seen.bellBefore = Number(await uploadsTab.textContent('#bell-count'));
  await uploadsTab.evaluate(() => {
    window.phasesSeen = [];
    new MutationObserver(() => {
      for (const pill of document.querySelectorAll('#upload-rows tr .u-phase .status')) {
        const phase = pill.textContent;
        if (window.phasesSeen[window.phasesSeen.length - 1] !== phase) window.phasesSeen.push(phase);
      }
    }).observe(document.getElementById('upload-rows'), { childList: true, subtree: true, characterData: true });
  });
  await page.goto(`${HUB}/environments/qa/projects/web`);
  // Small parts, so that the archive travels in several chunks.
  await page.evaluate(() => localStorage.setItem('upload.chunkBytes', '512'));
  await page.setInputFiles('#upload-file', ZIP);
  await page.fill('#upload-build', 'u1');
  await page.click('#upload-start');
  await page.waitForFunction(() => /Done|failed/i.test(document.getElementById('upload-status').textContent),
    null, { timeout: 120000 });
  seen.uploadStatus = await page.textContent('#upload-status');
  await shot(page, 'project-uploaded-dark');
  await uploadsTab.waitForFunction(() => window.phasesSeen.includes('done'), null, { timeout: 60000 });
  seen.uploadPhases = await uploadsTab.evaluate(() => window.phasesSeen);
  seen.uploadRows = await uploadsTab.locator('#upload-rows tr').count();

  // --- The notification: the bell counts it live, the list links to the build and marks read. ---
  await uploadsTab.waitForFunction((before) => Number(document.getElementById('bell-count').textContent) > before,
    seen.bellBefore, { timeout: 60000 });
  seen.bellLive = Number(await uploadsTab.textContent('#bell-count'));
  await uploadsTab.close();
  await page.goto(`${HUB}/notifications`);
  seen.notifications = await page.locator('#notes .note h3').allTextContents();
  await Promise.all([
    page.waitForURL(`${HUB}/environments/qa/projects/web/builds/u1`),
    page.click('#notes .note >> text=Report ready: u1'),
  ]);
  seen.notificationTarget = page.url().slice(HUB.length);
  await page.goto(`${HUB}/notifications`);
  await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('#mark-all')]);
  seen.unreadAfterMarkAll = await page.locator('#notes .note.unread').count();
  seen.bellHiddenAfterMarkAll = await page.locator('#bell-count').isHidden();

  // --- An API key: created (the secret shown once), then revoked after confirming. ---
  await page.goto(`${HUB}/settings`);
  seen.settingsUrl = page.url().slice(HUB.length);
  await page.fill('#key-name', 'ci-browser');
  await page.selectOption('#key-role', 'developer');
  await page.click('#new-key button[type=submit]');
  await page.waitForSelector('#new-key-result:not([hidden])');
  seen.newKey = (await page.textContent('#new-key-value')).slice(0, 3);
  await shot(page, 'settings-key-created-dark');
  await page.reload();
  const keyRow = page.locator('tr', { hasText: 'ci-browser' });
  await keyRow.locator('button', { hasText: 'Revoke' }).click();
  await page.waitForSelector('#confirm-dialog[open]');
  await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('#confirm-ok')]);
  seen.keyState = (await page.locator('tr', { hasText: 'ci-browser' }).locator('td').nth(6).textContent()).trim();

  // --- Retention: new values saved, then a sweep run now. ---
  await page.goto(`${HUB}/settings/retention`);
  await page.fill('#r-days', '45');
  await page.check('#retention-form input[name=dryRun]');
  await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('#retention-form button[type=submit]')]);
  seen.retentionDays = await page.textContent('#retention-days');
  await page.click('#run-now');
  await page.waitForSelector('#confirm-dialog[open]');
  await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('#confirm-ok')]);
  seen.runTriggers = await page.locator('#runs tbody tr td:nth-child(3)').allTextContents();

  // --- The upload survives a failing part (retried), a reload (resumed with only the missing parts), and can be
  // cancelled. ---
  const partUrl = /\/api\/environments\/qa\/projects\/web\/uploads\/[0-9A-Z]+$/;
  // The parts failed or abandoned on purpose below are logged by Chromium: those messages are expected.
  const errorsBefore = seen.errors.length;
  await page.goto(`${HUB}/environments/qa/projects/web`);
  let tries = 0;
  await page.route(partUrl, (route) => {
    if (route.request().method() !== 'PUT') { route.continue(); return; }
    if (route.request().headers()['x-chunk-index'] === '2') { tries += 1; route.abort(); return; }
    route.continue();
  });
  await page.setInputFiles('#upload-file', ZIP);
  await page.fill('#upload-build', 'u2');
  await page.click('#upload-start');
  await page.waitForFunction(() => /Upload failed/.test(document.getElementById('upload-status').textContent),
    null, { timeout: 60000 });
  seen.partTries = tries;
  await page.unroute(partUrl);
  await page.reload();
  const sentAfterReload = [];
  page.on('request', (req) => { if (req.method() === 'PUT' && partUrl.test(req.url())) sentAfterReload.push(req.headers()['x-chunk-index']); });
  await page.setInputFiles('#upload-file', ZIP);
  await page.waitForSelector('#upload-resume:not([hidden])');
  seen.resumeOffer = await page.textContent('#upload-resume');
  seen.resumeBuild = await page.inputValue('#upload-build');
  await page.click('#upload-start');
  await page.waitForFunction(() => /Done|failed/i.test(document.getElementById('upload-status').textContent),
    null, { timeout: 120000 });
  seen.resumedStatus = await page.textContent('#upload-status');
  seen.resumedParts = [...sentAfterReload];

  // Cancel: a part that never answers, then "Cancel" deletes the session.
  await page.route(partUrl, (route) => { if (route.request().method() !== 'PUT') route.continue(); });
  await page.fill('#upload-build', 'u3');
  await page.click('#upload-start');
  await page.waitForSelector('#upload-cancel:not([hidden])');
  await page.waitForFunction(() => /Uploading/.test(document.getElementById('upload-status').textContent));
  await page.click('#upload-cancel');
  await page.waitForFunction(() => /cancelled/.test(document.getElementById('upload-status').textContent));
  await page.unroute(partUrl);
  seen.afterCancel = await page.evaluate(async () => (await (await fetch('/api/uploads?envId=qa')).json())
    .map((u) => `${u.buildId}:${u.phase}`));

  // A results folder, picked with the folder input: zipped in the page and sent in parts, with a failing part
  // retried and, after the upload gave up, the same folder uploaded again sending only the missing parts.
  await page.goto(`${HUB}/environments/qa/projects/web`);
  let folderTries = 0;
  await page.route(partUrl, (route) => {
    if (route.request().method() !== 'PUT') { route.continue(); return; }
    if (route.request().headers()['x-chunk-index'] === '2') { folderTries += 1; route.abort(); return; }
    route.continue();
  });
  await page.setInputFiles('#upload-folder', FOLDER);
  seen.folderChosen = await page.textContent('#upload-chosen');
  await page.fill('#upload-build', 'f1');
  await page.click('#upload-start');
  await page.waitForFunction(() => /Upload failed/.test(document.getElementById('upload-status').textContent),
    null, { timeout: 60000 });
  seen.folderFailed = await page.textContent('#upload-status');
  seen.folderTries = folderTries;
  await page.unroute(partUrl);
  const folderResent = [];
  page.on('request', (req) => { if (req.method() === 'PUT' && partUrl.test(req.url())) folderResent.push(req.headers()['x-chunk-index']); });
  await page.click('#upload-start');
  // The previous failure stays on screen until the new attempt reports.
  await page.waitForFunction(() => !/Upload failed/.test(document.getElementById('upload-status').textContent));
  await page.waitForFunction(() => /Done|failed/i.test(document.getElementById('upload-status').textContent),
    null, { timeout: 120000 });
  seen.folderStatus = await page.textContent('#upload-status');
  seen.folderResent = [...folderResent];
  await shot(page, 'project-folder-uploaded-dark');
  seen.folderUpload = await page.evaluate(async () => {
    const u = (await (await fetch('/api/uploads?envId=qa')).json()).find((s) => s.buildId === 'f1');
    return u && { fileName: u.fileName, totalSize: u.totalSize, totalChunks: u.totalChunks, phase: u.phase };
  });
  const statsOf = (build) => page.evaluate(async (b) => (await (await fetch(
    `/api/environments/qa/projects/web/reports/${b}`)).json()).stats, build);
  seen.folderStats = await statsOf('f1');
  seen.zipStats = await statsOf('u1');

  // A folder dropped on the drop zone. A test cannot drag a real folder into Chromium, so the directory entries
  // are stood in for, handing out their children one per batch as real directory readers do in batches.
  await page.goto(`${HUB}/environments/qa/projects/web`);
  await page.evaluate(() => {
    const result = (id, status) => new File([JSON.stringify({ uuid: id, name: id, historyId: id, status,
      start: 1000, stop: 2000 })], `${id}-result.json`, { lastModified: 0 });
    const fileEntry = (file) => ({ isFile: true, isDirectory: false, name: file.name,
      file: (ok) => { setTimeout(() => ok(file)); } });
    const dirEntry = (name, children) => ({ isFile: false, isDirectory: true, name, createReader: () => {
      let at = 0;
      return { readEntries: (ok) => { setTimeout(() => ok(children.slice(at, (at += 1)))); } };
    } });
    const root = dirEntry('dropped', [fileEntry(result('d1', 'passed')), fileEntry(result('d2', 'failed')),
      dirEntry('data', [fileEntry(new File(['attached'], 'd1-attachment.txt'))])]);
    const event = new Event('drop', { cancelable: true });
    Object.defineProperty(event, 'dataTransfer', { value: {
      items: [{ kind: 'file', webkitGetAsEntry: () => root }], files: [new File([], 'dropped')],
    } });
    document.getElementById('upload-drop').dispatchEvent(event);
  });
  await page.waitForSelector('#upload-chosen:not([hidden])');
  seen.droppedChosen = await page.textContent('#upload-chosen');
  await page.fill('#upload-build', 'f2');
  await page.click('#upload-start');
  await page.waitForFunction(() => /Done|failed/i.test(document.getElementById('upload-status').textContent),
    null, { timeout: 120000 });
  seen.droppedStatus = await page.textContent('#upload-status');
  seen.droppedStats = await statsOf('f2');
  seen.droppedFiles = await page.evaluate(async () => (await (await fetch(
    '/api/uploads?envId=qa')).json()).find((s) => s.buildId === 'f2').fileName);
  seen.errors = seen.errors.filter((e, i) => i < errorsBefore || !/net::ERR_(FAILED|ABORTED)/.test(e));

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
    profile: '/profile', 'not-found': '/nope', uploads: '/uploads', notifications: '/notifications',
    'settings-api-keys': '/settings/api-keys', 'settings-users': '/settings/users', 'settings-disk': '/settings/disk',
    'settings-allure': '/settings/allure', 'settings-retention': '/settings/retention', login: '/login',
  };
  seen.noScript = {};
  for (const colorScheme of ['light', 'dark']) {
    const nojs = await browser.newContext({ javaScriptEnabled: false, colorScheme, viewport: { width: 1280, height: 900 } });
    otherHosts.push(await watchOtherHosts(nojs, serverOrigins));
    await nojs.addCookies(await context.cookies());
    const plain = await nojs.newPage();
    for (const [name, path] of Object.entries(pages)) {
      if (name === 'login') continue;
      const res = await plain.goto(`${HUB}${path}`);
      seen.noScript[path] = { status: res.status(), title: (await plain.textContent('h1')).replace(/\s+/g, ' ').trim(),
        charts: await plain.locator('svg.chart').count() };
      await shot(plain, `page-${name}-${colorScheme}`);
    }
    await nojs.close();
  }

  // axe-core inside every page, in both themes, with scripts on (the live parts included); serious and critical
  // violations are what the Rust test fails on, all of them go to a11y.json.
  seen.a11y = {};
  const report = {};
  for (const colorScheme of ['light', 'dark']) {
    // The audit's own script is injected inline, which the pages' policy rightly refuses: bypassed for the audit only.
    const ctx = await browser.newContext({ colorScheme, bypassCSP: true, viewport: { width: 1280, height: 900 } });
    // Without the policies the framed report does try other hosts: stopped, listed, not held against anyone.
    auditOtherHosts.push(await watchOtherHosts(ctx, serverOrigins));
    const signedIn = (await context.cookies()).filter((c) => c.name === 'allure_hub_session');
    for (const [name, path] of Object.entries(pages)) {
      await ctx.clearCookies();
      if (name !== 'login') await ctx.addCookies(signedIn);
      const p = await ctx.newPage();
      await p.goto(`${HUB}${path}`);
      await p.addScriptTag({ path: axePath });
      const result = await p.evaluate(async () => {
        const r = await window.axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
          nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
      });
      report[`${name}-${colorScheme}`] = result;
      seen.a11y[`${name}-${colorScheme}`] = result.filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id}: ${v.nodes.join(', ')}`);
      await p.close();
    }
    await ctx.close();
  }
  writeFileSync(`${SHOTS}/a11y.json`, `${JSON.stringify(report, null, 2)}\n`);
  seen.a11yReport = `${SHOTS}/a11y.json`;

  // --- A viewer: no management controls, and the 403 page on settings URLs. ---
  const viewerCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  otherHosts.push(await watchOtherHosts(viewerCtx, serverOrigins));
  await viewerCtx.addCookies([{ name: 'allure_hub_session', value: VIEWER_COOKIE, url: HUB }]);
  const viewer = await viewerCtx.newPage();
  seen.viewer = { controls: {}, forbidden: {} };
  for (const path of ['/environments', '/environments/staging', '/environments/staging/projects/checkout',
    '/environments/staging/projects/checkout/builds/b1', '/uploads', '/notifications']) {
    await viewer.goto(`${HUB}${path}`);
    seen.viewer.controls[path] = await viewer.locator(
      // Marking and deleting one's own notifications needs `view` only: those controls stay.
      '[data-call]:not([data-url^="/api/notifications"]), #upload-form, #new-env, #new-project, a[href^="/settings"]',
    ).count();
  }
  for (const path of ['/settings', '/settings/api-keys', '/settings/users', '/settings/disk', '/settings/allure',
    '/settings/retention']) {
    const res = await viewer.goto(`${HUB}${path}`);
    seen.viewer.forbidden[path] = { status: res.status(), title: await viewer.textContent('h1') };
  }
  await shot(viewer, 'viewer-forbidden');
  await viewerCtx.close();

  // Sign out from the profile page: back to sign-in, and pages need signing in again.
  await page.goto(`${HUB}/profile`);
  seen.profileTitle = await page.textContent('h1');
  await Promise.all([page.waitForURL(`${HUB}/login`), page.click('#sign-out')]);
  await page.goto(`${HUB}/`);
  seen.afterSignOut = page.url().slice(HUB.length);

  seen.watchCaughtProbe = await probeWatch(context, otherHosts[0]);
  seen.otherHosts = merged(otherHosts);
  seen.auditOtherHosts = merged(auditOtherHosts);
} catch (e) {
  // The Rust test prints what was seen up to the failure, with the page's state.
  seen.fatal = `${e.message}`;
  for (const [i, p] of browser.contexts().flatMap((c) => c.pages()).entries()) {
    seen[`fatalPage${i}`] = { url: p.url(), status: await p.textContent('#upload-status').catch(() => null),
      flash: await p.textContent('#flash').catch(() => null) };
    await p.screenshot({ path: `${SHOTS}/fatal-${i}.png`, fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(seen)}\n`);
