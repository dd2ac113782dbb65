//! A project's trend history as text (one JSON object a line, one point per Allure run), and the rules every
//! storage applies to it: the job's copy (valid lines only, without the build's previous point, within the limit),
//! the run's new point merged back into the history as it is *now*, and a point removed. Storages only read and
//! write the text, each in its own way of replacing it safely.

use std::collections::HashSet;

/// One line of a history file, parsed once: its point id (Allure writes one `uuid` per run) and the line as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
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
pub fn valid_points(text: &str, leave_out: Option<&str>) -> Vec<Point> {
    text.lines().filter_map(Point::parse).filter(|p| leave_out.is_none() || p.id.as_deref() != leave_out).collect()
}

/// The last `limit` points as a history text.
pub fn render(points: &[Point], limit: usize) -> String {
    let mut text = String::new();
    for point in &points[points.len().saturating_sub(limit)..] {
        text.push_str(&point.line);
        text.push('\n');
    }
    text
}

/// What publishing needs to know about a job's history copy, written next to it when it is made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    /// The build's previous point, replaced by the new one.
    pub leave_out: Option<String>,
    /// `HISTORY_LIMIT`.
    pub limit: usize,
    /// Ids of the points in the copy before the run: anything else in it afterwards is the run's.
    pub before: Vec<String>,
}

/// The job's history copy (the last `limit` valid points but `leave_out`) and its plan.
pub fn copy(project_history: &str, leave_out: Option<String>, limit: usize) -> (String, Plan) {
    let points = valid_points(project_history, leave_out.as_deref());
    let kept = &points[points.len().saturating_sub(limit)..];
    let plan = Plan { leave_out, limit, before: kept.iter().filter_map(|p| p.id.clone()).collect() };
    (render(kept, limit), plan)
}

/// The points the run added to its copy.
pub fn added(copy_after_run: &str, plan: &Plan) -> Vec<Point> {
    let before: HashSet<&str> = plan.before.iter().map(String::as_str).collect();
    valid_points(copy_after_run, None)
        .into_iter()
        .filter(|p| p.id.as_deref().is_some_and(|id| !before.contains(id)))
        .collect()
}

/// The id of the point a run added (the last one if it added several).
pub fn new_point(added: &[Point]) -> Option<String> {
    added.last().and_then(|p| p.id.clone())
}

/// The project's history as it is now, with the build's previous point replaced by the run's, within the limit.
pub fn merge(current: &str, plan: &Plan, added: &[Point]) -> String {
    let mut points = valid_points(current, plan.leave_out.as_deref());
    points.extend_from_slice(added);
    render(&points, plan.limit)
}

/// The history without the point `id`; `None` when it has no such point (nothing to write).
pub fn without(current: &str, id: &str) -> Option<String> {
    let points = valid_points(current, None);
    let kept: Vec<Point> = points.iter().filter(|p| p.id.as_deref() != Some(id)).cloned().collect();
    (kept.len() != points.len()).then(|| render(&kept, usize::MAX))
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
}
