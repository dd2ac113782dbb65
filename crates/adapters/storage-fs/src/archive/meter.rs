//! A meter on the archive reader: how many bytes the `zip` crate really took from the archive, and, while it parses
//! the central directory, a cap on how many it may take.
//!
//! The compression ratio of an entry must be measured on the compressed bytes the entry consumed, not on the size
//! its record declares (which an archive may overstate at will). The crate does not say how much its decoder read,
//! but everything it reads passes through here.

use std::cell::Cell;
use std::io::{self, Read, Seek, SeekFrom};
use std::rc::Rc;

/// The counts, shared between the reader handed to the `zip` crate and the extraction loop.
#[derive(Debug, Default)]
pub(super) struct Meter {
    read: Cell<u64>,
    limit: Cell<Option<u64>>,
    exceeded: Cell<bool>,
}

impl Meter {
    /// Bytes read so far.
    pub fn read(&self) -> u64 {
        self.read.get()
    }

    /// Allows `bytes` more reads from now on (`None`: no limit).
    pub fn allow(&self, bytes: Option<u64>) {
        self.limit.set(bytes.map(|b| self.read.get().saturating_add(b)));
    }

    /// Whether a read was refused for the limit.
    pub fn exceeded(&self) -> bool {
        self.exceeded.get()
    }
}

/// `inner`, counted by a [`Meter`].
#[derive(Debug)]
pub(super) struct Metered<R> {
    inner: R,
    meter: Rc<Meter>,
}

impl<R> Metered<R> {
    pub fn new(inner: R, meter: Rc<Meter>) -> Self {
        Self { inner, meter }
    }
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut want = buf.len();
        if let Some(limit) = self.meter.limit.get() {
            let left = limit.saturating_sub(self.meter.read.get());
            if left == 0 && want > 0 {
                self.meter.exceeded.set(true);
                return Err(io::Error::other("read limit reached"));
            }
            want = want.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        let n = self.inner.read(&mut buf[..want])?;
        self.meter.read.set(self.meter.read.get() + n as u64);
        Ok(n)
    }
}

impl<R: Seek> Seek for Metered<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.inner.seek(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_counted_and_capped_while_a_limit_is_set() {
        let meter = Rc::new(Meter::default());
        let mut reader = Metered::new(io::Cursor::new(vec![7u8; 100]), Rc::clone(&meter));
        let mut buf = [0u8; 30];
        reader.read_exact(&mut buf).unwrap();
        reader.seek(SeekFrom::Start(0)).unwrap();
        assert_eq!(meter.read(), 30, "seeks are not reads");
        meter.allow(Some(40));
        assert_eq!(reader.read(&mut buf).unwrap(), 30);
        assert_eq!(reader.read(&mut buf).unwrap(), 10, "a read stops at the limit");
        assert!(reader.read(&mut buf).is_err());
        assert!(meter.exceeded());
        meter.allow(None);
        assert_eq!(reader.read(&mut buf).unwrap(), 30);
        assert_eq!(meter.read(), 100);
    }
}
