//! Records build facts for `/api/version`: commit, build time and compiler version ("unknown" when absent).

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rust_version = output(&rustc, &["--version"])
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "unknown".into());
    let commit = output("git", &["rev-parse", "--short=7", "HEAD"]).unwrap_or_else(|| "unknown".into());
    // SOURCE_DATE_EPOCH makes reproducible builds report their source date instead of the wall clock.
    let build_time = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(epoch) => output("date", &["-u", "-d", &format!("@{epoch}"), "+%Y-%m-%dT%H:%M:%S.000Z"]),
        Err(_) => output("date", &["-u", "+%Y-%m-%dT%H:%M:%S.000Z"]),
    }
    .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=ALLURE_HUB_RUST_VERSION={rust_version}");
    println!("cargo:rustc-env=ALLURE_HUB_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=ALLURE_HUB_BUILD_TIME={build_time}");
    // Re-run when the checked-out commit changes, not on every build.
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs/heads");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
}
