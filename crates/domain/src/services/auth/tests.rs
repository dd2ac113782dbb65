use chrono::{TimeZone, Utc};

use super::*;
use crate::model::api_key::ApiKey;
use crate::model::policy::Policy;
use crate::ports::auth::{MockPasswordHasher, MockPolicySource, MockSecretSource};
use crate::ports::clock::MockClock;
use crate::ports::repos::{MockApiKeyRepo, MockUserRepo};

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 4, 7, 10, 0, 0).single().unwrap_or_default()
}

struct Parts {
    keys: MockApiKeyRepo,
    users: MockUserRepo,
    hasher: MockPasswordHasher,
}

fn parts() -> Parts {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().returning(|_| Ok("dummy-hash".into()));
    Parts { keys: MockApiKeyRepo::new(), users: MockUserRepo::new(), hasher }
}

async fn service(p: Parts) -> AuthService {
    let mut policy = MockPolicySource::new();
    policy.expect_current().returning(|| Arc::new(Policy::builtin()));
    let mut secrets = MockSecretSource::new();
    secrets.expect_hex().returning(|n| "ab".repeat(n));
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    AuthService::new(
        AuthPorts {
            keys: Arc::new(p.keys),
            users: Arc::new(p.users),
            policy: Arc::new(policy),
            hasher: Arc::new(p.hasher),
            secrets: Arc::new(secrets),
            clock: Arc::new(clock),
        },
        AuthSettings { session_ttl: TimeDelta::days(7), local_login: true },
    )
    .await
    .unwrap()
}

fn key(last_used: Option<Timestamp>, revoked: Option<Timestamp>) -> ApiKey {
    ApiKey {
        id: ulid::Ulid::nil().into(),
        name: "ci".into(),
        role: RoleName::parse("developer").unwrap(),
        prefix: "ah_abababab".into(),
        key_hash: "h".into(),
        created_by: Email::parse("ops@x.io").unwrap(),
        created_at: now(),
        last_used_at: last_used,
        revoked_at: revoked,
        auto_create: false,
    }
}

#[tokio::test]
async fn a_revoked_key_is_invalid() {
    let mut p = parts();
    p.keys.expect_find_by_hash().returning(|_| Ok(Some(key(None, Some(now())))));
    let err = service(p).await.authenticate_api_key("ah_x").await.unwrap_err();
    assert!(matches!(err, AuthError::InvalidApiKey));
}

#[tokio::test]
async fn key_use_is_recorded_at_most_once_a_minute_and_permissions_come_from_the_policy() {
    let mut p = parts();
    p.keys.expect_find_by_hash().returning(|_| Ok(Some(key(Some(now() - TimeDelta::seconds(30)), None))));
    // No `touch` expectation: a write would fail the test.
    let principal = service(p).await.authenticate_api_key("ah_x").await.unwrap();
    assert_eq!(
        principal.permissions,
        [crate::model::access::Permission::View, crate::model::access::Permission::Upload]
    );

    let mut p = parts();
    p.keys.expect_find_by_hash().returning(|_| Ok(Some(key(Some(now() - TimeDelta::minutes(2)), None))));
    p.keys.expect_touch().times(1).returning(|_, _| Ok(()));
    service(p).await.authenticate_api_key("ah_x").await.unwrap();
}

#[tokio::test]
async fn a_key_still_authenticates_when_its_last_use_cannot_be_recorded() {
    let mut p = parts();
    p.keys.expect_find_by_hash().returning(|_| Ok(Some(key(Some(now() - TimeDelta::minutes(2)), None))));
    p.keys.expect_touch().times(1).returning(|_, _| Err(StoreError::Unavailable("database is locked".into())));
    assert!(service(p).await.authenticate_api_key("ah_x").await.is_ok());
}

#[tokio::test]
async fn an_unknown_email_still_costs_a_password_verification() {
    let mut p = parts();
    p.users.expect_get().returning(|_| Ok(None));
    p.hasher.expect_verify().withf(|_, hash| hash == "dummy-hash").times(1).returning(|_, _| true);
    let err = service(p).await.login_local("ghost@x.io", "pw", "192.0.2.1").await.unwrap_err();
    assert!(matches!(err, AuthError::InvalidCredentials), "even a matching dummy hash signs nobody in");
}

#[tokio::test]
async fn the_eleventh_attempt_after_ten_failures_is_refused_without_checking_the_password() {
    let mut p = parts();
    p.users.expect_get().returning(|_| Ok(None));
    p.hasher.expect_verify().times(MAX_FAILED_LOGINS).returning(|_, _| false);
    let auth = service(p).await;
    for _ in 0..MAX_FAILED_LOGINS {
        assert!(matches!(auth.login_local("a@x.io", "pw", "ip").await, Err(AuthError::InvalidCredentials)));
    }
    let err = auth.login_local("a@x.io", "pw", "ip").await.unwrap_err();
    assert!(matches!(err, AuthError::TooManyAttempts { retry_after_secs: 900 }), "{err:?}");
}

#[tokio::test]
async fn local_login_can_be_switched_off() {
    let mut auth = service(parts()).await;
    auth.settings.local_login = false;
    assert!(matches!(auth.login_local("a@x.io", "pw", "ip").await, Err(AuthError::LocalLoginDisabled)));
}
