//! One malloc arena for the server.
//!
//! glibc's malloc gives each thread that allocates an arena of its own (up to eight per core) and keeps the memory
//! freed in an arena for that arena: an upload's buffers, made on an HTTP worker, a blocking-pool thread or an
//! extraction thread, each left their own few MiB behind. Measured with `just bench-upload-s3` (a 1 GiB upload,
//! see docs/uploads.md) the peak resident set went over the 64 MiB budget on S3 and for chunked uploads on the
//! filesystem; with one arena every upload stayed under 59 MiB. glibc reads the setting only when a process
//! starts and there is no call for it without `unsafe`, so when the environment does not choose, the server runs
//! itself again at once (`exec`: the same process id, arguments and environment) with the tunable set. An
//! environment that sets `MALLOC_ARENA_MAX` or the tunable itself is left as it is; other C libraries ignore it.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;

/// The tunable for the number of arenas.
const ARENA_MAX: &str = "glibc.malloc.arena_max";

/// The `GLIBC_TUNABLES` to run with, given the current one and whether `MALLOC_ARENA_MAX` is set; `None` when the
/// environment already chooses the number of arenas.
fn tunables(current: Option<&str>, arena_max_set: bool) -> Option<String> {
    let current = current.unwrap_or("");
    let chosen = current.split(':').any(|setting| setting.split('=').next() == Some(ARENA_MAX));
    if arena_max_set || chosen {
        return None;
    }
    Some(if current.is_empty() { format!("{ARENA_MAX}=1") } else { format!("{current}:{ARENA_MAX}=1") })
}

/// Runs the process again with one malloc arena unless the environment chooses; returns only when it does, or when
/// the process cannot be run again (it then goes on as it is, with a line on standard error). Call before any
/// thread is started.
pub(crate) fn one_arena() {
    // Named in full: the configuration page's test finds the variables the server reads by these calls.
    let current = std::env::var_os("GLIBC_TUNABLES").map(|v| v.to_string_lossy().into_owned());
    let Some(value) = tunables(current.as_deref(), std::env::var_os("MALLOC_ARENA_MAX").is_some()) else { return };
    let Ok(binary) = std::env::current_exe() else { return };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(binary);
    if let Some(name) = args.next() {
        command.arg0(name);
    }
    let error = command.args(args.collect::<Vec<OsString>>()).env("GLIBC_TUNABLES", value).exec();
    eprintln!("allure-hub: cannot restart with one malloc arena ({error}); memory use may exceed the budget");
}

#[cfg(test)]
mod tests {
    use super::tunables;

    #[test]
    fn one_arena_is_added_unless_the_environment_chooses() {
        assert_eq!(tunables(None, false).as_deref(), Some("glibc.malloc.arena_max=1"));
        assert_eq!(tunables(Some(""), false).as_deref(), Some("glibc.malloc.arena_max=1"));
        assert_eq!(
            tunables(Some("glibc.malloc.tcache_count=0"), false).as_deref(),
            Some("glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1")
        );
        assert_eq!(tunables(Some("glibc.malloc.arena_max=4"), false), None, "the tunable is kept as set");
        assert_eq!(tunables(Some("glibc.malloc.mmap_threshold=1:glibc.malloc.arena_max=2"), false), None);
        assert_eq!(tunables(None, true), None, "MALLOC_ARENA_MAX is kept as set");
    }
}
