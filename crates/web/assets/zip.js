// allure-hub web UI: a streaming ZIP writer for uploading a results folder. Entries are STORED (not compressed):
// the server extracts the archive anyway, and results are mostly small JSON files and already-compressed
// attachments. Because a stored entry's size is the file's size, the whole archive's length is known before a byte
// is read, so the chunked upload can declare it up front. Each entry's CRC-32 goes into a data descriptor after its
// data (general purpose flag bit 3), so the archive is produced front to back in one pass, a piece at a time: only
// the piece asked for is held in memory. ZIP64 records are written when a size, an offset or the entry count
// exceeds what the classic fields hold. The same tree always gives the same bytes (entries in the given order,
// times taken from the files), which lets a failed upload of the same folder resend only its missing parts.
//
// Exposed as globalThis.HubZip: plan(entries, options) → { size, count, reader() }, where entries are
// { path, file } (path relative to the folder, `/`-separated; file a Blob with a size) and reader().next(n)
// resolves to the next (at most) n bytes of the archive as a Uint8Array.
(() => {
  'use strict';
  const MAX16 = 0xffff;
  const MAX32 = 0xffffffff;
  // Bit 3: sizes and CRC follow the data; bit 11: names are UTF-8.
  const FLAGS = 0x0808;
  // Regular file, rw-r--r--, in the high half of the external attributes (made by "Unix").
  const FILE_ATTRS = (0o100644 << 16) >>> 0;

  const CRC_TABLE = (() => {
    const table = new Uint32Array(256);
    for (let n = 0; n < 256; n += 1) {
      let c = n;
      for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
    return table;
  })();

  /** CRC-32 (ISO-HDLC, as ZIP uses it) of `bytes`, continuing from `crc` (0 to start). */
  const crc32 = (crc, bytes) => {
    let c = (crc ^ MAX32) >>> 0;
    for (let i = 0; i < bytes.length; i += 1) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
    return (c ^ MAX32) >>> 0;
  };

  // DOS date and time of a millisecond timestamp, in UTC so that the same files give the same bytes anywhere.
  const dosTime = (ms) => {
    const d = new Date(Number.isFinite(ms) ? ms : 0);
    const year = d.getUTCFullYear();
    if (year < 1980) return { time: 0, date: (1 << 5) | 1 };
    if (year > 2107) return { time: (23 << 11) | (59 << 5) | 29, date: (127 << 9) | (12 << 5) | 31 };
    return {
      time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
      date: ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
    };
  };

  // Little-endian field writer over a fresh buffer of `length` bytes.
  const record = (length) => {
    const bytes = new Uint8Array(length);
    const view = new DataView(bytes.buffer);
    let at = 0;
    const w = {
      bytes,
      u16(v) { view.setUint16(at, v, true); at += 2; return w; },
      u32(v) { view.setUint32(at, v >>> 0, true); at += 4; return w; },
      // JavaScript numbers are exact up to 2^53, far beyond any archive a browser will send.
      u64(v) { w.u32(v % 0x100000000); return w.u32(Math.floor(v / 0x100000000)); },
      raw(b) { bytes.set(b, at); at += b.length; return w; },
    };
    return w;
  };

  /**
   * Lays out the archive of `entries`. `options.zip64` forces the ZIP64 records on every entry and at the end (for
   * tests: real ZIP64 archives need more than 4 GiB).
   */
  const plan = (entries, options = {}) => {
    const force = Boolean(options && options.zip64);
    const encoder = new TextEncoder();
    let offset = 0;
    const items = entries.map(({ path, file }) => {
      const name = encoder.encode(path);
      const size = file.size;
      // A ZIP64 extra field in the local header announces 8-byte sizes in the data descriptor.
      const big = force || size >= MAX32;
      const item = { path, name, file, size, offset, big, far: force || offset >= MAX32, crc: 0,
        stamp: dosTime(file.lastModified) };
      item.localLength = 30 + name.length + (big ? 20 : 0);
      item.descriptorLength = big ? 24 : 16;
      offset += item.localLength + size + item.descriptorLength;
      return item;
    });
    const cdOffset = offset;
    let cdSize = 0;
    for (const item of items) {
      item.cdExtra = (item.big ? 16 : 0) + (item.far ? 8 : 0);
      item.centralLength = 46 + item.name.length + (item.cdExtra ? 4 + item.cdExtra : 0);
      cdSize += item.centralLength;
    }
    const zip64End = force || items.length >= MAX16 || cdOffset >= MAX32 || cdSize >= MAX32;
    const endLength = (zip64End ? 56 + 20 : 0) + 22;
    const size = cdOffset + cdSize + endLength;

    const localHeader = (it) => {
      const w = record(it.localLength).u32(0x04034b50).u16(it.big ? 45 : 20).u16(FLAGS).u16(0)
        .u16(it.stamp.time).u16(it.stamp.date)
        .u32(0).u32(it.big ? MAX32 : 0).u32(it.big ? MAX32 : 0)
        .u16(it.name.length).u16(it.big ? 20 : 0).raw(it.name);
      if (it.big) w.u16(0x0001).u16(16).u64(0).u64(0);
      return w.bytes;
    };
    const descriptor = (it) => {
      const w = record(it.descriptorLength).u32(0x08074b50).u32(it.crc);
      return (it.big ? w.u64(it.size).u64(it.size) : w.u32(it.size).u32(it.size)).bytes;
    };
    const central = (it) => {
      const version = it.big || it.far ? 45 : 20;
      const w = record(it.centralLength).u32(0x02014b50).u16((3 << 8) | version).u16(version).u16(FLAGS).u16(0)
        .u16(it.stamp.time).u16(it.stamp.date).u32(it.crc)
        .u32(it.big ? MAX32 : it.size).u32(it.big ? MAX32 : it.size)
        .u16(it.name.length).u16(it.cdExtra ? 4 + it.cdExtra : 0).u16(0).u16(0).u16(0).u32(FILE_ATTRS)
        .u32(it.far ? MAX32 : it.offset).raw(it.name);
      if (it.cdExtra) {
        w.u16(0x0001).u16(it.cdExtra);
        if (it.big) w.u64(it.size).u64(it.size);
        if (it.far) w.u64(it.offset);
      }
      return w.bytes;
    };
    const end = () => {
      const w = record(endLength);
      const zip64At = cdOffset + cdSize;
      if (zip64End) {
        w.u32(0x06064b50).u64(44).u16((3 << 8) | 45).u16(45).u32(0).u32(0)
          .u64(items.length).u64(items.length).u64(cdSize).u64(cdOffset);
        w.u32(0x07064b50).u32(0).u64(zip64At).u32(1);
      }
      const count = zip64End ? MAX16 : items.length;
      w.u32(0x06054b50).u16(0).u16(0).u16(count).u16(count)
        .u32(zip64End ? MAX32 : cdSize).u32(zip64End ? MAX32 : cdOffset).u16(0);
      return w.bytes;
    };

    // The archive as a sequence of parts: headers built when reached (a descriptor and the central directory need
    // the CRCs of the data before them), and file data read when reached.
    const parts = [];
    for (const it of items) {
      parts.push({ length: it.localLength, build: () => localHeader(it) });
      if (it.size > 0) parts.push({ length: it.size, data: it });
      parts.push({ length: it.descriptorLength, build: () => descriptor(it) });
    }
    for (const it of items) parts.push({ length: it.centralLength, build: () => central(it) });
    parts.push({ length: endLength, build: end });

    /** A reader of the archive from its first byte; every call continues where the previous one stopped. */
    const reader = () => {
      for (const it of items) it.crc = 0;
      let index = 0;
      let within = 0;
      let built = null;
      let position = 0;
      return {
        get position() { return position; },
        async next(wanted) {
          const out = new Uint8Array(Math.max(0, Math.min(wanted, size - position)));
          let filled = 0;
          while (filled < out.length) {
            const part = parts[index];
            const take = Math.min(part.length - within, out.length - filled);
            if (part.data) {
              const it = part.data;
              let chunk;
              try {
                chunk = new Uint8Array(await it.file.slice(within, within + take).arrayBuffer());
              } catch (e) {
                throw new Error(`could not read "${it.path}" (${e.message || e}); was it changed or removed?`);
              }
              if (chunk.length !== take) throw new Error(`"${it.path}" changed while it was being read`);
              it.crc = crc32(it.crc, chunk);
              out.set(chunk, filled);
            } else {
              if (!built) built = part.build();
              out.set(built.subarray(within, within + take), filled);
            }
            filled += take;
            within += take;
            if (within === part.length) { index += 1; within = 0; built = null; }
          }
          position += out.length;
          return out;
        },
      };
    };
    return { size, count: items.length, zip64: zip64End, reader };
  };

  globalThis.HubZip = { plan, crc32 };
})();
