//! `/api/settings/*` (§13), one module per URL under it. Every route here needs a browser session with `manage`
//! (the route table enforces it); some changes also need the `admin` role.

pub mod allure;
pub mod api_keys;
pub mod disk;
pub mod retention;
pub mod users;

use crate::extract::QueryMap;

/// The `search` of a settings list, trimmed; empty means no filter.
fn search_of(query: &QueryMap) -> Option<String> {
    query.get("search").map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}
