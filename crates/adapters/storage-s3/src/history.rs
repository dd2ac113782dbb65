//! A project's trend history as an object: the text rules are the domain's (`hub_domain::model::history`); here
//! the object is only ever replaced by a conditional put on the version that was read, retried when another writer
//! came first, so two nodes cannot silently drop each other's change.

use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path as Key;
use object_store::{ObjectStore, PutMode, PutOptions};

use crate::objects;

/// Attempts of a conditional update before giving up: each lost race means another writer succeeded.
const ATTEMPTS: u32 = 10;

/// Replaces the object `key` by `change` of its current text (`""` when it does not exist) with a conditional
/// put, reading and trying again when another writer changed it meanwhile. `change` returning `None` writes
/// nothing.
///
/// # Errors
/// The object store's error, or a conflict still lost after [`ATTEMPTS`] tries.
pub(crate) async fn update(
    store: &Arc<dyn ObjectStore>,
    key: &Key,
    change: impl Fn(&str) -> Option<String>,
) -> Result<(), object_store::Error> {
    for attempt in 0..ATTEMPTS {
        let current = objects::read_text(store, key).await?;
        let text = current.as_ref().map_or("", |(text, _)| text.as_str());
        let Some(new) = change(text) else { return Ok(()) };
        let mode = match current {
            Some((_, version)) => PutMode::Update(version),
            None => PutMode::Create,
        };
        match store.put_opts(key, new.into(), PutOptions::from(mode)).await {
            Ok(_) => return Ok(()),
            Err(object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. }) => {
                // Another writer came first: back off a little, longer each time, so that retries spread out.
                let jitter = u64::try_from(ulid::Ulid::new().random() % 20).unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt + 1) + jitter)).await;
            }
            Err(e) => return Err(e),
        }
    }
    Err(object_store::Error::Generic {
        store: "S3",
        source: format!("{key} kept changing: {ATTEMPTS} conditional writes lost to other writers").into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conditional_updates_create_then_replace_and_retry_lost_races() {
        let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let key = Key::from("h.jsonl");
        update(&store, &key, |text| Some(format!("{text}1\n"))).await.unwrap();
        update(&store, &key, |text| Some(format!("{text}2\n"))).await.unwrap();
        update(&store, &key, |_| None).await.unwrap();
        assert_eq!(objects::read_text(&store, &key).await.unwrap().unwrap().0, "1\n2\n");

        // A writer that changes the object between this update's read and its write makes it read again.
        let racing = Arc::clone(&store);
        let raced = std::sync::atomic::AtomicBool::new(false);
        update(&store, &key, |text| {
            if !raced.swap(true, std::sync::atomic::Ordering::SeqCst) {
                let racing = Arc::clone(&racing);
                let key = key.clone();
                // Runs to completion before the put below (the closure is called before it).
                std::thread::spawn(move || {
                    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
                        use object_store::ObjectStoreExt;
                        racing.put(&key, "1\n2\nother\n".into()).await.unwrap();
                    });
                })
                .join()
                .unwrap();
            }
            Some(format!("{text}3\n"))
        })
        .await
        .unwrap();
        assert_eq!(objects::read_text(&store, &key).await.unwrap().unwrap().0, "1\n2\nother\n3\n");
    }
}
