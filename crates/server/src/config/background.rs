//! Background work (Appendix A.7): retention sweeps, notification pruning and the disk check.

use std::time::Duration;

use hub_domain::model::retention::RetentionSettings;
use hub_domain::model::syntax as parse;

use super::ConfigError;
use super::vars::Vars;

/// Background work (Appendix A.7): retention sweeps, notification pruning and the disk check.
#[derive(Debug, Clone, Copy)]
pub struct BackgroundConfig {
    /// Run scheduled cleanup sweeps (`CLEANUP_ENABLED`); manual sweeps work either way.
    pub cleanup_enabled: bool,
    /// Retention settings stored on the very first start (`CLEANUP_RETENTION_DAYS`, `CLEANUP_INTERVAL_HOURS`,
    /// `CLEANUP_DRY_RUN`); later the stored ones apply.
    pub retention_seed: RetentionSettings,
    /// Notifications older than this many days are deleted; 0 keeps them (`NOTIFY_RETENTION_DAYS`).
    pub notify_retention_days: i64,
    /// Period of the disk check behind the disk warning (`DISK_CHECK_INTERVAL`).
    pub disk_check_interval: Duration,
}

impl BackgroundConfig {
    pub(super) fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let flag = |name: &'static str, default: bool| vars.parsed(name, default, parse::boolean, "true or false");
        let ranged = |name: &'static str, default: i64, max: i64| {
            vars.parsed(
                name,
                default,
                |v| v.parse::<i64>().ok().filter(|n| (1..=max).contains(n)),
                &format!("an integer from 1 to {max}"),
            )
        };
        let disk_check_interval = vars.duration("DISK_CHECK_INTERVAL", Duration::from_secs(300))?;
        if disk_check_interval.is_zero() {
            return Err(ConfigError { name: "DISK_CHECK_INTERVAL", reason: "must be positive".into() });
        }
        Ok(Self {
            cleanup_enabled: flag("CLEANUP_ENABLED", true)?,
            retention_seed: RetentionSettings {
                retention_days: ranged("CLEANUP_RETENTION_DAYS", 90, 36_500)?,
                interval_hours: ranged("CLEANUP_INTERVAL_HOURS", 6, 8_760)?,
                dry_run: flag("CLEANUP_DRY_RUN", false)?,
            },
            notify_retention_days: vars.parsed(
                "NOTIFY_RETENTION_DAYS",
                30,
                |v| v.parse::<i64>().ok().filter(|n| (0..=36_500).contains(n)),
                "an integer from 0 to 36500",
            )?,
            disk_check_interval,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hub_domain::model::retention::RetentionSettings;

    use crate::config::tests::config;

    #[test]
    fn background_work_follows_appendix_a7() {
        let c = config(&[]).unwrap().background;
        assert!(c.cleanup_enabled);
        assert_eq!(c.retention_seed, RetentionSettings { retention_days: 90, interval_hours: 6, dry_run: false });
        assert_eq!((c.notify_retention_days, c.disk_check_interval), (30, Duration::from_secs(300)));
        let c = config(&[
            ("CLEANUP_ENABLED", "false"),
            ("CLEANUP_RETENTION_DAYS", "7"),
            ("CLEANUP_INTERVAL_HOURS", "1"),
            ("CLEANUP_DRY_RUN", "true"),
            ("NOTIFY_RETENTION_DAYS", "0"),
            ("DISK_CHECK_INTERVAL", "30s"),
        ])
        .unwrap()
        .background;
        assert!(!c.cleanup_enabled);
        assert_eq!(c.retention_seed, RetentionSettings { retention_days: 7, interval_hours: 1, dry_run: true });
        assert_eq!((c.notify_retention_days, c.disk_check_interval), (0, Duration::from_secs(30)));
        for (name, value) in [
            ("CLEANUP_RETENTION_DAYS", "0"),
            ("CLEANUP_INTERVAL_HOURS", "8761"),
            ("CLEANUP_DRY_RUN", "maybe"),
            ("NOTIFY_RETENTION_DAYS", "-1"),
            ("DISK_CHECK_INTERVAL", "0s"),
        ] {
            assert_eq!(config(&[(name, value)]).unwrap_err().name, name);
        }
    }
}
