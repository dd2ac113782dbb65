//! [`NotificationRepo`](hub_domain::ports::NotificationRepo) (contract §10): read and deletion state per
//! principal, audiences, ordering and pruning.

use hub_domain::ids::NotificationId;
use hub_domain::model::notification::{Category, Notification, NotificationView, Severity};
use hub_domain::ports::NotificationViewer;
use serde_json::json;

use super::StoreFixture;
use super::fixtures::{t, ulid};

/// Notification `n` of `category`, created at `minute`.
fn note(n: u32, minute: i64, category: Category) -> Notification {
    Notification {
        id: NotificationId::parse(&ulid(n)).unwrap(),
        title: format!("Report ready: b{n}"),
        body: "Checkout in Staging: 1 passed, 0 failed, 0 skipped.".into(),
        category,
        severity: if category == Category::Upload { Severity::Success } else { Severity::Warning },
        payload: json!({"build_id": format!("b{n}"), "total": n}),
        created_at: t(minute),
    }
}

fn viewer(principal: &str, operational: bool) -> NotificationViewer {
    NotificationViewer { principal: principal.into(), operational }
}

/// The listed notifications as `(n, read)`.
fn listed_ids(views: &[NotificationView]) -> Vec<(u32, bool)> {
    views
        .iter()
        .map(|v| {
            let id = v.notification.id.to_string();
            (id[id.len() - 4..].parse().unwrap(), v.read)
        })
        .collect()
}

async fn insert_notes(f: &StoreFixture, notes: &[Notification]) {
    for n in notes {
        f.notifications.insert(n).await.unwrap();
    }
}

/// What `viewer` lists as `(n, read)`, every notification or only unread ones, at most `limit` (0: all).
async fn seen(f: &StoreFixture, viewer: &NotificationViewer, unread_only: bool, limit: i64) -> Vec<(u32, bool)> {
    listed_ids(&f.notifications.list(viewer, unread_only, limit).await.unwrap())
}

/// Reading marks a notification for that principal only; marking twice changes nothing.
pub async fn read_state_is_per_principal(f: &StoreFixture) {
    let notes = [note(1, 1, Category::Upload), note(2, 2, Category::Upload), note(3, 3, Category::Upload)];
    insert_notes(f, &notes).await;
    let n = &f.notifications;
    let (alice, bob) = (viewer("user:alice@example.com", false), viewer("user:bob@example.com", true));
    assert!(n.mark_read(&alice, notes[1].id, t(10)).await.unwrap());
    assert!(n.mark_read(&alice, notes[1].id, t(11)).await.unwrap(), "idempotent");
    assert_eq!(seen(f, &alice, false, 0).await, [(3, false), (2, true), (1, false)]);
    assert_eq!(seen(f, &alice, true, 0).await, [(3, false), (1, false)]);
    assert_eq!(seen(f, &bob, false, 0).await, [(3, false), (2, false), (1, false)]);
    assert_eq!(n.unread_count(&alice).await.unwrap(), 2);
    assert_eq!(n.unread_count(&bob).await.unwrap(), 3);
    // An API key is a principal of its own.
    let key = viewer("apikey:01JR8X7Q2M5N9P3V4W6Y8Z0ABC", false);
    assert!(n.mark_read(&key, notes[0].id, t(12)).await.unwrap());
    assert_eq!((n.unread_count(&key).await.unwrap(), n.unread_count(&alice).await.unwrap()), (2, 2));
    let whole = &n.list(&alice, false, 1).await.unwrap()[0].notification;
    assert_eq!(whole, &notes[2], "every field round-trips");
    assert!(!n.mark_read(&alice, NotificationId::parse(&ulid(99)).unwrap(), t(13)).await.unwrap(), "unknown");
}

/// Operational categories exist only for viewers holding `manage`.
pub async fn audiences_hide_operational_notifications(f: &StoreFixture) {
    let notes = [
        note(1, 1, Category::Upload),
        note(2, 2, Category::Disk),
        note(3, 3, Category::Retention),
        note(4, 4, Category::Allure),
    ];
    insert_notes(f, &notes).await;
    let n = &f.notifications;
    let (viewer_only, admin) = (viewer("user:v@example.com", false), viewer("user:a@example.com", true));
    assert_eq!(seen(f, &viewer_only, false, 0).await, [(1, false)]);
    assert_eq!(n.unread_count(&viewer_only).await.unwrap(), 1);
    assert!(!n.mark_read(&viewer_only, notes[1].id, t(10)).await.unwrap(), "outside the audience");
    assert!(!n.hide(&viewer_only, notes[2].id, t(10)).await.unwrap(), "outside the audience");
    assert_eq!(n.unread_count(&admin).await.unwrap(), 4);
    assert!(n.mark_read(&admin, notes[1].id, t(10)).await.unwrap());
    assert_eq!(seen(f, &admin, false, 0).await, [(4, false), (3, false), (2, true), (1, false)]);
}

/// A hidden notification no longer exists for that principal, and still does for everyone else.
pub async fn hiding_is_per_principal_and_final(f: &StoreFixture) {
    let notes = [note(1, 1, Category::Upload), note(2, 2, Category::Upload)];
    insert_notes(f, &notes).await;
    let n = &f.notifications;
    let (alice, bob) = (viewer("user:alice@example.com", false), viewer("user:bob@example.com", false));
    assert!(n.mark_read(&alice, notes[0].id, t(5)).await.unwrap());
    assert!(n.hide(&alice, notes[0].id, t(6)).await.unwrap(), "a read one can be hidden");
    assert!(n.hide(&alice, notes[1].id, t(6)).await.unwrap(), "so can an unread one, without a state yet");
    assert!(seen(f, &alice, false, 0).await.is_empty());
    assert_eq!(n.unread_count(&alice).await.unwrap(), 0);
    assert!(!n.hide(&alice, notes[0].id, t(7)).await.unwrap(), "already gone for alice");
    assert!(!n.mark_read(&alice, notes[1].id, t(7)).await.unwrap(), "already gone for alice");
    n.mark_all_read(&alice, t(8)).await.unwrap();
    assert!(seen(f, &alice, false, 0).await.is_empty(), "marking does not unhide");
    assert_eq!(seen(f, &bob, false, 0).await, [(2, false), (1, false)]);
    assert_eq!(n.unread_count(&bob).await.unwrap(), 2);
}

/// Marking all read writes read state for everything the viewer sees (with or without a state row), nothing
/// else: other principals, notifications outside the audience and later ones stay unread.
pub async fn marking_all_read_covers_only_what_the_viewer_sees(f: &StoreFixture) {
    let notes = [
        note(1, 1, Category::Upload),
        note(2, 2, Category::Upload),
        note(3, 3, Category::Disk),
        note(4, 4, Category::Upload),
        note(5, 5, Category::Upload),
    ];
    insert_notes(f, &notes).await;
    let n = &f.notifications;
    let (alice, bob, admin) = (
        viewer("user:alice@example.com", false),
        viewer("user:bob@example.com", false),
        viewer("user:admin@example.com", true),
    );
    assert!(n.mark_read(&alice, notes[0].id, t(10)).await.unwrap());
    assert!(n.hide(&alice, notes[3].id, t(10)).await.unwrap());
    n.mark_all_read(&alice, t(11)).await.unwrap();
    assert_eq!(seen(f, &alice, false, 0).await, [(5, true), (2, true), (1, true)]);
    assert_eq!(n.unread_count(&alice).await.unwrap(), 0);
    n.mark_all_read(&alice, t(12)).await.unwrap();
    assert_eq!(n.unread_count(&bob).await.unwrap(), 4);
    assert_eq!(n.unread_count(&admin).await.unwrap(), 5);
    // The disk notification became visible to nobody new: an operational viewer still has it unread.
    n.mark_all_read(&admin, t(13)).await.unwrap();
    assert_eq!(n.unread_count(&admin).await.unwrap(), 0);
    insert_notes(f, &[note(6, 6, Category::Upload)]).await;
    assert_eq!(n.unread_count(&alice).await.unwrap(), 1, "a later notification is unread");
    assert_eq!(seen(f, &alice, true, 0).await, [(6, false)]);
}

/// Newest first, ties by id descending; a limit caps the list and 0 means none.
pub async fn notifications_are_listed_newest_first_with_ties_by_id(f: &StoreFixture) {
    insert_notes(
        f,
        &[
            note(1, 5, Category::Upload),
            note(3, 5, Category::Upload),
            note(2, 5, Category::Upload),
            note(4, 1, Category::Upload),
            note(5, 9, Category::Upload),
        ],
    )
    .await;
    let v = viewer("user:alice@example.com", false);
    let ids = |listed: Vec<(u32, bool)>| listed.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    assert_eq!(ids(seen(f, &v, false, 0).await), [5, 3, 2, 1, 4]);
    assert_eq!(ids(seen(f, &v, false, 3).await), [5, 3, 2]);
    assert!(f.notifications.mark_read(&v, NotificationId::parse(&ulid(3)).unwrap(), t(20)).await.unwrap());
    assert_eq!(ids(seen(f, &v, true, 2).await), [5, 2], "the limit applies after the filter");
}

/// Pruning deletes notifications created before the cut and everyone's state for them.
pub async fn pruning_notifications_removes_their_states(f: &StoreFixture) {
    let notes = [note(1, 1, Category::Upload), note(2, 2, Category::Disk), note(3, 3, Category::Upload)];
    insert_notes(f, &notes).await;
    let n = &f.notifications;
    let (alice, admin) = (viewer("user:alice@example.com", false), viewer("user:admin@example.com", true));
    n.mark_all_read(&alice, t(5)).await.unwrap();
    assert!(n.hide(&admin, notes[1].id, t(5)).await.unwrap());
    assert_eq!(n.prune(t(3)).await.unwrap(), 2, "created before minute 3");
    assert_eq!(n.prune(t(3)).await.unwrap(), 0);
    assert_eq!(seen(f, &alice, false, 0).await, [(3, true)]);
    assert_eq!(seen(f, &admin, false, 0).await, [(3, false)]);
    // The pruned notifications' states went with them: stored again under the same ids, they are new to everyone
    // (alice had read both, the admin had hidden the second), while alice's state of the remaining one stays.
    insert_notes(f, &notes[..2]).await;
    assert_eq!(seen(f, &alice, false, 0).await, [(3, true), (1, false)]);
    assert_eq!(seen(f, &admin, false, 0).await, [(3, false), (2, false), (1, false)]);
}
