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

  // Where the script may send the browser: a path of this origin, as an absolute URL of this origin; anything
  // else is the overview. The server only hands the page values it has checked (`next` after sign-in, `go:`
  // targets), so this is the second line: the script never lets the browser re-read a value into another origin
  // (`//host`, `/\host`, a tab or newline that URL parsing drops).
  const sameOrigin = (value) => {
    const home = new URL('/', window.location.origin).href;
    if (typeof value !== 'string' || !/^\/[\x21-\x7e]*$/.test(value) || /^\/[/\\]/.test(value)
      || value.includes('\\')) return home;
    let url;
    try { url = new URL(value, window.location.origin); } catch { return home; }
    if (url.origin !== window.location.origin || url.pathname.startsWith('//')) return home;
    return url.href;
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
    if (then.startsWith('go:')) { window.location.assign(sameOrigin(then.slice(3))); return; }
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
          window.location.assign(sameOrigin(form.dataset.next || '/'));
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
  // is kept in localStorage per file), cancel, and the phases from the upload stream once the archive is sent. A
  // folder (picked, or dropped) is zipped here while it is sent (zip.js): its archive's size is known before any
  // byte is read, and it is produced one part at a time. The browser forgets a folder on reload, so a folder's
  // session is remembered in this page only: uploading the same folder again resends only the missing parts.
  function uploader() {
    const form = document.getElementById('upload-form');
    if (!form) return;
    const { env, project } = form.dataset;
    const base = `/api/environments/${env}/projects/${project}/uploads`;
    const fileInput = form.elements.file;
    const folderInput = form.elements.folder;
    const status = document.getElementById('upload-status');
    const bar = document.getElementById('upload-progress');
    const cancelButton = document.getElementById('upload-cancel');
    const startButton = document.getElementById('upload-start');
    const resume = document.getElementById('upload-resume');
    const chosenText = document.getElementById('upload-chosen');
    const chunkBytes = () => {
      const wanted = Number.parseInt((() => { try { return localStorage.getItem('upload.chunkBytes'); } catch { return null; } })(), 10);
      return wanted > 0 ? wanted : 8 * 1024 * 1024;
    };
    const keyOf = (file) => `upload:${env}/${project}/${file.name}/${file.size}/${file.lastModified}`;
    const remember = (file, value) => {
      try { if (value) localStorage.setItem(keyOf(file), JSON.stringify(value)); else localStorage.removeItem(keyOf(file)); } catch { /* no storage: no resume */ }
    };
    const recall = (file) => { try { return JSON.parse(localStorage.getItem(keyOf(file)) || 'null'); } catch { return null; } };
    // Sessions of folders chosen on this page (a folder cannot be found again after a reload).
    const folderSessions = new WeakMap();
    let running = null;
    // What Upload sends: { kind: 'zip', file } or { kind: 'folder', name, files: [{ path, file }], archive }.
    let chosen = null;

    const say = (text) => { status.textContent = text; };
    const sizeText = (n) => (n < 1024 ? `${n} bytes` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB`
      : n < 1073741824 ? `${(n / 1048576).toFixed(1)} MiB` : `${(n / 1073741824).toFixed(2)} GiB`);
    const fileNameOf = (name) => {
      const clean = `${name}`.replace(/[\u0000-\u001f\u007f/\\]/g, '_').slice(0, 251);
      return clean ? `${clean}.zip` : 'results.zip';
    };

    const chooseFolder = (name, files) => {
      resume.hidden = true;
      if (!files.length) {
        chosen = null;
        chosenText.textContent = `The folder ${name} has no files.`;
        chosenText.hidden = false;
        return;
      }
      // Sorted, so that the same folder always makes the same archive.
      files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      const archive = typeof HubZip === 'object' ? HubZip.plan(files) : null;
      chosen = { kind: 'folder', name, files, archive };
      const bytes = files.reduce((n, f) => n + f.file.size, 0);
      chosenText.textContent = `Folder ${name}: ${files.length} files, ${sizeText(bytes)}, zipped while it uploads.`;
      chosenText.hidden = false;
    };

    // The files of a dropped folder: directory readers hand out their entries in batches until an empty one.
    const walk = async (entry, prefix, out) => {
      if (entry.isFile) {
        const file = await new Promise((resolve, reject) => { entry.file(resolve, reject); });
        out.push({ path: `${prefix}${entry.name}`, file });
      } else if (entry.isDirectory) {
        const reader = entry.createReader();
        for (;;) {
          const batch = await new Promise((resolve, reject) => { reader.readEntries(resolve, reject); });
          if (!batch.length) break;
          for (const child of batch) await walk(child, `${prefix}${entry.name}/`, out);
        }
      }
    };

    const drop = document.getElementById('upload-drop');
    drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', async (event) => {
      event.preventDefault();
      drop.classList.remove('over');
      // Entries must be taken while the event is dispatched: the data transfer is emptied afterwards.
      const entries = [...(event.dataTransfer.items || [])].filter((item) => item.kind === 'file')
        .map((item) => (typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null))
        .filter(Boolean);
      const files = event.dataTransfer.files;
      const oneZip = files.length === 1 && (!entries.length || entries[0].isFile) && /\.zip$/i.test(files[0].name);
      if (!entries.length || oneZip) {
        if (files.length) { fileInput.files = files; fileInput.dispatchEvent(new Event('change')); }
        return;
      }
      fileInput.value = '';
      folderInput.value = '';
      const found = [];
      try {
        // One folder: paths inside it. Several items: paths from where they were dropped.
        if (entries.length === 1 && entries[0].isDirectory) {
          const reader = entries[0].createReader();
          for (;;) {
            const batch = await new Promise((resolve, reject) => { reader.readEntries(resolve, reject); });
            if (!batch.length) break;
            for (const child of batch) await walk(child, '', found);
          }
          chooseFolder(entries[0].name, found);
        } else {
          for (const entry of entries) await walk(entry, '', found);
          chooseFolder('results', found);
        }
      } catch (e) {
        chosen = null;
        say(`The dropped folder could not be read: ${e.message || e}`);
      }
    });
    folderInput.addEventListener('change', () => {
      const files = [...folderInput.files];
      if (!files.length) return;
      fileInput.value = '';
      // Paths relative to the chosen folder: its own name is the first segment of each relative path.
      const name = (files[0].webkitRelativePath || '').split('/')[0] || 'results';
      chooseFolder(name, files.map((file) => ({
        path: (file.webkitRelativePath || file.name).split('/').slice(1).join('/') || file.name, file,
      })));
    });
    fileInput.addEventListener('change', async () => {
      resume.hidden = true;
      const file = fileInput.files[0];
      if (!file) return;
      folderInput.value = '';
      chosen = { kind: 'zip', file };
      chosenText.hidden = true;
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

    // What the upload reads from: the .zip's bytes as they are, or the folder's archive made part by part (in
    // order; parts already on the server are still made, as each entry's CRC needs all of its bytes).
    const sourceOf = (what) => {
      if (what.kind === 'zip') {
        return { name: what.file.name, size: what.file.size, inOrder: false,
          recall: () => recall(what.file), remember: (v) => remember(what.file, v),
          part: async (start, end) => what.file.slice(start, end) };
      }
      const reader = what.archive.reader();
      return { name: fileNameOf(what.name), size: what.archive.size, inOrder: true,
        recall: () => folderSessions.get(what) || null,
        remember: (v) => { if (v) folderSessions.set(what, v); else folderSessions.delete(what); },
        part: async (start, end) => {
          if (reader.position !== start) throw new Error('archive parts out of order');
          return new Blob([await reader.next(end - start)]);
        } };
    };

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
      const { uploadId, source } = running;
      running = null;
      source.remember(null);
      if (uploadId) await send('DELETE', `/api/uploads/${uploadId}`);
      say('Upload cancelled.');
      bar.hidden = true;
      cancelButton.hidden = true;
      startButton.disabled = false;
    });

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (running) return;
      if (!chosen || (chosen.kind === 'folder' && !chosen.archive)) {
        say('Choose a .zip file or a results folder first.');
        fileInput.focus();
        return;
      }
      const source = sourceOf(chosen);
      const buildId = form.elements.buildId.value.trim();
      const size = chunkBytes();
      const total = Math.max(1, Math.ceil(source.size / size));
      const controller = new AbortController();
      running = { controller, source, uploadId: null };
      startButton.disabled = true;
      cancelButton.hidden = false;
      bar.hidden = false;
      bar.value = 0;
      try {
        let saved = source.recall();
        let missing = null;
        if (saved && saved.buildId === buildId && saved.totalChunks === total) {
          const res = await send('GET', `${base}/${saved.uploadId}`);
          if (res.ok) {
            const session = await res.json();
            if (session.phase === 'uploading') missing = session.missingChunks;
          }
        }
        if (!missing) {
          const res = await send('POST', base, { buildId, fileName: source.name, totalSize: source.size, totalChunks: total });
          if (!res.ok) throw new Error(await errorText(res));
          saved = { uploadId: (await res.json()).uploadId, buildId, totalChunks: total };
          source.remember(saved);
          missing = [...Array(total).keys()];
        }
        running.uploadId = saved.uploadId;
        const wanted = new Set(missing);
        let sent = total - wanted.size;
        bar.value = Math.round((100 * sent) / total);
        say(`Uploading: ${sent} of ${total} parts sent.`);
        for (let index = 0; index < total; index += 1) {
          if (!wanted.has(index) && !source.inOrder) continue;
          // Only this part is held: a failing part is retried from it.
          const part = await source.part(index * size, Math.min(source.size, (index + 1) * size));
          if (controller.signal.aborted) return;
          if (!wanted.has(index)) continue;
          await putChunk(saved.uploadId, index, total, part, controller.signal);
          sent += 1;
          bar.value = Math.round((100 * sent) / total);
          say(`Uploading: ${sent} of ${total} parts sent.`);
        }
        follow(saved.uploadId);
        const done = await send('POST', `${base}/${saved.uploadId}/complete`);
        if (!done.ok) throw new Error(await errorText(done));
        source.remember(null);
        const accepted = await done.json();
        // The stream may already have reported a later phase.
        if (!/^(Done|Failed)/.test(status.textContent)) say(`Phase: ${accepted.phase}…`);
      } catch (e) {
        if (!controller.signal.aborted) {
          say(`Upload failed: ${e.message}. ${source.inOrder
            ? 'Upload the same folder again from this page to resume.' : 'Upload again to resume.'}`);
        }
      } finally {
        if (running && running.controller === controller) running = null;
        startButton.disabled = false;
        cancelButton.hidden = true;
      }
    });
  }
})();
