//! Implementations of the domain's repository ports on [`crate::Store`], one module per port.

mod api_keys;
mod builds;
mod cleanup_runs;
mod environments;
mod jobs;
mod nodes;
mod notifications;
mod overview;
mod projects;
mod settings;
mod stale_reports;
mod stored_bytes;
pub(crate) mod time;
mod uploads;
mod users;

diesel::define_sql_function! {
    /// SQL `lower()`, the same on SQLite and PostgreSQL, for case-insensitive search.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A `LIKE` pattern matching `needle` as a case-insensitive substring, with `%`, `_` and `\` taken literally
/// (to be used with `ESCAPE '\'` against `lower(column)`).
pub(crate) fn like_pattern(needle: &str) -> String {
    let mut pattern = String::from("%");
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
