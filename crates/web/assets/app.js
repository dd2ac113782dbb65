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

  const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

  // A short message at the top of the page, read out by screen readers.
  const flash = (text, isError) => {
    const el = document.getElementById('flash');
    if (!el) return;
    el.textContent = text;
    el.classList.toggle('alert', Boolean(isError));
    el.hidden = false;
  };

  // The confirmation dialog: a modal <dialog> (the rest of the page is inert while it is open), Tab and Shift+Tab
  // kept between its buttons, Escape and Cancel answer "no", and focus returns to where it was.
  const ask = (text, okLabel) => new Promise((resolve) => {
    const dialog = document.getElementById('confirm-dialog');
    if (!dialog || typeof dialog.showModal !== 'function') { resolve(window.confirm(text)); return; }
    const before = document.activeElement;
    const ok = document.getElementById('confirm-ok');
    const cancel = document.getElementById('confirm-cancel');
    document.getElementById('confirm-text').textContent = text;
    ok.textContent = okLabel || 'Confirm';
    const finish = (answer) => {
      dialog.removeEventListener('keydown', onKey);
      dialog.removeEventListener('cancel', onCancel);
      ok.onclick = null;
      cancel.onclick = null;
      if (dialog.open) dialog.close();
      if (before && before.focus) before.focus();
      resolve(answer);
    };
    const onCancel = (event) => { event.preventDefault(); finish(false); };
    const onKey = (event) => {
      if (event.key === 'Escape') { event.preventDefault(); finish(false); return; }
      if (event.key !== 'Tab') return;
      const items = [cancel, ok];
      const at = items.indexOf(document.activeElement);
      event.preventDefault();
      items[(at + (event.shiftKey ? items.length - 1 : 1)) % items.length].focus();
    };
    dialog.addEventListener('keydown', onKey);
    dialog.addEventListener('cancel', onCancel);
    ok.onclick = () => finish(true);
    cancel.onclick = () => finish(false);
    dialog.showModal();
    cancel.focus();
  });

  // The JSON body of a form: checkboxes are booleans, `data-kind="int"` fields numbers, empty optional fields left
  // out.
  const formBody = (form) => {
    const body = {};
    for (const el of form.elements) {
      if (!el.name || el.type === 'submit' || el.type === 'button' || el.type === 'file') continue;
      if (el.type === 'checkbox') body[el.name] = el.checked;
      else if (el.dataset.kind === 'int') body[el.name] = Number.parseInt(el.value, 10);
      else if (el.value !== '' || el.required) body[el.name] = el.value;
    }
    return body;
  };

  // What follows a successful action: `reload`, `remove` (the row or entry it belongs to), `go:<path>`,
  // `flash:<text>`, or `key` (the new API key, shown once).
  const after = async (el, res) => {
    const then = el.dataset.then || 'reload';
    if (then === 'reload') { window.location.reload(); return; }
    if (then === 'remove') {
      const row = el.closest('[data-id]');
      if (row) row.remove();
      flash('Deleted.');
      return;
    }
    if (then.startsWith('go:')) { window.location.assign(then.slice(3)); return; }
    if (then.startsWith('flash:')) { flash(then.slice(6)); return; }
    if (then === 'key') {
      const created = await res.json();
      document.getElementById('new-key-value').textContent = created.key;
      const box = document.getElementById('new-key-result');
      box.hidden = false;
      el.reset();
      document.getElementById('copy-key').focus();
    }
  };

  // Buttons and forms carrying `data-call="METHOD"` and `data-url` call the JSON API (same origin, CSRF token),
  // after a confirmation when they carry `data-confirm`.
  const act = async (el, body) => {
    if (el.dataset.confirm && !(await ask(el.dataset.confirm))) return;
    const res = await send(el.dataset.call, el.dataset.url, body);
    if (res.ok) { await after(el, res); return; }
    flash(await errorText(res), true);
  };

  document.addEventListener('DOMContentLoaded', () => {
    for (const el of document.querySelectorAll('[data-js]')) el.hidden = false;
    document.addEventListener('click', (event) => {
      const button = event.target.closest('button[data-call]');
      if (button) {
        event.preventDefault();
        act(button, button.dataset.body ? JSON.parse(button.dataset.body) : undefined);
        return;
      }
      // Following a notification to its build marks it read; the navigation does not wait for that.
      const link = event.target.closest('a[data-read-on-click]');
      if (link) {
        const headers = {};
        const token = document.querySelector('meta[name="csrf-token"]');
        if (token) headers['X-CSRF-Token'] = token.content;
        fetch(link.dataset.readOnClick, { method: 'PATCH', headers, keepalive: true, credentials: 'same-origin' });
      }
    });
    document.addEventListener('submit', (event) => {
      const form = event.target.closest('form[data-call]');
      if (!form) return;
      event.preventDefault();
      act(form, formBody(form));
    });
    const copy = document.getElementById('copy-key');
    if (copy) {
      copy.addEventListener('click', async () => {
        const text = document.getElementById('new-key-value').textContent;
        const done = document.getElementById('copy-done');
        try { await navigator.clipboard.writeText(text); done.textContent = 'Copied.'; } catch {
          // Without clipboard access, select the key so that the user can copy it.
          window.getSelection().selectAllChildren(document.getElementById('new-key-value'));
          done.textContent = 'Selected: press Ctrl+C to copy.';
        }
      });
    }
    uploader();
  });
  // Event streams never end: opened after `load`, they cannot hold the page's load event back.
  window.addEventListener('load', () => {
    liveBell();
    liveUploads();

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

  // The bell's unread count follows the notification stream; after (re)connecting it is read again, because the
  // stream replays nothing (§1.10).
  function liveBell() {
    const count = document.getElementById('bell-count');
    if (!count || typeof EventSource !== 'function') return;
    const show = (n) => { count.textContent = String(n); count.hidden = n === 0; };
    const source = new EventSource('/api/notifications/stream');
    source.addEventListener('open', async () => {
      const res = await send('GET', '/api/notifications/unread');
      if (res.ok) show((await res.json()).count);
    });
    source.addEventListener('notification', (event) => {
      const note = JSON.parse(event.data);
      show(Number.parseInt(count.textContent, 10) + 1 || 1);
      flash(`New notification: ${note.title}`);
      const list = document.getElementById('notes');
      if (list) {
        const item = document.createElement('li');
        item.className = `note sev-${note.severity} unread`;
        item.dataset.id = note.id;
        const heading = document.createElement('h3');
        const p = note.payload || {};
        if (p.env_id && p.project_id && p.build_id) {
          const a = document.createElement('a');
          a.href = `/environments/${p.env_id}/projects/${p.project_id}/builds/${p.build_id}`;
          a.dataset.readOnClick = `/api/notifications/${note.id}/read`;
          a.textContent = note.title;
          heading.append(a);
        } else heading.textContent = note.title;
        const body = document.createElement('p');
        body.textContent = note.body;
        item.append(heading, body);
        list.prepend(item);
        const empty = document.getElementById('notes-empty');
        if (empty) empty.hidden = true;
      }
    });
  }

  // Upload sessions on /uploads follow the upload stream: an `update` replaces or adds a row, `deleted` removes it.
  function liveUploads() {
    const table = document.getElementById('uploads-table');
    if (!table || typeof EventSource !== 'function') return;
    const rows = document.getElementById('upload-rows');
    const cell = (text) => { const td = document.createElement('td'); td.textContent = text; return td; };
    const render = (u) => {
      let row = rows.querySelector(`tr[data-id="${u.id}"]`);
      if (!row) {
        row = document.createElement('tr');
        row.dataset.id = u.id;
        const started = cell(new Date(u.startedAt).toISOString().slice(0, 16).replace('T', ' ') + ' UTC');
        const build = document.createElement('td');
        const link = document.createElement('a');
        link.href = `/environments/${u.envId}/projects/${u.projectId}/builds/${u.buildId}`;
        link.textContent = u.buildId;
        const where = document.createElement('span');
        where.className = 'muted';
        where.textContent = ` ${u.envId}/${u.projectId}`;
        build.append(link, where);
        const phase = document.createElement('td');
        phase.className = 'u-phase';
        const progress = document.createElement('td');
        progress.className = 'u-progress';
        row.append(started, build, cell(u.kind), cell(u.fileName || '–'), phase, progress, cell(u.uploadedBy),
          cell(''));
        rows.prepend(row);
      }
      const phase = row.querySelector('.u-phase');
      const pill = document.createElement('span');
      pill.className = `status s-${u.phase}`;
      pill.textContent = u.phase;
      phase.replaceChildren(pill);
      if (u.error) {
        const error = document.createElement('span');
        error.className = 'u-error alert-text';
        error.textContent = u.failedAtPhase ? `${u.error} (while ${u.failedAtPhase})` : u.error;
        phase.append(error);
      }
      row.querySelector('.u-progress').textContent = u.kind === 'regenerate' ? '–'
        : `${u.receivedChunks}/${u.totalChunks} chunks`;
      table.hidden = false;
      document.getElementById('uploads-empty').hidden = true;
    };
    const source = new EventSource(table.dataset.stream);
    source.addEventListener('update', (event) => render(JSON.parse(event.data)));
    source.addEventListener('deleted', (event) => {
      const row = rows.querySelector(`tr[data-id="${JSON.parse(event.data).id}"]`);
      if (row) row.remove();
    });
    source.addEventListener('open', () => { table.dataset.live = 'true'; });
  }

  // The project page's upload: the chunked API (§6) with a retry per chunk, resume after a reload (the session id
  // is kept in localStorage per file), cancel, and the phases from the upload stream once the archive is sent.
  function uploader() {
    const form = document.getElementById('upload-form');
    if (!form) return;
    const { env, project } = form.dataset;
    const base = `/api/environments/${env}/projects/${project}/uploads`;
    const fileInput = form.elements.file;
    const status = document.getElementById('upload-status');
    const bar = document.getElementById('upload-progress');
    const cancelButton = document.getElementById('upload-cancel');
    const startButton = document.getElementById('upload-start');
    const resume = document.getElementById('upload-resume');
    const chunkBytes = () => {
      const wanted = Number.parseInt((() => { try { return localStorage.getItem('upload.chunkBytes'); } catch { return null; } })(), 10);
      return wanted > 0 ? wanted : 8 * 1024 * 1024;
    };
    const keyOf = (file) => `upload:${env}/${project}/${file.name}/${file.size}/${file.lastModified}`;
    const remember = (file, value) => {
      try { if (value) localStorage.setItem(keyOf(file), JSON.stringify(value)); else localStorage.removeItem(keyOf(file)); } catch { /* no storage: no resume */ }
    };
    const recall = (file) => { try { return JSON.parse(localStorage.getItem(keyOf(file)) || 'null'); } catch { return null; } };
    let running = null;

    const say = (text) => { status.textContent = text; };
    const drop = document.getElementById('upload-drop');
    drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (event) => {
      event.preventDefault();
      drop.classList.remove('over');
      if (event.dataTransfer.files.length) { fileInput.files = event.dataTransfer.files; fileInput.dispatchEvent(new Event('change')); }
    });
    fileInput.addEventListener('change', async () => {
      resume.hidden = true;
      const file = fileInput.files[0];
      if (!file) return;
      const saved = recall(file);
      if (!saved) return;
      const res = await send('GET', `${base}/${saved.uploadId}`);
      if (!res.ok) { remember(file, null); return; }
      const session = await res.json();
      if (session.phase !== 'uploading') { remember(file, null); return; }
      form.elements.buildId.value = saved.buildId;
      resume.textContent = `An upload of this file for build ${saved.buildId} was interrupted with ${session.receivedChunks} of ${session.totalChunks} parts sent: Upload resumes it.`;
      resume.hidden = false;
    });

    // One chunk, tried up to four times with growing pauses; client errors other than a timeout are final.
    const putChunk = async (uploadId, index, total, blob, signal) => {
      for (let attempt = 0; ; attempt += 1) {
        let res;
        try {
          const headers = { 'X-Chunk-Index': String(index), 'X-Total-Chunks': String(total), 'Content-Type': 'application/octet-stream' };
          const token = document.querySelector('meta[name="csrf-token"]');
          if (token) headers['X-CSRF-Token'] = token.content;
          res = await fetch(`${base}/${uploadId}`, { method: 'PUT', headers, body: blob, signal, credentials: 'same-origin' });
          if (res.ok) return;
          if (res.status < 500 && res.status !== 408 && res.status !== 429) throw new Error(await errorText(res));
        } catch (e) {
          if (signal.aborted || (res && res.status < 500 && res.status !== 408 && res.status !== 429)) throw e;
        }
        if (attempt >= 3) throw new Error(`part ${index + 1} failed after ${attempt + 1} attempts`);
        await sleep(1000 * 2 ** attempt);
      }
    };

    const follow = (uploadId) => {
      if (typeof EventSource !== 'function') return;
      const source = new EventSource(`/api/uploads/stream?envId=${env}&projectId=${project}`);
      source.addEventListener('update', (event) => {
        const u = JSON.parse(event.data);
        if (u.id !== uploadId) return;
        if (u.phase === 'done') { say(`Done: the report of build ${u.buildId} is ready.`); source.close(); }
        else if (u.phase === 'failed') { say(`Failed while ${u.failedAtPhase}: ${u.error}`); source.close(); }
        else say(`Phase: ${u.phase}…`);
      });
    };

    cancelButton.addEventListener('click', async () => {
      if (!running) return;
      running.controller.abort();
      const { uploadId, file } = running;
      running = null;
      remember(file, null);
      if (uploadId) await send('DELETE', `/api/uploads/${uploadId}`);
      say('Upload cancelled.');
      bar.hidden = true;
      cancelButton.hidden = true;
      startButton.disabled = false;
    });

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const file = fileInput.files[0];
      if (!file || running) return;
      const buildId = form.elements.buildId.value.trim();
      const size = chunkBytes();
      const total = Math.max(1, Math.ceil(file.size / size));
      const controller = new AbortController();
      running = { controller, file, uploadId: null };
      startButton.disabled = true;
      cancelButton.hidden = false;
      bar.hidden = false;
      bar.value = 0;
      try {
        let saved = recall(file);
        let missing = null;
        if (saved && saved.buildId === buildId && saved.totalChunks === total) {
          const res = await send('GET', `${base}/${saved.uploadId}`);
          if (res.ok) {
            const session = await res.json();
            if (session.phase === 'uploading') missing = session.missingChunks;
          }
        }
        if (!missing) {
          const res = await send('POST', base, { buildId, fileName: file.name, totalSize: file.size, totalChunks: total });
          if (!res.ok) throw new Error(await errorText(res));
          saved = { uploadId: (await res.json()).uploadId, buildId, totalChunks: total };
          remember(file, saved);
          missing = [...Array(total).keys()];
        }
        running.uploadId = saved.uploadId;
        let sent = total - missing.length;
        bar.value = Math.round((100 * sent) / total);
        say(`Uploading: ${sent} of ${total} parts sent.`);
        for (const index of missing) {
          await putChunk(saved.uploadId, index, total, file.slice(index * size, Math.min(file.size, (index + 1) * size)), controller.signal);
          sent += 1;
          bar.value = Math.round((100 * sent) / total);
          say(`Uploading: ${sent} of ${total} parts sent.`);
        }
        follow(saved.uploadId);
        const done = await send('POST', `${base}/${saved.uploadId}/complete`);
        if (!done.ok) throw new Error(await errorText(done));
        remember(file, null);
        const accepted = await done.json();
        // The stream may already have reported a later phase.
        if (!/^(Done|Failed)/.test(status.textContent)) say(`Phase: ${accepted.phase}…`);
      } catch (e) {
        if (!controller.signal.aborted) say(`Upload failed: ${e.message}. Upload again to resume.`);
      } finally {
        if (running && running.controller === controller) running = null;
        startButton.disabled = false;
        cancelButton.hidden = true;
      }
    });
  }
})();
