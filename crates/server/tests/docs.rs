//! The documentation (the mdBook under `docs/`) held to the code: the configuration reference lists exactly the
//! variables the server reads, with the defaults the code applies; every command shown is either run by
//! `.ci/docs-check` or names the test or CI step that exercises it; internal links and anchors resolve; every page
//! is in the book's table of contents.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hub_server::Config;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The book's pages: every `.md` file directly under `docs/`, sorted.
fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages
}

/// An environment-variable-shaped name: upper-case letters, digits and underscores, starting with a letter.
fn is_var_name(s: &str) -> bool {
    s.len() >= 3
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Every double-quoted string literal of `source`.
fn string_literals(source: &str) -> Vec<&str> {
    source.split('"').skip(1).step_by(2).collect()
}

/// The variables the server reads, found in its source: every variable-shaped string literal of the configuration
/// modules under `config/` (the names they pass to their readers and put in their errors), every `env::var`/`var_os`
/// call of the server crate, and `RUST_LOG` where the logging set-up takes its filter from the environment.
fn variables_in_code() -> BTreeSet<String> {
    let src = repo().join("crates/server/src");
    let sources = |dir: &Path| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.retain(|p| p.extension().is_some_and(|e| e == "rs"));
        files
    };
    let mut vars = BTreeSet::new();
    for path in sources(&src.join("config")) {
        let text = read(&path);
        // The modules' own unit tests name variables too; only the code above them counts.
        let code = text.split("#[cfg(test)]").next().unwrap();
        vars.extend(string_literals(code).into_iter().filter(|s| is_var_name(s)).map(str::to_owned));
    }
    for path in sources(&src).into_iter().chain(sources(&src.join("config"))) {
        let text = read(&path);
        for call in ["env::var(\"", "env::var_os(\""] {
            for rest in text.split(call).skip(1) {
                vars.insert(rest.split('"').next().unwrap().to_owned());
            }
        }
        if text.contains("EnvFilter::try_from_default_env") || text.contains("EnvFilter::from_default_env") {
            vars.insert("RUST_LOG".to_owned());
        }
    }
    vars
}

/// One row of a `| Variable | Default | Meaning |` table of the configuration page.
struct Row {
    default: String,
}

/// The table rows of `docs/configuration.md` whose first cell is one variable in backticks.
fn documented_rows() -> BTreeMap<String, Row> {
    let text = read(&repo().join("docs/configuration.md"));
    let mut rows = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let Some(name) = cells[0].strip_prefix('`').and_then(|c| c.strip_suffix('`')) else { continue };
        if !is_var_name(name) {
            continue;
        }
        assert!(cells.len() >= 3, "a variable row needs a default and a meaning: {line}");
        let previous = rows.insert(name.to_owned(), Row { default: cells[1].to_owned() });
        assert!(previous.is_none(), "{name} has two rows in docs/configuration.md");
    }
    rows
}

#[test]
fn the_configuration_page_lists_exactly_the_variables_the_server_reads() {
    let code = variables_in_code();
    // A sanity floor: the extraction must really have found the configuration's names.
    assert!(code.len() >= 60 && code.contains("ADDR") && code.contains("DATABASE_URL"), "{code:?}");
    let rows = documented_rows();
    let documented: BTreeSet<String> = rows.keys().cloned().collect();
    let missing: Vec<_> = code.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&code).collect();
    assert!(missing.is_empty(), "read by the server but without a row in docs/configuration.md: {missing:?}");
    assert!(unknown.is_empty(), "rows in docs/configuration.md for variables the server does not read: {unknown:?}");
    for (name, row) in &rows {
        assert!(!row.default.is_empty(), "{name} has no default in docs/configuration.md");
    }

    // Prose may mention a variable only if the server reads it, or it is one the server sets for the CLI.
    let handed_to_the_cli = ["NODE_OPTIONS"];
    let text = read(&repo().join("docs/configuration.md"));
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if is_var_name(word) && word.contains('_') && !word.starts_with("ALLURE_HUB_") {
            assert!(
                code.contains(word) || handed_to_the_cli.contains(&word),
                "docs/configuration.md mentions {word}, which the server does not read"
            );
        }
    }
}

/// Every setting of a configuration, so two configurations compare equal only when they behave the same.
fn fingerprint(c: &Config) -> String {
    let a = &c.auth;
    let providers: Vec<String> = a
        .oidc
        .iter()
        .map(|p| {
            let secret = p.client_secret.as_ref().map(|s| s.expose());
            format!("{} {} {} {} {secret:?} {:?}", p.id, p.display_name, p.issuer, p.client_id, p.scopes)
        })
        .collect();
    let github =
        a.github.as_ref().map(|g| format!("{} {} {} {}", g.client_id, g.client_secret.expose(), g.web_url, g.api_url));
    let al = &c.allure;
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|\
         {:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{providers:?}|{github:?}|\
         {:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|\
         {:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|\
         {:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        c.addr,
        c.shutdown_timeout,
        c.request_header_timeout,
        c.idle_timeout,
        c.data_dir,
        c.database_url,
        c.db_max_connections,
        c.max_json_bytes,
        c.base_url,
        c.reports_addr,
        c.reports_base_url,
        a.session_ttl,
        a.secure_cookie,
        a.policy_file,
        a.local_login,
        a.admin_email,
        a.admin_password.as_ref().map(|s| s.expose()),
        a.session_secret.as_ref().map(|s| s.expose()),
        a.after_login_url,
        c.network.trust_proxy,
        c.network.rate_limit_rate,
        c.network.rate_limit_burst,
        c.network.cors_allowed_origins,
        c.uploads.limits,
        c.uploads.idle_timeout,
        c.uploads.wait_timeout,
        c.uploads.stale_after,
        al.bin,
        al.version,
        al.max_concurrency,
        al.timeout,
        al.history_limit,
        al.node_heap_mb,
        al.npm_bin,
        al.npm_registry,
        al.config_file,
        al.plugins_allowed,
        al.update_check_interval,
        al.job_lease,
        c.background.cleanup_enabled,
        c.background.retention_seed.retention_days,
        c.background.retention_seed.interval_hours,
        c.background.retention_seed.dry_run,
        (c.background.notify_retention_days, c.background.disk_check_interval, &c.log.level),
        format!("{:?} {} {}", c.log.format, c.log.to_stderr, c.metrics_public),
        c.node_id,
    )
}

fn config(vars: &BTreeMap<&str, String>) -> Result<Config, String> {
    Config::from_lookup(|name| vars.get(name).cloned()).map_err(|e| e.to_string())
}

/// A different valid value near `value`, so a variable the fingerprint misses is noticed.
fn other_values(value: &str) -> Vec<String> {
    let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
    if let Some((host, port)) = value.rsplit_once(':').filter(|(_, p)| p.parse::<u16>().is_ok()) {
        return vec![format!("{host}:{}", port.parse::<u16>().unwrap() + 1)];
    }
    if !digits.is_empty() && !value.contains('.') {
        let unit = &value[digits.len()..];
        return vec![format!("{}{unit}", digits.parse::<u64>().unwrap() + 1)];
    }
    match value {
        "true" => vec!["false".into()],
        "false" => vec!["true".into()],
        "auto" => vec!["true".into(), "false".into()],
        "json" => vec!["console".into()],
        "info" => vec!["debug".into()],
        "stdout" => vec!["stderr".into()],
        _ => vec![format!("{value}x")],
    }
}

#[test]
fn documented_defaults_are_the_defaults_the_code_applies() {
    // Checked twice: with nothing set, and with every provider enabled (their defaults only matter then).
    let providers: BTreeMap<&str, String> = [
        ("BASE_URL", "https://hub.example.com"),
        ("GOOGLE_CLIENT_ID", "g"),
        ("GOOGLE_CLIENT_SECRET", "gs"),
        ("GITHUB_CLIENT_ID", "h"),
        ("GITHUB_CLIENT_SECRET", "hs"),
        ("GITLAB_CLIENT_ID", "l"),
        ("GITLAB_CLIENT_SECRET", "ls"),
        ("OIDC_ISSUER_URL", "https://sso.example.com"),
        ("OIDC_CLIENT_ID", "o"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect();
    let bases = [BTreeMap::new(), providers];
    let data_dir = config(&BTreeMap::new()).unwrap().data_dir;

    let mut checked = 0;
    for (name, row) in documented_rows() {
        // A default written as a literal (`30s`, maybe followed by a remark); prose defaults ("unset",
        // "generated", "npm's own setting") are not values to set.
        let Some(literal) = row.default.strip_prefix('`').and_then(|d| d.split('`').next()) else { continue };
        let literal = literal.replace("<DATA_DIR>", &data_dir.to_string_lossy());
        let mut noticed = false;
        for base in &bases {
            let unset = fingerprint(&config(base).unwrap());
            let mut with = base.clone();
            with.insert(name.as_str(), literal.clone());
            let set = config(&with).unwrap_or_else(|e| panic!("{name}={literal} (its documented default): {e}"));
            assert_eq!(
                fingerprint(&set),
                unset,
                "{name}: the documented default `{literal}` is not the code's default"
            );
            for other in other_values(&literal) {
                with.insert(name.as_str(), other);
                noticed |= config(&with).is_ok_and(|c| fingerprint(&c) != unset);
            }
        }
        assert!(noticed, "{name}: no other value changes the configuration, so its default is not really checked");
        checked += 1;
    }
    assert!(checked >= 45, "only {checked} defaults were literals; the table format may have changed");
}

/// A fenced block of a page, with the comment line just before its opening fence.
struct Block {
    page: String,
    line: usize,
    info: String,
    body: String,
    marker: Option<String>,
}

fn blocks(page: &Path) -> Vec<Block> {
    let name = page.file_name().unwrap().to_string_lossy().into_owned();
    let mut out = Vec::new();
    let mut previous: Option<String> = None;
    let mut open: Option<Block> = None;
    for (i, line) in read(page).lines().enumerate() {
        if let Some(block) = open.as_mut() {
            if line.trim_start().starts_with("```") {
                out.push(open.take().unwrap());
            } else {
                block.body.push_str(line);
                block.body.push('\n');
            }
            continue;
        }
        if let Some(info) = line.trim_start().strip_prefix("```") {
            let marker = previous.take().filter(|p| p.starts_with("<!--"));
            open = Some(Block {
                page: name.clone(),
                line: i + 1,
                info: info.trim().to_owned(),
                body: String::new(),
                marker,
            });
        } else if !line.trim().is_empty() {
            previous = Some(line.trim().to_owned());
        }
    }
    assert!(open.is_none(), "{name}: an unclosed code block");
    out
}

const SHELL: [&str; 5] = ["sh", "bash", "console", "shell", "shell-session"];
const PROGRAMS: [&str; 10] =
    ["allure-hub", "curl", "cargo", "sqlite3", "pg_dump", "pg_restore", "psql", "docker", "helm", "systemctl"];

/// Whether a block shows a command: a shell block, or any block with a line that runs one of the programs
/// (a CI file's `run:` or `sh` step included).
fn shows_a_command(block: &Block) -> bool {
    SHELL.contains(&block.info.as_str())
        || block.body.lines().any(|l| {
            let l = l.trim_start().trim_start_matches("- ").trim_start_matches("run:").trim_start();
            let l = l.trim_start_matches("sh ").trim_start_matches(['\'', '"']);
            PROGRAMS.iter().any(|p| l.starts_with(&format!("{p} ")))
        })
}

/// Checks one `exercised-by` reference: `path::function` (a Rust `fn` or a shell function defined in that file)
/// or `path "literal"` (the file contains that text, for a CI script that runs the command as it is).
fn check_reference(reference: &str) -> Result<(), String> {
    let (path, what) = if let Some((path, name)) = reference.split_once("::") {
        (path.trim(), Err(name.trim()))
    } else if let Some((path, literal)) = reference.split_once(" \"") {
        (path.trim(), Ok(literal.trim_end_matches('"')))
    } else {
        return Err(format!("`{reference}` names no function (path::name) and no literal (path \"text\")"));
    };
    let file = repo().join(path);
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{path}: {e}"))?;
    match what {
        Ok(literal) if text.contains(literal) => Ok(()),
        Ok(literal) => Err(format!("{path} does not contain `{literal}`")),
        Err(name) if text.contains(&format!("fn {name}(")) || text.contains(&format!("\n{name}() {{")) => Ok(()),
        Err(name) => Err(format!("{path} defines no function {name}")),
    }
}

#[test]
fn every_command_shown_is_run_by_docs_check_or_names_what_exercises_it() {
    let mut run = 0;
    let mut problems = Vec::new();
    for page in pages() {
        for block in blocks(&page).into_iter().filter(shows_a_command) {
            let at = format!("{}:{}", block.page, block.line);
            let marker = block.marker.as_deref().unwrap_or("");
            let inner = marker.trim_start_matches("<!--").trim_end_matches("-->").trim();
            if inner == "docs-check: run" || inner == "docs-check: config" {
                if !SHELL.contains(&block.info.as_str()) {
                    problems.push(format!("{at}: only shell blocks can be run, not `{}`", block.info));
                }
                let exports_only = block.body.lines().all(|l| l.is_empty() || l.starts_with("export "));
                if inner == "docs-check: config" && !exports_only {
                    problems.push(format!("{at}: a `docs-check: config` block holds `export` lines only"));
                }
                run += 1;
            } else if let Some(reference) = inner.strip_prefix("exercised-by:") {
                if let Err(e) = check_reference(reference.trim()) {
                    problems.push(format!("{at}: {e}"));
                }
            } else {
                problems.push(format!(
                    "{at}: a command block needs `<!-- docs-check: run -->` or `<!-- exercised-by: … -->` on the line \
                     before it"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // .ci/docs-check runs the marked blocks; it is pointless if nothing is marked.
    assert!(run >= 5, "only {run} blocks are run by .ci/docs-check");
    assert!(check_reference("crates/server/tests/docs.rs::no_such_test").is_err());
    assert!(check_reference(".ci/run \"no such command line\"").is_err());
}

/// The anchor mdBook gives a heading: lower case, alphanumerics, `-` and `_` kept, spaces as `-`, the rest dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_lowercase().next().unwrap()),
            _ => None,
        })
        .collect()
}

fn anchors(page: &Path) -> BTreeSet<String> {
    let mut in_code = false;
    let mut out = BTreeSet::new();
    for line in read(page).lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.insert(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

/// The targets of the inline links `[text](target)` of a page, outside code blocks.
fn links(page: &Path) -> Vec<String> {
    let mut in_code = false;
    let mut out = Vec::new();
    for line in read(page).lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        for rest in line.split("](").skip(1) {
            if let Some(end) = rest.find(')') {
                out.push(rest[..end].to_owned());
            }
        }
    }
    out
}

#[test]
fn internal_links_and_anchors_resolve_inside_the_book() {
    let docs = repo().join("docs");
    let mut problems = Vec::new();
    for page in pages() {
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        for target in links(&page) {
            if target.starts_with("http://") || target.starts_with("https://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let linked = if file.is_empty() { page.clone() } else { docs.join(file) };
            if file.contains('/') || !linked.is_file() {
                problems.push(format!("{name}: `{target}` is not a page of the book"));
                continue;
            }
            if !fragment.is_empty() && !anchors(&linked).contains(fragment) {
                problems.push(format!("{name}: `{target}`: no heading with that anchor"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(anchor("OAuth and OpenID Connect providers"), "oauth-and-openid-connect-providers");
}

#[test]
fn every_page_is_in_the_summary() {
    let summary = repo().join("docs/SUMMARY.md");
    let listed: BTreeSet<String> = links(&summary).into_iter().collect();
    for page in pages() {
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        if name != "SUMMARY.md" {
            assert!(listed.contains(&name), "docs/{name} is not in docs/SUMMARY.md");
        }
    }
}

/// The book is read by people who have only the book (and the OpenAPI document the server serves): no page may
/// point to a section of the design documents, which users do not have.
#[test]
fn no_page_refers_to_the_design_documents() {
    let mut problems = Vec::new();
    for page in pages() {
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        for (number, line) in read(&page).lines().enumerate() {
            if line.contains('§') || line.contains("API.md") || line.contains("shared/spec") {
                problems.push(format!("docs/{name}:{}: {line}", number + 1));
            }
        }
    }
    assert!(problems.is_empty(), "pages that refer to the design documents:\n{}", problems.join("\n"));
}
