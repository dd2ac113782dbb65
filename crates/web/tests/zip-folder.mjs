// Runs the UI's ZIP writer (assets/zip.js, the very file the browser loads) in Node: zips the folder given as the
// first argument into the file given as the second, reading in pieces of the size given as the third (default
// 1000 bytes) as the upload does. With `zip64` as fourth argument every ZIP64 record is forced. Prints one JSON
// line: the planned size, the bytes written, and the entry count. Used by the hub-server web UI tests, which check
// the archive with a real zip reader.
import { closeSync, openAsBlob, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [dir, out, piece = '1000', mode = ''] = process.argv.slice(2);
createRequire(import.meta.url)('../assets/zip.js');
const { HubZip } = globalThis;

const entries = [];
const walk = async (abs, rel) => {
  for (const name of readdirSync(abs).sort()) {
    const path = rel ? `${rel}/${name}` : name;
    const st = statSync(join(abs, name));
    if (st.isDirectory()) await walk(join(abs, name), path);
    else {
      const blob = await openAsBlob(join(abs, name));
      entries.push({ path, file: { size: blob.size, lastModified: st.mtimeMs, slice: (a, b) => blob.slice(a, b) } });
    }
  }
};
await walk(dir, '');
const archive = HubZip.plan(entries, { zip64: mode === 'zip64' });
const reader = archive.reader();
// Each piece is written out before the next is made, as the upload sends one part before making the next.
const fd = openSync(out, 'w');
let total = 0;
for (;;) {
  const bytes = await reader.next(Number(piece));
  if (!bytes.length) break;
  writeSync(fd, bytes);
  total += bytes.length;
}
closeSync(fd);
process.stdout.write(`${JSON.stringify({ planned: archive.size, written: total, entries: archive.count, zip64: archive.zip64 })}\n`);
