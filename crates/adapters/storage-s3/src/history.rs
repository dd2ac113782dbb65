//! A project's trend history (one JSON object a line, one point per Allure run): the job's copy made from it, the
//! run's new point merged back into it as it is *now*, and points removed from it. The object is only ever
//! replaced by a conditional put on the version that was read, retried when another writer came first, so two
//! nodes cannot silently drop each other's change.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path as Key;
use object_store::{ObjectStore, PutMode, PutOptions};

use crate::objects;

/// Attempts of a conditional update before giving up: each lost race means another writer succeeded.
const ATTEMPTS: u32 = 10;

/// One line of a history file, parsed once: its point id (Allure writes one `uuid` per run) and the line as is.
#[derive(Clone)]
pub(crate) struct Point {
    id: Option<String>,
    line: String,
}

/// The only field of a point the server reads; the rest is checked to be valid JSON and skipped unparsed (a point
/// of a large project is megabytes).
#[derive(serde::Deserialize)]
struct PointHead {
    uuid: Option<String>,
}

impl Point {
    /// `None` for a line that is not a JSON object: one corrupt line would make every later run fail.
    fn parse(line: &str) -> Option<Self> {
        if !line.trim_start().starts_with('{') {
            return None;
        }
        let head: PointHead = serde_json::from_str(line).ok()?;
        Some(Self { id: head.uuid, line: line.to_owned() })
    }
}

/// The valid points of a history text, without the point `leave_out`.
pub(crate) fn valid_points(text: &str, leave_out: Option<&str>) -> Vec<Point> {
    text.lines().filter_map(Point::parse).filter(|p| leave_out.is_none() || p.id.as_deref() != leave_out).collect()
}

/// The last `limit` points as a history text.
pub(crate) fn render(points: &[Point], limit: usize) -> String {
    let mut text = String::new();
    for point in &points[points.len().saturating_sub(limit)..] {
        text.push_str(&point.line);
        text.push('\n');
    }
    text
}

/// What publishing needs to know about a job's history copy, written next to it when it is made.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Plan {
    /// The build's previous point, replaced by the new one.
    pub leave_out: Option<String>,
    /// `HISTORY_LIMIT`.
    pub limit: usize,
    /// Ids of the points in the copy before the run: anything else in it afterwards is the run's.
    pub before: Vec<String>,
}

/// The job's history copy (the last `limit` valid points but `leave_out`) and its plan.
pub(crate) fn copy(project_history: &str, leave_out: Option<String>, limit: usize) -> (String, Plan) {
    let points = valid_points(project_history, leave_out.as_deref());
    let kept = &points[points.len().saturating_sub(limit)..];
    let plan = Plan { leave_out, limit, before: kept.iter().filter_map(|p| p.id.clone()).collect() };
    (render(kept, limit), plan)
}

/// The points the run added to its copy.
pub(crate) fn added(copy_after_run: &str, plan: &Plan) -> Vec<Point> {
    let before: HashSet<&str> = plan.before.iter().map(String::as_str).collect();
    valid_points(copy_after_run, None)
        .into_iter()
        .filter(|p| p.id.as_deref().is_some_and(|id| !before.contains(id)))
        .collect()
}

/// The id of the point a run added (the last one if it added several).
pub(crate) fn new_point(added: &[Point]) -> Option<String> {
    added.last().and_then(|p| p.id.clone())
}

/// The project's history as it is now, with the build's previous point replaced by the run's, within the limit.
pub(crate) fn merge(current: &str, plan: &Plan, added: &[Point]) -> String {
    let mut points = valid_points(current, plan.leave_out.as_deref());
    points.extend_from_slice(added);
    render(&points, plan.limit)
}

/// The history without the point `id`; `None` when it has no such point (nothing to write).
pub(crate) fn without(current: &str, id: &str) -> Option<String> {
    let points = valid_points(current, None);
    let kept: Vec<Point> = points.iter().filter(|p| p.id.as_deref() != Some(id)).cloned().collect();
    (kept.len() != points.len()).then(|| render(&kept, usize::MAX))
}

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

    #[test]
    fn copies_drop_corrupt_lines_the_builds_old_point_and_the_oldest() {
        let history = "{\"uuid\":\"a\"}\n{\"uuid\":\"b\"}\n{broken\n[1]\n{\"uuid\":\"c\"}\n{\"uuid\":\"d\"}\n";
        let (copy, plan) = copy(history, Some("c".into()), 2);
        assert_eq!(copy, "{\"uuid\":\"b\"}\n{\"uuid\":\"d\"}\n");
        assert_eq!(plan.before, ["b", "d"]);
        assert_eq!(super::copy("", None, 5).0, "", "no history yet is an empty copy");
    }

    #[test]
    fn the_runs_point_is_merged_into_the_history_as_it_is_now() {
        let (copy, plan) = copy("{\"uuid\":\"a\"}\n{\"uuid\":\"old\"}\n{\"uuid\":\"b\"}\n", Some("old".into()), 2);
        let after_run = format!("{copy}{{\"uuid\":\"new\"}}\n");
        let added = added(&after_run, &plan);
        assert_eq!(new_point(&added).as_deref(), Some("new"));
        // Meanwhile build "a" was deleted from the project's history.
        let merged = merge("{\"uuid\":\"old\"}\n{\"uuid\":\"b\"}\n", &plan, &added);
        assert_eq!(merged, "{\"uuid\":\"b\"}\n{\"uuid\":\"new\"}\n", "deleted stays deleted, old replaced, limit kept");
    }

    #[test]
    fn a_run_that_adds_no_point_records_none() {
        let (copy, plan) = copy("{\"uuid\":\"a\"}\n", None, 5);
        let added = added(&copy, &plan);
        assert_eq!(new_point(&added), None);
        assert_eq!(merge("{\"uuid\":\"a\"}\n", &plan, &added), "{\"uuid\":\"a\"}\n");
    }

    #[test]
    fn removing_a_point_that_is_not_there_writes_nothing() {
        assert_eq!(without("{\"uuid\":\"a\"}\n{\"uuid\":\"b\"}\n", "a").as_deref(), Some("{\"uuid\":\"b\"}\n"));
        assert_eq!(without("{\"uuid\":\"a\"}\n", "gone"), None);
        assert_eq!(without("", "gone"), None);
    }

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
