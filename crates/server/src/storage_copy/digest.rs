//! What a copied item is made of, to compare the files sent with the files read back: a SHA-256 over every
//! regular file's path, length and content, in path order.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The digest of a directory tree and the bytes of its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TreeDigest {
    /// Lower-case hex SHA-256.
    pub hex: String,
    /// Bytes of every file.
    pub bytes: u64,
    /// Number of files.
    pub files: u64,
}

impl std::fmt::Display for TreeDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} files, {} bytes, sha256 {}", self.files, self.bytes, self.hex)
    }
}

/// The digest of the tree at `root`. Blocking.
pub(super) fn of(root: &Path) -> std::io::Result<TreeDigest> {
    let mut names = Vec::new();
    collect(root, "", &mut names)?;
    names.sort();
    let mut hasher = Sha256::new();
    let (mut bytes, mut block) = (0u64, vec![0u8; 64 * 1024]);
    for name in &names {
        let mut file = std::fs::File::open(root.join(name))?;
        let len = file.metadata()?.len();
        // Name and length first, so that no two different trees hash the same bytes.
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(len.to_le_bytes());
        loop {
            let read = file.read(&mut block)?;
            if read == 0 {
                break;
            }
            hasher.update(&block[..read]);
        }
        bytes += len;
    }
    let hex = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(TreeDigest { hex, bytes, files: names.len() as u64 })
}

fn collect(root: &Path, prefix: &str, names: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(prefix))? {
        let entry = entry?;
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(root, &format!("{name}/"), names)?;
        } else if kind.is_file() {
            names.push(name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        dir
    }

    #[test]
    fn equal_trees_have_equal_digests_and_any_difference_shows() {
        let a = of(tree(&[("index.html", "<html>"), ("data/a.json", "{}")]).path()).unwrap();
        assert_eq!(a, of(tree(&[("data/a.json", "{}"), ("index.html", "<html>")]).path()).unwrap());
        assert_eq!((a.files, a.bytes), (2, 8));
        for other in [
            vec![("index.html", "<html>"), ("data/a.json", "{ }")],
            vec![("index.html", "<html>"), ("data/b.json", "{}")],
            vec![("index.html", "<html>")],
            vec![("index.html", "<html>"), ("data/a.json", "{}"), ("data/empty", "")],
            vec![("index.htm", "l<html>"), ("data/a.json", "{}")],
        ] {
            assert_ne!(a.hex, of(tree(&other).path()).unwrap().hex, "{other:?}");
        }
    }
}
