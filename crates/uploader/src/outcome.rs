//! What an upload ended with, the exit status for it, and the lines printed for a person or a CI log.

use serde_json::Value;

use crate::error::UploadError;

/// Success: uploaded (and, with `--wait`, the report is ready and its quality gate passed or has no rules).
pub const EXIT_OK: u8 = 0;
/// Network errors, local file errors, server errors after all retries, a wait that timed out.
pub const EXIT_OTHER: u8 = 1;
/// The server refused the upload (a 4xx: bad key, missing permission, duplicate build, invalid archive, …).
pub const EXIT_REFUSED: u8 = 2;
/// With `--wait`: the report generation failed.
pub const EXIT_GENERATION_FAILED: u8 = 3;
/// With `--wait`: the report was generated but its quality gate failed.
pub const EXIT_GATE_FAILED: u8 = 4;
/// Stopped by SIGINT or SIGTERM (the shell convention 128 + SIGINT); a re-run resumes a chunked upload.
pub const EXIT_INTERRUPTED: u8 = 130;

/// How an upload that the server accepted ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Accepted without waiting: the report is being generated.
    Accepted { upload_id: String, report_url: Option<String> },
    /// Waited: the final UploadSession (§16.4) and the build's `qualityGate` (§16.3, `null` without rules).
    Waited { session: Value, quality_gate: Value },
}

/// The result of a whole run, with what the chunked strategy did (for logs and tests).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// How it ended.
    pub outcome: Outcome,
    /// Chunks sent by this run (0 for a streaming upload).
    pub chunks_sent: usize,
    /// Whether this run continued an upload an earlier run had started.
    pub resumed: bool,
}

impl Outcome {
    /// The exit status of this outcome (see the `EXIT_*` constants).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Accepted { .. } => EXIT_OK,
            Self::Waited { session, quality_gate } => match session["phase"].as_str() {
                Some("done") if quality_gate["passed"] == Value::Bool(false) => EXIT_GATE_FAILED,
                Some("done") => EXIT_OK,
                Some("failed") => EXIT_GENERATION_FAILED,
                _ => EXIT_OTHER,
            },
        }
    }

    /// The lines to print for this outcome; `absolute` turns a server path into a URL.
    pub fn lines(&self, absolute: impl Fn(&str) -> String) -> Vec<String> {
        match self {
            Self::Accepted { upload_id, report_url } => {
                let mut lines = vec![format!("uploaded (upload {upload_id}); the report is being generated")];
                if let Some(url) = report_url {
                    lines.push(format!("report: {}", absolute(url)));
                }
                lines
            }
            Self::Waited { session, quality_gate } => {
                let mut lines = Vec::new();
                match session["phase"].as_str() {
                    Some("done") => lines.push("report generated".to_owned()),
                    Some("failed") => lines.push(format!(
                        "report generation failed: {}",
                        session["error"].as_str().unwrap_or("no reason given")
                    )),
                    other => lines.push(format!(
                        "stopped waiting: the report is still {} (the server's wait timed out)",
                        other.unwrap_or("in an unknown phase")
                    )),
                }
                let s = &session["stats"];
                if s.is_object() {
                    lines.push(format!(
                        "tests: {} total, {} passed, {} failed, {} broken, {} skipped, {} unknown",
                        s["total"], s["passed"], s["failed"], s["broken"], s["skipped"], s["unknown"]
                    ));
                }
                match quality_gate["passed"].as_bool() {
                    Some(true) => lines.push("quality gate: passed".to_owned()),
                    Some(false) => {
                        lines.push("quality gate: FAILED".to_owned());
                        for f in quality_gate["failures"].as_array().into_iter().flatten() {
                            lines.push(format!("  - {}", f["message"].as_str().unwrap_or("(no message)")));
                        }
                    }
                    None => lines.push("quality gate: none".to_owned()),
                }
                if let Some(url) = session["reportUrl"].as_str() {
                    lines.push(format!("report: {}", absolute(url)));
                }
                lines
            }
        }
    }
}

/// The exit status of a failed run.
pub fn error_exit_code(error: &UploadError) -> u8 {
    match error {
        UploadError::Refused { .. } => EXIT_REFUSED,
        UploadError::Other(_) => EXIT_OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn waited(session: Value, gate: Value) -> Outcome {
        Outcome::Waited { session, quality_gate: gate }
    }

    #[test]
    fn each_ending_has_its_own_exit_status() {
        let done = json!({"phase": "done", "reportUrl": "/reports/e/p/b/index.html"});
        assert_eq!(waited(done.clone(), Value::Null).exit_code(), EXIT_OK);
        assert_eq!(waited(done.clone(), json!({"passed": true, "failures": []})).exit_code(), EXIT_OK);
        // Recorded from the server: a build whose gate failed is `done` and its build carries the failures.
        let gate = json!({"passed": false, "failures": [{"rule": "maxFailures", "expected": 1, "actual": 2,
            "message": "The number of failed tests 2 exceeds the allowed threshold value 1"}]});
        let failed_gate = waited(done, gate);
        assert_eq!(failed_gate.exit_code(), EXIT_GATE_FAILED);
        assert!(
            failed_gate
                .lines(str::to_owned)
                .contains(&"  - The number of failed tests 2 exceeds the allowed threshold value 1".to_owned())
        );
        let failed = waited(
            json!({"phase": "failed", "failedAtPhase": "generating", "error": "allure generate timed out after 10m"}),
            Value::Null,
        );
        assert_eq!(failed.exit_code(), EXIT_GENERATION_FAILED);
        assert_eq!(failed.lines(str::to_owned)[0], "report generation failed: allure generate timed out after 10m");
        assert_eq!(waited(json!({"phase": "generating"}), Value::Null).exit_code(), EXIT_OTHER);
        let accepted = Outcome::Accepted { upload_id: "u".into(), report_url: Some("/r".into()) };
        assert_eq!(accepted.exit_code(), EXIT_OK);
        assert_eq!(error_exit_code(&UploadError::Refused { status: 401, message: "x".into() }), EXIT_REFUSED);
        assert_eq!(error_exit_code(&UploadError::other("x")), EXIT_OTHER);
    }
}
