//! The chunks of a chunked upload read in place as one file (`Read + Seek`), so the archive is never copied into
//! a joined file: the zip reader seeks across chunk boundaries as if it were one.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

/// Files read back to back as one.
#[derive(Debug)]
pub struct ChainedFiles {
    parts: Vec<(PathBuf, u64)>,
    /// Offset of each part's first byte in the whole.
    starts: Vec<u64>,
    len: u64,
    position: u64,
    /// The part whose file is open, the file, and the file's own position (so sequential reads need no seek).
    open: Option<(usize, File, u64)>,
}

impl ChainedFiles {
    /// The parts in order, with their sizes as stored.
    pub fn new(parts: Vec<(PathBuf, u64)>) -> Self {
        let mut starts = Vec::with_capacity(parts.len());
        let mut len = 0;
        for (_, size) in &parts {
            starts.push(len);
            len += size;
        }
        Self { parts, starts, len, position: 0, open: None }
    }

    /// Total length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether there is no byte at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The part holding byte `position` (the last part whose start is ≤ it, skipping empty parts).
    fn part_at(&self, position: u64) -> usize {
        self.starts.partition_point(|&start| start <= position).saturating_sub(1)
    }
}

impl Read for ChainedFiles {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.position >= self.len {
            return Ok(0);
        }
        let part = self.part_at(self.position);
        let offset = self.position - self.starts[part];
        let remaining = self.parts[part].1 - offset;
        if !matches!(&self.open, Some((open, _, _)) if *open == part) {
            self.open = Some((part, File::open(&self.parts[part].0)?, 0));
        }
        let Some((_, file, at)) = self.open.as_mut() else { return Ok(0) };
        if *at != offset {
            file.seek(SeekFrom::Start(offset))?;
        }
        let want = buf.len().min(usize::try_from(remaining).unwrap_or(usize::MAX));
        let n = file.read(&mut buf[..want])?;
        *at = offset + n as u64;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "a chunk is shorter than recorded"));
        }
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for ChainedFiles {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.position.checked_add_signed(d),
        };
        self.position = target.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_seeks_across_parts_as_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut parts = Vec::new();
        for (i, text) in ["hello ", "", "chunked ", "world"].iter().enumerate() {
            let path = dir.path().join(i.to_string());
            std::fs::write(&path, text).unwrap();
            parts.push((path, text.len() as u64));
        }
        let mut chain = ChainedFiles::new(parts);
        assert_eq!(chain.len(), 19);
        let mut all = String::new();
        chain.read_to_string(&mut all).unwrap();
        assert_eq!(all, "hello chunked world");
        chain.seek(SeekFrom::End(-9)).unwrap();
        let mut tail = [0u8; 7];
        chain.read_exact(&mut tail).unwrap();
        assert_eq!(&tail, b"ked wor");
        chain.seek(SeekFrom::Current(-10)).unwrap();
        let mut mid = [0u8; 4];
        chain.read_exact(&mut mid).unwrap();
        assert_eq!(&mid, b"hunk");
        assert!(chain.seek(SeekFrom::Current(-100)).is_err());
    }
}
