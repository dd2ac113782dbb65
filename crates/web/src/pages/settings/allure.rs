//! `/settings/allure`: the installed Allure CLI and whether a newer release can be installed.

use hub_domain::model::allure_version::{is_newer_release, version_in};

use super::SettingsBody;
use hub_domain::services::Services;

/// Whether the Allure tab offers `latest`: a release newer than the installed version, or any release when no
/// working CLI is installed (`installed` empty).
pub fn is_newer(latest: &str, installed: &str) -> bool {
    match is_newer_release(latest, installed) {
        Some(newer) => newer,
        None => installed.trim().is_empty() && version_in(latest).is_some_and(|v| v.pre.is_empty()),
    }
}

/// The installed and the newest version, and an installation under way.
pub(super) async fn body(services: &Services) -> SettingsBody {
    let status = services.allure.status().await;
    SettingsBody::Allure {
        update: is_newer(&status.latest, &status.version),
        version: status.version,
        latest: status.latest,
        managed: status.managed,
        installing: status.installing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_allure_versions_are_recognised() {
        assert!(is_newer("3.19.1", "3.18.0"));
        assert!(is_newer("3.10.0", "3.9.9"), "numeric, not text, order");
        assert!(!is_newer("3.18.0", "3.18.0"));
        assert!(!is_newer("3.17.0", "3.18.0"));
        assert!(!is_newer("", "3.18.0"), "an unknown latest is never an update");
        assert!(is_newer("3.18.0", ""), "any version beats no working CLI");
        assert!(!is_newer("3.18.0-beta.1", "3.0.0"), "a pre-release is never offered");
        assert!(!is_newer("3.18.0-beta.1", ""), "not even without a CLI");
        assert!(is_newer("3.19.0", "3.19.0-beta.1"), "a release is newer than its pre-release");
    }
}
