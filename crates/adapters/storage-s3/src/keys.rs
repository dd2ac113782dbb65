//! The layout of keys below the configured prefix (`s3://bucket/<prefix>/`):
//!
//! ```text
//! envs/<env>/<project>/history.jsonl                           the project's trend history (conditional puts)
//! envs/<env>/<project>/uploads/<upload>/chunk-<n>              stored chunks of a chunked upload
//! envs/<env>/<project>/builds/<build>/results.zip              the build's results: the validated archive
//! envs/<env>/<project>/builds/<build>/reports/<key>/report.zip  one published report, each under a fresh key:
//! envs/<env>/<project>/builds/<build>/reports/<key>/index.json  its files as one archive, and where each lies in it
//! .probe/<ulid>                                                written and deleted by the health check
//! ```
//!
//! Everything of an environment, a project or a build is under one prefix, so removing one is a listing and batch
//! deletes. Names are slugs, build ids and ULIDs, which are plain key segments.

use hub_domain::ids::{BuildId, EnvId, ProjectId, UploadId};
use object_store::path::Path;

/// Prefix of every environment.
pub(crate) const ENVS: &str = "envs";
/// Prefix of health-check probes.
pub(crate) const PROBES: &str = ".probe";
/// The name of a chunk object, before its index.
const CHUNK: &str = "chunk-";

/// Everything of an environment.
pub(crate) fn env_prefix(env: &EnvId) -> Path {
    Path::from_iter([ENVS, env.as_str()])
}

/// Everything of a project.
pub(crate) fn project_prefix(env: &EnvId, project: &ProjectId) -> Path {
    env_prefix(env).join(project.as_str())
}

/// Everything of a build: its results and its reports.
pub(crate) fn build_prefix(env: &EnvId, project: &ProjectId, build: &BuildId) -> Path {
    project_prefix(env, project).join("builds").join(build.as_str())
}

/// The build's results archive.
pub(crate) fn results(env: &EnvId, project: &ProjectId, build: &BuildId) -> Path {
    build_prefix(env, project, build).join("results.zip")
}

/// Where every report of a build lives, one key prefix each.
pub(crate) fn reports_prefix(env: &EnvId, project: &ProjectId, build: &BuildId) -> Path {
    build_prefix(env, project, build).join("reports")
}

/// Where the report published under `key` lives.
pub(crate) fn report_prefix(env: &EnvId, project: &ProjectId, build: &BuildId, key: &str) -> Path {
    reports_prefix(env, project, build).join(key)
}

/// The archive of the report below `report` (its prefix).
pub(crate) fn report_archive(report: &Path) -> Path {
    report.clone().join("report.zip")
}

/// The index of the report below `report` (its prefix).
pub(crate) fn report_index(report: &Path) -> Path {
    report.clone().join("index.json")
}

/// The project's history file.
pub(crate) fn history(env: &EnvId, project: &ProjectId) -> Path {
    project_prefix(env, project).join("history.jsonl")
}

/// The stored chunks of an upload.
pub(crate) fn upload_prefix(env: &EnvId, project: &ProjectId, upload: UploadId) -> Path {
    project_prefix(env, project).join("uploads").join(upload.to_string())
}

/// One stored chunk.
pub(crate) fn chunk(env: &EnvId, project: &ProjectId, upload: UploadId, index: i64) -> Path {
    upload_prefix(env, project, upload).join(format!("{CHUNK}{index}"))
}

/// The index of a chunk object's name (`chunk-<n>`), `None` for anything else.
pub(crate) fn chunk_index(name: &str) -> Option<i64> {
    name.strip_prefix(CHUNK)?.parse().ok().filter(|i| *i >= 0)
}

/// A fresh key for a report being published: unique, and sorted by time like the reports of a build.
pub(crate) fn new_report_key() -> String {
    ulid::Ulid::new().to_string()
}

/// The key of a report copied from a filesystem installation (`allure-hub storage copy`): the key of every report
/// there, and the one a build whose record names none (published before keys were recorded) has.
const COPIED_REPORT_KEY: &str = "report";

/// Whether `key` is one [`new_report_key`] makes (a ULID), or a copied report's: a single plain key segment.
pub(crate) fn is_report_key(key: &str) -> bool {
    key == COPIED_REPORT_KEY || ulid::Ulid::from_string(key).is_ok_and(|ulid| ulid.to_string() == key)
}

/// The key of the report a build's record names (`None`: a report copied from before keys were recorded), if it
/// is one this adapter could have written.
pub(crate) fn named_report(key: Option<&str>) -> Option<&str> {
    Some(key.unwrap_or(COPIED_REPORT_KEY)).filter(|key| is_report_key(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (EnvId, ProjectId, BuildId) {
        (EnvId::parse("staging").unwrap(), ProjectId::parse("checkout").unwrap(), BuildId::parse("42").unwrap())
    }

    #[test]
    fn every_file_of_a_build_is_below_its_prefix() {
        let (e, p, b) = ids();
        assert_eq!(build_prefix(&e, &p, &b).as_ref(), "envs/staging/checkout/builds/42");
        assert_eq!(results(&e, &p, &b).as_ref(), "envs/staging/checkout/builds/42/results.zip");
        let report = report_prefix(&e, &p, &b, "01J0000000000000000000000A");
        assert_eq!(report.as_ref(), "envs/staging/checkout/builds/42/reports/01J0000000000000000000000A");
        for key in [results(&e, &p, &b), report.clone()] {
            assert!(key.prefix_matches(&build_prefix(&e, &p, &b)), "{key}");
            assert!(key.prefix_matches(&project_prefix(&e, &p)), "{key}");
            assert!(key.prefix_matches(&env_prefix(&e)), "{key}");
        }
        assert_eq!(history(&e, &p).as_ref(), "envs/staging/checkout/history.jsonl");
    }

    #[test]
    fn a_report_is_an_archive_and_its_index_below_its_key() {
        let (e, p, b) = ids();
        let report = report_prefix(&e, &p, &b, "K");
        assert_eq!(report_archive(&report).as_ref(), "envs/staging/checkout/builds/42/reports/K/report.zip");
        assert_eq!(report_index(&report).as_ref(), "envs/staging/checkout/builds/42/reports/K/index.json");
    }

    #[test]
    fn chunks_are_named_by_index() {
        let (e, p, _) = ids();
        let upload = UploadId::from(ulid::Ulid::nil());
        let key = chunk(&e, &p, upload, 7);
        assert_eq!(key.as_ref(), "envs/staging/checkout/uploads/00000000000000000000000000/chunk-7");
        assert!(key.prefix_matches(&upload_prefix(&e, &p, upload)));
        assert_eq!(chunk_index(key.filename().unwrap()), Some(7));
        for other in ["chunk-", "chunk--1", "chunk-x", "7", "part-1"] {
            assert_eq!(chunk_index(other), None, "{other}");
        }
    }

    #[test]
    fn report_keys_are_unique_key_segments() {
        let (a, b) = (new_report_key(), new_report_key());
        assert_ne!(a, b);
        assert_eq!(Path::from(a.as_str()).parts().count(), 1);
        assert!(is_report_key(&a));
        assert!(is_report_key("report"), "a report copied from the filesystem");
        assert_eq!(named_report(None), Some("report"));
        assert_eq!(named_report(Some(&a)), Some(a.as_str()));
        assert_eq!(named_report(Some("../x")), None);
        for other in ["", "reports", "Report", "../x", "01j0000000000000000000000a", "01J0000000000000000000000A/x"] {
            assert!(!is_report_key(other), "{other}");
        }
    }
}
