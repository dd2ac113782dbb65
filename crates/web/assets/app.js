// allure-hub web UI: the few things that need the browser. Loaded in <head> so the chosen theme applies before
// the first paint; everything else waits for the document.
(() => {
  'use strict';
  const root = document.documentElement;
  const stored = (() => { try { return localStorage.getItem('theme'); } catch { return null; } })();
  if (stored === 'light' || stored === 'dark') root.dataset.theme = stored;

  const systemDark = () => window.matchMedia('(prefers-color-scheme: dark)').matches;
  const isDark = () => (root.dataset.theme ? root.dataset.theme === 'dark' : systemDark());

  // Changes are sent with the session's CSRF token as well as the browser's Origin header.
  const send = (method, url, body) => {
    const headers = { Accept: 'application/json' };
    const token = document.querySelector('meta[name="csrf-token"]');
    if (token) headers['X-CSRF-Token'] = token.content;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin' });
  };

  const errorText = async (res) => {
    try { return (await res.json()).error || `Request failed (${res.status})`; } catch { return `Request failed (${res.status})`; }
  };

  document.addEventListener('DOMContentLoaded', () => {
    const toggle = document.getElementById('theme-toggle');
    if (toggle) {
      toggle.hidden = false;
      toggle.setAttribute('aria-pressed', String(isDark()));
      toggle.addEventListener('click', () => {
        const next = isDark() ? 'light' : 'dark';
        root.dataset.theme = next;
        try { localStorage.setItem('theme', next); } catch { /* private mode: the choice lasts for this page */ }
        toggle.setAttribute('aria-pressed', String(next === 'dark'));
      });
    }

    const form = document.getElementById('login-form');
    if (form) {
      const error = document.getElementById('login-error');
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        error.hidden = true;
        const res = await send('POST', '/auth/login',
          { email: form.elements.email.value, password: form.elements.password.value });
        if (res.ok) {
          window.location.assign(form.dataset.next || '/');
          return;
        }
        error.textContent = res.status === 401 ? 'Wrong email or password.' : await errorText(res);
        error.hidden = false;
        form.elements.password.focus();
      });
    }

    const signOut = document.getElementById('sign-out');
    if (signOut) {
      signOut.addEventListener('click', async () => {
        const res = await send('POST', '/auth/logout');
        if (res.ok) {
          window.location.assign('/login');
          return;
        }
        const error = document.getElementById('sign-out-error');
        error.textContent = await errorText(res);
        error.hidden = false;
      });
    }
  });
})();
