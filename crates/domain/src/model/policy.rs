//! The role policy: which permissions each role has and which emails belong to it.

use std::collections::{BTreeSet, HashMap};

use thiserror::Error;

use crate::ids::Email;
use crate::model::access::{Permission, RoleName};
use crate::model::user::RoleSource;

/// One role of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDefinition {
    /// Role name.
    pub name: RoleName,
    /// Permissions granted (`*` already expanded).
    pub permissions: BTreeSet<PermissionOrd>,
    /// Members (lower-cased emails).
    pub members: Vec<Email>,
}

/// A [`Permission`] ordered as the contract lists permissions: view, upload, manage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PermissionOrd(u8);

impl From<Permission> for PermissionOrd {
    fn from(p: Permission) -> Self {
        Self(match p {
            Permission::View => 0,
            Permission::Upload => 1,
            Permission::Manage => 2,
        })
    }
}

impl PermissionOrd {
    /// The permission.
    pub fn permission(self) -> Permission {
        Permission::ALL[usize::from(self.0)]
    }
}

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// An email is listed under two roles.
    #[error("{email} is a member of both {first} and {second}")]
    DuplicateMember {
        /// The email.
        email: String,
        /// One role.
        first: String,
        /// The other.
        second: String,
    },
    /// `default_role` names no defined role.
    #[error("default_role {0} is not a defined role")]
    UnknownDefault(String),
    /// A role is defined twice.
    #[error("role {0} is defined twice")]
    DuplicateRole(String),
}

/// The policy in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    roles: Vec<RoleDefinition>,
    default_role: Option<RoleName>,
    member_index: HashMap<Email, usize>,
}

/// The roles every installation has (the policy file may add more): `admin` manages everything, `developer` reads
/// and uploads, `viewer` reads. API keys take one of these.
pub const BUILTIN_ROLES: [&str; 3] = ["admin", "developer", "viewer"];

impl Policy {
    /// Checks and indexes a policy.
    ///
    /// # Errors
    /// [`PolicyError`] for a duplicate role or member, or an undefined default role.
    pub fn new(roles: Vec<RoleDefinition>, default_role: Option<RoleName>) -> Result<Self, PolicyError> {
        let mut member_index = HashMap::new();
        for (i, role) in roles.iter().enumerate() {
            if roles[..i].iter().any(|r| r.name == role.name) {
                return Err(PolicyError::DuplicateRole(role.name.as_str().to_owned()));
            }
            for email in &role.members {
                if let Some(&other) = member_index.get(email) {
                    let other: &RoleDefinition = &roles[other];
                    if other.name != role.name {
                        return Err(PolicyError::DuplicateMember {
                            email: email.to_string(),
                            first: other.name.as_str().to_owned(),
                            second: role.name.as_str().to_owned(),
                        });
                    }
                }
                member_index.insert(email.clone(), i);
            }
        }
        if let Some(default) = &default_role
            && !roles.iter().any(|r| &r.name == default)
        {
            return Err(PolicyError::UnknownDefault(default.as_str().to_owned()));
        }
        Ok(Self { roles, default_role, member_index })
    }

    /// The policy used when no policy file exists: `admin` (all), `developer` (view, upload), `viewer` (view),
    /// no members, no default role.
    pub fn builtin() -> Self {
        let role = |name: &str, perms: &[Permission]| RoleDefinition {
            name: RoleName::parse(name).unwrap_or_else(|_| unreachable!("valid built-in role name")),
            permissions: perms.iter().copied().map(PermissionOrd::from).collect(),
            members: Vec::new(),
        };
        let [admin, developer, viewer] = BUILTIN_ROLES;
        let roles = vec![
            role(admin, Permission::ALL),
            role(developer, &[Permission::View, Permission::Upload]),
            role(viewer, &[Permission::View]),
        ];
        Self::new(roles, None).unwrap_or_else(|_| unreachable!("the built-in policy is valid"))
    }

    /// Whether a role of this name is defined.
    pub fn has_role(&self, role: &RoleName) -> bool {
        self.roles.iter().any(|r| &r.name == role)
    }

    /// The permissions of a role in order view, upload, manage; none for an undefined role.
    pub fn permissions_of(&self, role: &RoleName) -> Vec<Permission> {
        self.roles
            .iter()
            .find(|r| &r.name == role)
            .map(|r| r.permissions.iter().map(|p| p.permission()).collect())
            .unwrap_or_default()
    }

    /// The role the policy gives an email (membership, else the default role), without overrides.
    pub fn role_for(&self, email: &Email) -> Option<(RoleName, RoleSource)> {
        if let Some(&i) = self.member_index.get(email) {
            return Some((self.roles[i].name.clone(), RoleSource::Policy));
        }
        self.default_role.clone().map(|r| (r, RoleSource::Default))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str, perms: &[Permission], members: &[&str]) -> RoleDefinition {
        RoleDefinition {
            name: RoleName::parse(name).unwrap(),
            permissions: perms.iter().copied().map(PermissionOrd::from).collect(),
            members: members.iter().map(|m| Email::parse(m).unwrap()).collect(),
        }
    }

    #[test]
    fn the_builtin_policy_has_three_roles_and_no_members() {
        let p = Policy::builtin();
        let admin = RoleName::parse("admin").unwrap();
        assert_eq!(p.permissions_of(&admin), Permission::ALL);
        assert_eq!(p.permissions_of(&RoleName::parse("viewer").unwrap()), [Permission::View]);
        assert_eq!(p.role_for(&Email::parse("a@b").unwrap()), None);
    }

    #[test]
    fn members_win_over_the_default_role_and_undefined_roles_have_no_permissions() {
        let p = Policy::new(
            vec![
                role("dev", &[Permission::Upload, Permission::View], &["Dev@X.io"]),
                role("viewer", &[Permission::View], &[]),
            ],
            Some(RoleName::parse("viewer").unwrap()),
        )
        .unwrap();
        let (r, source) = p.role_for(&Email::parse("dev@x.io").unwrap()).unwrap();
        assert_eq!((r.as_str(), source), ("dev", RoleSource::Policy));
        assert_eq!(p.permissions_of(&r), [Permission::View, Permission::Upload], "listed in contract order");
        let (r, source) = p.role_for(&Email::parse("other@x.io").unwrap()).unwrap();
        assert_eq!((r.as_str(), source), ("viewer", RoleSource::Default));
        assert!(p.permissions_of(&RoleName::parse("ghost").unwrap()).is_empty());
    }

    #[test]
    fn invalid_policies_are_refused() {
        let dup = Policy::new(vec![role("a", &[], &["x@y"]), role("b", &[], &["X@y"])], None);
        assert!(matches!(dup, Err(PolicyError::DuplicateMember { .. })));
        let default = Policy::new(vec![role("a", &[], &[])], Some(RoleName::parse("b").unwrap()));
        assert_eq!(default, Err(PolicyError::UnknownDefault("b".into())));
        let twice = Policy::new(vec![role("a", &[], &[]), role("a", &[], &[])], None);
        assert_eq!(twice, Err(PolicyError::DuplicateRole("a".into())));
    }
}
