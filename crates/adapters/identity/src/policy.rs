//! The role policy file (`AUTH_POLICY_FILE`, YAML): parsing, checking, and periodic reloading.
//!
//! A missing file means the built-in policy. An invalid file at start-up is an error; an invalid file found by a
//! later reload is logged and the previous policy stays in force.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hub_domain::ids::Email;
use hub_domain::model::access::{Permission, RoleName};
use hub_domain::model::policy::{PermissionOrd, Policy, RoleDefinition};
use hub_domain::ports::PolicySource;
use serde::Deserialize;
use thiserror::Error;

/// Why a policy file was refused.
#[derive(Debug, Error)]
pub enum PolicyFileError {
    /// The file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not YAML of the expected shape.
    #[error("{path} is not a valid policy: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRole {
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileContents {
    roles: BTreeMap<String, FileRole>,
    #[serde(default)]
    default_role: Option<String>,
}

/// Parses and checks policy YAML.
///
/// # Errors
/// A message saying what is wrong.
pub fn parse_policy(yaml: &str) -> Result<Policy, String> {
    let contents: FileContents = serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?;
    let mut roles = Vec::new();
    for (name, role) in contents.roles {
        let role_name = RoleName::parse(&name).map_err(|_| format!("invalid role name {name:?}"))?;
        let mut permissions = BTreeSet::new();
        for p in &role.permissions {
            match p.as_str() {
                "*" => permissions.extend(Permission::ALL.iter().copied().map(PermissionOrd::from)),
                other => {
                    let p: Permission =
                        other.parse().map_err(|_| format!("role {name}: unknown permission {other:?}"))?;
                    permissions.insert(PermissionOrd::from(p));
                }
            }
        }
        let members = role
            .members
            .iter()
            .map(|m| Email::parse(m).map_err(|_| format!("role {name}: invalid member {m:?}")))
            .collect::<Result<_, _>>()?;
        roles.push(RoleDefinition { name: role_name, permissions, members });
    }
    let default_role = contents
        .default_role
        .map(|d| RoleName::parse(&d).map_err(|_| format!("invalid default_role {d:?}")))
        .transpose()?;
    Policy::new(roles, default_role).map_err(|e| e.to_string())
}

/// The policy file, with the policy last read from it.
#[derive(Debug)]
pub struct PolicyFile {
    path: PathBuf,
    current: RwLock<Arc<Policy>>,
}

fn load(path: &Path) -> Result<Policy, PolicyFileError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_policy(&text)
            .map_err(|message| PolicyFileError::Invalid { path: path.display().to_string(), message }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Policy::builtin()),
        Err(source) => Err(PolicyFileError::Read { path: path.display().to_string(), source }),
    }
}

impl PolicyFile {
    /// Reads the file (the built-in policy when it does not exist).
    ///
    /// # Errors
    /// [`PolicyFileError`] when the file exists but is unreadable or invalid.
    pub fn open(path: PathBuf) -> Result<Self, PolicyFileError> {
        let policy = load(&path)?;
        Ok(Self { path, current: RwLock::new(Arc::new(policy)) })
    }

    /// Re-reads the file. A valid file replaces the policy; an invalid one is refused and the previous policy
    /// stays. Returns whether the policy changed.
    ///
    /// # Errors
    /// [`PolicyFileError`] when the file is unreadable or invalid (the policy in force is kept).
    pub fn reload(&self) -> Result<bool, PolicyFileError> {
        let policy = load(&self.path)?;
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if **current == policy {
            return Ok(false);
        }
        *current = Arc::new(policy);
        Ok(true)
    }

    /// Reloads every `period`, logging changes and refusals, until `stop` turns `true` (the server's shutdown).
    pub async fn watch(self: Arc<Self>, period: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(period);
        ticks.tick().await;
        loop {
            let stopped = tokio::select! {
                _ = ticks.tick() => false,
                // An error means the sender is gone: nothing can stop this loop any more, so it ends now.
                changed = stop.changed() => changed.is_err() || *stop.borrow(),
            };
            if stopped {
                return;
            }
            let this = Arc::clone(&self);
            match tokio::task::spawn_blocking(move || this.reload()).await {
                Ok(Ok(true)) => tracing::info!(path = %self.path.display(), "policy file reloaded"),
                Ok(Ok(false)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "policy file rejected; the previous policy stays in force")
                }
                Err(e) => tracing::error!(error = %e, "policy reload task failed"),
            }
        }
    }
}

impl PolicySource for PolicyFile {
    fn current(&self) -> Arc<Policy> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
roles:
  admin:
    permissions: ["*"]
    members: ["Ops@Example.com"]
  developer:
    permissions: [view, upload]
    members: ["dev@example.com"]
  viewer:
    permissions: [view]
default_role: viewer
"#;

    fn role(name: &str) -> RoleName {
        RoleName::parse(name).unwrap()
    }

    #[test]
    fn the_contracts_example_parses_with_star_expanded_and_members_lower_cased() {
        let p = parse_policy(EXAMPLE).unwrap();
        assert_eq!(p.permissions_of(&role("admin")), Permission::ALL);
        let (r, _) = p.role_for(&Email::parse("ops@example.com").unwrap()).unwrap();
        assert_eq!(r.as_str(), "admin");
        let (r, _) = p.role_for(&Email::parse("someone@else").unwrap()).unwrap();
        assert_eq!(r.as_str(), "viewer");
    }

    #[test]
    fn invalid_policies_say_why() {
        for (yaml, needle) in [
            ("roles:\n  a:\n    permissions: [fly]\n", "unknown permission"),
            ("roles:\n  'bad name':\n    permissions: [view]\n", "invalid role name"),
            ("roles:\n  a:\n    members: [x@y]\n  b:\n    members: [X@y]\n", "member of both"),
            ("roles:\n  a: {}\ndefault_role: b\n", "default_role"),
            ("roles:\n  a:\n    colour: red\n", "colour"),
            ("nothing: here\n", "roles"),
        ] {
            let err = parse_policy(yaml).unwrap_err();
            assert!(err.contains(needle), "{yaml:?}: {err}");
        }
    }

    #[test]
    fn a_missing_file_is_the_builtin_policy() {
        let dir = tempfile::tempdir().unwrap();
        let file = PolicyFile::open(dir.path().join("policy.yaml")).unwrap();
        assert_eq!(*file.current(), Policy::builtin());
    }

    #[test]
    fn reload_takes_a_valid_change_and_keeps_the_old_policy_on_an_invalid_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, EXAMPLE).unwrap();
        let file = PolicyFile::open(path.clone()).unwrap();
        assert!(!file.reload().unwrap(), "unchanged file, unchanged policy");

        std::fs::write(&path, EXAMPLE.replace("[view, upload]", "[view]")).unwrap();
        assert!(file.reload().unwrap());
        assert_eq!(file.current().permissions_of(&role("developer")), [Permission::View]);

        std::fs::write(&path, "roles: [not, a, map]").unwrap();
        assert!(file.reload().is_err());
        assert_eq!(file.current().permissions_of(&role("developer")), [Permission::View], "previous policy kept");
    }

    #[tokio::test]
    async fn the_watch_reloads_changes_and_ends_with_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, EXAMPLE).unwrap();
        let file = Arc::new(PolicyFile::open(path.clone()).unwrap());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let watching = tokio::spawn(Arc::clone(&file).watch(Duration::from_millis(10), stopped));

        std::fs::write(&path, EXAMPLE.replace("[view, upload]", "[view]")).unwrap();
        let reloaded = async {
            while file.current().permissions_of(&role("developer")) != [Permission::View] {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), reloaded).await.expect("the change is picked up");

        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), watching).await.expect("the watch ends on shutdown").unwrap();
        // A dropped sender ends it too, instead of leaving a loop nothing can stop.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let watching = tokio::spawn(Arc::clone(&file).watch(Duration::from_millis(10), stopped));
        drop(stop);
        tokio::time::timeout(Duration::from_secs(10), watching).await.expect("the watch ends").unwrap();
    }

    #[test]
    fn an_invalid_file_at_start_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, "roles:\n  a:\n    permissions: [fly]\n").unwrap();
        assert!(matches!(PolicyFile::open(path), Err(PolicyFileError::Invalid { .. })));
    }
}
