//! argon2id with the library's recommended parameters (m = 19 MiB, t = 2, p = 1) and a random salt, computed on
//! one dedicated thread.
//!
//! A hash takes tens of milliseconds of CPU and 19 MiB of memory. On the request threads it would stall every
//! other request of that thread meanwhile, and glibc would keep a freed 19 MiB block in each thread's arena
//! (measured: the resident set grew by 18 MiB with the first sign-in on a second thread). One thread bounds both:
//! hashes run one at a time (a sign-in flood cannot take every core) and their memory is reused.

use std::sync::mpsc;

use argon2::password_hash::phc::{Output, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use async_trait::async_trait;
use hub_domain::ports::PasswordHasher;

/// Work for the hashing thread, given its reusable memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The production [`PasswordHasher`].
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    jobs: mpsc::Sender<Job>,
}

impl Argon2Hasher {
    /// Starts the hashing thread; it ends when the last clone of the hasher is dropped.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start() -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new().name("password-hash".into()).spawn(move || {
            // One working memory for every hash, allocated at the first and kept: no 19 MiB allocation per sign-in.
            let mut memory = Vec::new();
            while let Ok(job) = queue.recv() {
                job(&mut memory);
            }
        })?;
        Ok(Self { jobs })
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static) -> Option<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = done.send(work(memory));
        });
        self.jobs.send(job).ok()?;
        result.await.ok()
    }
}

/// Computes the argon2 output of `password` for `argon2`'s parameters into `out`, in `memory` (grown as needed).
fn compute(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Vec<Block>,
) -> Result<(), String> {
    let blocks = params.m_cost() as usize;
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    argon2
        .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..blocks])
        .map_err(|e| e.to_string())
}

fn hash_with(password: &str, memory: &mut Vec<Block>) -> Result<String, String> {
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = Salt::generate();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(&argon2, &params, password, &salt, &mut out, memory)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(|e: argon2::password_hash::Error| e.to_string())?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(hash.to_string())
}

fn verify_with(password: &str, hash: &str, memory: &mut Vec<Block>) -> bool {
    let mut check = || -> Option<bool> {
        let parsed = PasswordHash::new(hash).ok()?;
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
        let version = parsed.version.map(Version::try_from).transpose().ok()?.unwrap_or_default();
        let params = Params::try_from(&parsed).ok()?;
        let (salt, expected) = (parsed.salt?, parsed.hash?);
        let mut out = vec![0u8; expected.len()];
        compute(&Argon2::new(algorithm, version, params.clone()), &params, password, &salt, &mut out, memory).ok()?;
        // `Output` compares in constant time.
        Some(Output::new(&out).ok()? == expected)
    };
    check().unwrap_or(false)
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &str) -> Result<String, String> {
        let password = password.to_owned();
        self.run(move |memory| hash_with(&password, memory))
            .await
            .unwrap_or_else(|| Err("the password hashing thread stopped".into()))
    }

    async fn verify(&self, password: &str, hash: &str) -> bool {
        let (password, hash) = (password.to_owned(), hash.to_owned());
        self.run(move |memory| verify_with(&password, &hash, memory)).await.unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_the_recommended_parameters_and_a_fresh_salt() {
        let h = Argon2Hasher::start().unwrap();
        let one = h.hash("s3cret-Passw0rd").await.unwrap();
        let two = h.hash("s3cret-Passw0rd").await.unwrap();
        assert!(one.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{one}");
        assert_ne!(one, two, "a fresh salt per hash");
        assert!(h.verify("s3cret-Passw0rd", &one).await);
        assert!(!h.verify("s3cret-passw0rd", &one).await);
        assert!(!h.verify("anything", "not a hash").await);
        // Hashes made by the library's own API (earlier versions of this server) still verify.
        let library = {
            use argon2::password_hash::PasswordHasher as _;
            Argon2::default().hash_password(b"old-Passw0rd").unwrap().to_string()
        };
        assert!(h.verify("old-Passw0rd", &library).await);
        assert!(!h.verify("old-passw0rd", &library).await);
    }
}
