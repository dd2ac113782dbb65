//! [`ApiKeyRepo`](hub_domain::ports::ApiKeyRepo): lookup by hash, soft revocation, unique active names, search.

use hub_domain::ids::Email;
use hub_domain::model::access::RoleName;
use hub_domain::model::api_key::ApiKey;
use hub_domain::model::page::{Page, PageRequest};
use hub_domain::ports::StoreError;

use super::StoreFixture;
use super::fixtures::t;

/// The first page of 20, as the key list asks for it.
const PAGE: PageRequest = PageRequest { limit: 20, offset: 0 };

/// An active `developer` key created by `ops@example.com` at `minute`.
fn key(name: &str, hash: &str, minute: u32) -> ApiKey {
    ApiKey {
        id: ulid::Ulid::new().into(),
        name: name.to_owned(),
        role: RoleName::parse("developer").unwrap(),
        prefix: "ah_01234567".into(),
        key_hash: hash.to_owned(),
        created_by: Email::parse("ops@example.com").unwrap(),
        created_at: t(minute),
        last_used_at: None,
        revoked_at: None,
        auto_create: true,
    }
}

/// Keys are found by the hash of their secret; revoking keeps the record with its time.
pub async fn api_keys_are_found_by_hash_and_revoked_softly(f: &StoreFixture) {
    let k = key("ci", "hash-1", 1);
    f.keys.insert(&k).await.unwrap();
    assert_eq!(f.keys.find_by_hash("hash-1").await.unwrap().as_ref(), Some(&k));
    assert!(f.keys.find_by_hash("hash-2").await.unwrap().is_none());
    f.keys.touch(k.id, t(5)).await.unwrap();
    assert!(f.keys.revoke(k.id, t(6)).await.unwrap());
    assert!(f.keys.revoke(k.id, t(7)).await.unwrap(), "revoking twice is fine");
    let stored = f.keys.get(k.id).await.unwrap().unwrap();
    assert_eq!((stored.last_used_at, stored.revoked_at), (Some(t(5)), Some(t(6))), "the first revocation time stays");
    assert!(f.keys.delete(k.id).await.unwrap());
    assert!(f.keys.get(k.id).await.unwrap().is_none());
    assert!(!f.keys.revoke(k.id, t(8)).await.unwrap());
}

/// Two active keys cannot share a name in any letter case; a revoked key frees its name.
pub async fn active_key_names_are_unique_case_insensitively(f: &StoreFixture) {
    let first = key("CI-Pipeline", "h1", 1);
    f.keys.insert(&first).await.unwrap();
    assert!(matches!(f.keys.insert(&key("ci-pipeline", "h2", 2)).await, Err(StoreError::Conflict)));
    f.keys.revoke(first.id, t(3)).await.unwrap();
    f.keys.insert(&key("ci-pipeline", "h3", 4)).await.unwrap();
}

/// Search matches name or creator, ignoring case; `%` and `_` are plain characters.
pub async fn key_search_is_a_literal_case_insensitive_substring(f: &StoreFixture) {
    for (i, name) in ["Deploy_Bot", "deployXbot", "100% coverage", "nightly"].iter().enumerate() {
        f.keys.insert(&key(name, &format!("h{i}"), u32::try_from(i).unwrap())).await.unwrap();
    }
    let names = |page: Page<ApiKey>| -> Vec<String> { page.items.into_iter().map(|k| k.name).collect() };
    assert_eq!(names(f.keys.list(Some("y_b".into()), PAGE).await.unwrap()), ["Deploy_Bot"]);
    assert_eq!(names(f.keys.list(Some("0%".into()), PAGE).await.unwrap()), ["100% coverage"]);
    let all = f.keys.list(Some("OPS@".into()), PAGE).await.unwrap();
    assert_eq!(all.total, 4, "the creator matches too");
    assert_eq!(names(all), ["nightly", "100% coverage", "deployXbot", "Deploy_Bot"], "newest first");
    let page = f.keys.list(None, PageRequest { limit: 1, offset: 1 }).await.unwrap();
    assert_eq!((page.total, names(page)), (4, vec!["100% coverage".to_owned()]));
}
