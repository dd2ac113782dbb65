// Requests to hosts other than the test server's, watched on a whole browser context: a report must never phone
// home (docs/reports.md, "What a report may load").
//
// `left` lists the requests that got past the page's content security policy to the network: they are stopped here,
// so nothing leaves even on a machine with internet access. `blocked` lists those the policy refused inside the
// browser: Chromium still reports them as requests, failed with `csp` before anything was sent. `otherFailures` is
// anything else that failed on the way out (expected empty).
export async function watchOtherHosts(context, allowedOrigins) {
  const watch = { left: [], blocked: [], otherFailures: [] };
  const other = (url) => /^(https?|wss?):$/.test(url.protocol) && !allowedOrigins.includes(url.origin);
  await context.route(other, (route) => {
    watch.left.push(`${route.request().method()} ${route.request().url()}`);
    return route.abort('blockedbyclient');
  });
  context.on('requestfailed', (req) => {
    if (!other(new URL(req.url()))) return;
    const reason = req.failure()?.errorText;
    if (reason === 'csp') watch.blocked.push(req.url());
    else if (!watch.left.includes(`${req.method()} ${req.url()}`)) watch.otherFailures.push(`${reason} ${req.url()}`);
  });
  return watch;
}

// Proves that `watch` (of `context`) catches a request that does leave, sent from a blank page of its own (no policy,
// no listener of the test's pages), then forgets it.
export async function probeWatch(context, watch) {
  const probe = 'GET http://watch-probe.invalid/';
  const page = await context.newPage();
  await page.evaluate(() => fetch('http://watch-probe.invalid/').catch(() => null));
  await page.close();
  const caught = watch.left.includes(probe);
  watch.left = watch.left.filter((r) => r !== probe);
  return caught;
}
