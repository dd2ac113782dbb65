//! [`SettingsRepo`](hub_domain::ports::SettingsRepo): small JSON values stored by name.

use std::sync::Arc;

use serde_json::json;

use super::StoreFixture;
use super::fixtures::t;

/// A setting is absent until put; a second put replaces the value.
pub async fn settings_are_stored_by_name_and_replaced(f: &StoreFixture) {
    assert_eq!(f.settings.get("disk").await.unwrap(), None);
    f.settings.put("disk", &json!({"thresholdPercent": 85}), t(1)).await.unwrap();
    f.settings.put("retention", &json!({"retentionDays": 30, "dryRun": true}), t(1)).await.unwrap();
    f.settings.put("disk", &json!({"thresholdPercent": 70}), t(2)).await.unwrap();
    assert_eq!(f.settings.get("disk").await.unwrap(), Some(json!({"thresholdPercent": 70})));
    assert_eq!(
        f.settings.get("retention").await.unwrap(),
        Some(json!({"retentionDays": 30, "dryRun": true})),
        "other names are untouched"
    );
}

/// Racing first writes of one name do not fail on the primary key: one value wins.
pub async fn concurrent_first_writes_of_a_setting_all_succeed(f: &StoreFixture) {
    let writers: Vec<_> = (0..6)
        .map(|i| {
            let settings = Arc::clone(&f.settings);
            tokio::spawn(async move { settings.put("allure", &json!({"version": i}), t(i)).await })
        })
        .collect();
    for w in writers {
        w.await.unwrap().unwrap();
    }
    let stored = f.settings.get("allure").await.unwrap().unwrap();
    assert!((0..6).any(|i| stored == json!({"version": i})), "{stored}");
}
