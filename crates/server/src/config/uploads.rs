//! Upload and archive limits (Appendix A.3).

use std::time::Duration;

use hub_domain::model::upload::UploadLimits;

use super::ConfigError;
use super::vars::Vars;

/// Upload and archive limits (Appendix A.3).
#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// Size, entry and ratio limits.
    pub limits: UploadLimits,
    /// Longest pause between body bytes (`UPLOAD_IDLE_TIMEOUT`).
    pub idle_timeout: Duration,
    /// Longest hold of a `wait=true` request (`UPLOAD_WAIT_TIMEOUT`).
    pub wait_timeout: Duration,
    /// A chunked upload without progress for this long fails (`STALE_UPLOAD_AFTER`).
    pub stale_after: Duration,
}

impl UploadConfig {
    pub(super) fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let d = UploadLimits::default();
        let positive_duration = |name: &'static str, default: Duration| {
            let value = vars.duration(name, default)?;
            if value.is_zero() {
                return Err(ConfigError { name, reason: "must be positive".into() });
            }
            Ok(value)
        };
        let ratio =
            vars.parsed("MAX_COMPRESSION_RATIO", d.max_compression_ratio, |v| v.parse().ok(), "an integer ≥ 0")?;
        Ok(Self {
            limits: UploadLimits {
                max_upload_bytes: vars.positive("MAX_UPLOAD_BYTES", d.max_upload_bytes)?,
                max_chunk_bytes: vars.positive("MAX_CHUNK_BYTES", d.max_chunk_bytes)?,
                max_chunks: vars.positive("MAX_CHUNKS", d.max_chunks)?,
                max_decompressed_bytes: vars.positive("MAX_DECOMPRESSED_BYTES", d.max_decompressed_bytes)?,
                max_zip_entries: vars.positive("MAX_ZIP_ENTRIES", d.max_zip_entries)?,
                max_compression_ratio: ratio,
            },
            idle_timeout: positive_duration("UPLOAD_IDLE_TIMEOUT", Duration::from_secs(300))?,
            wait_timeout: positive_duration("UPLOAD_WAIT_TIMEOUT", Duration::from_secs(1_800))?,
            stale_after: positive_duration("STALE_UPLOAD_AFTER", Duration::from_secs(86_400))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::assert_rejected;

    #[test]
    fn invalid_upload_values_name_their_variable() {
        assert_rejected(&[
            ("MAX_UPLOAD_BYTES", "0"),
            ("MAX_COMPRESSION_RATIO", "-1"),
            ("UPLOAD_IDLE_TIMEOUT", "0"),
            ("STALE_UPLOAD_AFTER", "soon"),
        ]);
    }
}
