//! Per-client-IP token buckets (§1.2 "Rate limiting").

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Bucket size and refill rate.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Tokens added per second.
    pub rate: f64,
    /// Bucket capacity.
    pub burst: f64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets are forgotten once full again, so memory follows the number of recently active clients; a sweep runs
/// when the map has grown past this many entries.
const SWEEP_ABOVE: usize = 10_000;

/// The limiter shared by all workers.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    /// A limiter with full buckets for every new client.
    pub fn new(limit: RateLimit) -> Self {
        Self { limit, buckets: Mutex::default() }
    }

    /// Takes one token for `ip` at `now`; `Err(seconds)` says how long until one is available (at least 1).
    pub fn acquire(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let RateLimit { rate, burst } = self.limit;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > SWEEP_ABOVE {
            buckets.retain(|_, b| b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry(ip).or_insert(Bucket { tokens: burst, updated: now });
        let refilled = (bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * rate).min(burst);
        bucket.updated = now;
        if refilled >= 1.0 {
            bucket.tokens = refilled - 1.0;
            Ok(())
        } else {
            bucket.tokens = refilled;
            let wait = ((1.0 - refilled) / rate).ceil();
            // The cast is safe: `wait` is a small positive whole number of seconds.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Err((wait as u64).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_until_tokens_refill() {
        let limiter = RateLimiter::new(RateLimit { rate: 2.0, burst: 3.0 });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.acquire(ip, t0), Ok(()));
        }
        assert_eq!(limiter.acquire(ip, t0), Err(1));
        assert_eq!(limiter.acquire(ip, t0 + Duration::from_millis(500)), Ok(()), "one token after 1/rate s");
        assert!(limiter.acquire(ip, t0 + Duration::from_millis(500)).is_err());
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(limiter.acquire(other, t0), Ok(()), "buckets are per client");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let limiter = RateLimiter::new(RateLimit { rate: 0.25, burst: 1.0 });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(limiter.acquire(ip, t0), Ok(()));
        assert_eq!(limiter.acquire(ip, t0), Err(4));
    }
}
