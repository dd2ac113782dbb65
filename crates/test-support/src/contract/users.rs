//! [`UserRepo`](hub_domain::ports::UserRepo): sign-in upserts, role overrides and login sessions.

use hub_domain::ids::Email;
use hub_domain::model::access::RoleName;
use hub_domain::model::page::PageRequest;
use hub_domain::model::user::{LoginSession, Provider, User};

use super::StoreFixture;
use super::fixtures::t;

/// The first page of 20, as the user list asks for it.
const PAGE: PageRequest = PageRequest { limit: 20, offset: 0 };

/// A GitHub user who signed in first and last at `minute`.
fn user(email: &str, minute: u32) -> User {
    User {
        email: Email::parse(email).unwrap(),
        name: email.split('@').next().unwrap().to_owned(),
        avatar_url: None,
        provider: Provider::Github,
        password_hash: None,
        first_login_at: t(minute),
        last_login_at: t(minute),
    }
}

/// A `viewer` session of `email` expiring at `expires_minute`.
fn session(email: &str, hash: &str, expires_minute: u32) -> LoginSession {
    LoginSession {
        token_hash: hash.to_owned(),
        email: Email::parse(email).unwrap(),
        role: Some(RoleName::parse("viewer").unwrap()),
        provider: Provider::Local,
        created_at: t(0),
        expires_at: t(expires_minute),
    }
}

/// Upsert creates then updates; lists are ordered by the latest sign-in.
pub async fn users_are_upserted_and_listed_by_latest_sign_in(f: &StoreFixture) {
    f.users.upsert(&user("a@x.io", 1)).await.unwrap();
    f.users.upsert(&user("b@x.io", 2)).await.unwrap();
    let mut again = user("a@x.io", 1);
    again.last_login_at = t(9);
    again.name = "Alice".into();
    again.avatar_url = Some("https://a/img".into());
    f.users.upsert(&again).await.unwrap();
    assert_eq!(f.users.get(&again.email).await.unwrap().as_ref(), Some(&again));
    let listed = f.users.list(None, PAGE).await.unwrap();
    let emails: Vec<String> = listed.items.iter().map(|u| u.email.to_string()).collect();
    assert_eq!((listed.total, emails), (2, vec!["a@x.io".to_owned(), "b@x.io".to_owned()]));
    assert_eq!(f.users.list(Some("ALI".into()), PAGE).await.unwrap().total, 1);
}

/// Setting or removing an override ends every session of that user, and only theirs.
pub async fn role_overrides_revoke_the_users_sessions(f: &StoreFixture) {
    f.users.upsert(&user("a@x.io", 1)).await.unwrap();
    f.users.upsert(&user("b@x.io", 1)).await.unwrap();
    f.users.insert_session(&session("a@x.io", "sa", 50)).await.unwrap();
    f.users.insert_session(&session("b@x.io", "sb", 50)).await.unwrap();
    let a = Email::parse("a@x.io").unwrap();
    assert!(f.users.set_role_override(&a, Some("admin".into()), t(2)).await.unwrap());
    assert_eq!(f.users.role_override(&a).await.unwrap().as_deref(), Some("admin"));
    assert!(f.users.find_session("sa", t(3)).await.unwrap().is_none());
    assert!(f.users.find_session("sb", t(3)).await.unwrap().is_some());
    f.users.insert_session(&session("a@x.io", "sa2", 50)).await.unwrap();
    assert!(f.users.set_role_override(&a, None, t(4)).await.unwrap());
    assert!(f.users.find_session("sa2", t(5)).await.unwrap().is_none());
    assert!(!f.users.set_role_override(&a, None, t(6)).await.unwrap(), "resetting again changes nothing");
    // Overrides may name emails that never signed in.
    let newcomer = Email::parse("new@x.io").unwrap();
    assert!(f.users.set_role_override(&newcomer, Some("viewer".into()), t(7)).await.unwrap());
}

/// A session past its expiry behaves like no session; deleting one removes only it.
pub async fn expired_sessions_are_not_found(f: &StoreFixture) {
    f.users.upsert(&user("a@x.io", 1)).await.unwrap();
    f.users.insert_session(&session("a@x.io", "s1", 10)).await.unwrap();
    f.users.insert_session(&session("a@x.io", "s2", 10)).await.unwrap();
    assert_eq!(f.users.find_session("s1", t(9)).await.unwrap().unwrap().expires_at, t(10));
    assert!(f.users.find_session("s1", t(10)).await.unwrap().is_none());
    f.users.delete_session("s1").await.unwrap();
    assert!(f.users.find_session("s1", t(5)).await.unwrap().is_none());
    assert!(f.users.find_session("s2", t(5)).await.unwrap().is_some());
}
