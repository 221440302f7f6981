//! Users and roles: the built-in `admin`/`power`/`user` roles, the test world's custom roles and
//! SAML users, and the effective capabilities and index restrictions of a set of roles.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Every capability the `admin` role holds (a representative subset of splunkd's list).
const ADMIN_CAPABILITIES: &[&str] = &[
    "admin_all_objects",
    "change_authentication",
    "change_own_password",
    "delete_by_keyword",
    "edit_roles",
    "edit_roles_grantable",
    "edit_search_server",
    "edit_server",
    "edit_tokens_all",
    "edit_tokens_own",
    "edit_tokens_settings",
    "edit_user",
    "edit_oauth_configs",
    "get_metadata",
    "get_typeahead",
    "indexes_edit",
    "list_inputs",
    "list_oauth_configs",
    "list_settings",
    "list_storage_passwords",
    "list_tokens_all",
    "list_tokens_own",
    "rest_apps_management",
    "rest_properties_get",
    "rest_properties_set",
    "rtsearch",
    "schedule_search",
    "search",
];

/// One role.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Role {
    /// Role name.
    pub(crate) name: String,
    /// Capabilities granted directly.
    pub(crate) capabilities: Vec<String>,
    /// Roles whose capabilities and indexes this one inherits.
    pub(crate) imported_roles: Vec<String>,
    /// Index patterns searches may read.
    pub(crate) srch_indexes_allowed: Vec<String>,
    /// Index patterns searched when the SPL names none.
    pub(crate) srch_indexes_default: Vec<String>,
    /// Roles a holder of `edit_roles_grantable`/`edit_user` may grant.
    pub(crate) grantable_roles: Vec<String>,
    /// Default app of users with this role.
    pub(crate) default_app: String,
}

impl Role {
    fn new(
        name: &str,
        caps: &[&str],
        imported: &[&str],
        allowed: &[&str],
        default: &[&str],
    ) -> Self {
        let v = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Self {
            name: name.to_owned(),
            capabilities: v(caps),
            imported_roles: v(imported),
            srch_indexes_allowed: v(allowed),
            srch_indexes_default: v(default),
            grantable_roles: Vec::new(),
            default_app: String::new(),
        }
    }
}

/// The kind of account (`type` in `authentication/users`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserType {
    /// A native account with a password.
    Splunk,
    /// An account known from SAML assertions (no password here).
    Saml,
}

impl UserType {
    /// The label splunkd prints.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Splunk => "Splunk",
            Self::Saml => "SAML",
        }
    }
}

/// One user.
#[derive(Debug, Clone)]
pub(crate) struct User {
    /// Login name.
    pub(crate) name: String,
    /// Salted SHA-256 of the password (`None` for SAML users).
    password_hash: Option<String>,
    /// Roles held directly.
    pub(crate) roles: Vec<String>,
    /// `Splunk` or `SAML`.
    pub(crate) user_type: UserType,
    /// Full name.
    pub(crate) realname: String,
    /// E-mail address.
    pub(crate) email: String,
    /// Default app.
    pub(crate) default_app: String,
    /// Time zone (`""` = the server's).
    pub(crate) tz: String,
    /// Whether the password must be changed at next login.
    pub(crate) force_change_pass: bool,
    /// Creation time, used as `updated`.
    pub(crate) updated: DateTime<Utc>,
}

impl User {
    fn new(
        name: &str,
        password: Option<&str>,
        roles: &[&str],
        user_type: UserType,
        realname: &str,
        email: &str,
    ) -> Self {
        Self {
            name: name.to_owned(),
            password_hash: password.map(|p| hash_password(name, p)),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            user_type,
            realname: realname.to_owned(),
            email: email.to_owned(),
            default_app: "search".to_owned(),
            tz: String::new(),
            force_change_pass: false,
            updated: Utc::now(),
        }
    }

    /// Sets a new password.
    pub(crate) fn set_password(&mut self, password: &str) {
        self.password_hash = Some(hash_password(&self.name, password));
    }

    /// Whether `password` is this user's password (SAML users have none).
    pub(crate) fn check_password(&self, password: &str) -> bool {
        self.password_hash
            .as_deref()
            .is_some_and(|h| h == hash_password(&self.name, password))
    }
}

fn hash_password(user: &str, password: &str) -> String {
    hex::encode(Sha256::digest(
        format!("splunk-emulator:{user}:{password}").as_bytes(),
    ))
}

/// What a set of roles adds up to, following `imported_roles`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Effective {
    /// All roles, direct and imported.
    pub(crate) roles: BTreeSet<String>,
    /// All capabilities.
    pub(crate) capabilities: BTreeSet<String>,
    /// Union of `srchIndexesAllowed`.
    pub(crate) allowed_indexes: Vec<String>,
    /// Union of `srchIndexesDefault`.
    pub(crate) default_indexes: Vec<String>,
}

impl Effective {
    /// Whether the capability is held.
    pub(crate) fn has(&self, capability: &str) -> bool {
        self.capabilities.contains(capability)
    }
}

/// Whether an index may be searched under the given `srchIndexesAllowed` patterns. As in Splunk,
/// a pattern starting with `*` does not reach internal (`_`) indexes; `_*` does.
pub(crate) fn index_allowed(patterns: &[String], index: &str) -> bool {
    patterns.iter().any(|p| {
        if index.starts_with('_') && !p.starts_with('_') {
            return false;
        }
        crate::server::envelope::glob_match(&p.to_lowercase(), &index.to_lowercase())
    })
}

/// The user and role store.
#[derive(Debug, Clone)]
pub(crate) struct Directory {
    /// Roles by name.
    pub(crate) roles: BTreeMap<String, Role>,
    /// Users by name.
    pub(crate) users: BTreeMap<String, User>,
}

impl Directory {
    /// The test world: built-in roles, custom roles, `admin` and the SAML users to mirror.
    ///
    /// Splunk lists a SAML user once they have signed in, with the roles their IdP groups
    /// mapped to at that sign-in. The seed is that record after each person of the test IdP
    /// signed in once under the test world's mapping (`e2e_tests::GROUP_ROLES`: `analysts` →
    /// `web_analyst`, `admins` → `admin`), so a user's record and the `current-context` of their
    /// IdP token agree: alice (analysts) is a `web_analyst`, bob (admins) an `admin`. carol is in
    /// no group: her IdP token maps to no role and is refused, and her record holds `user`,
    /// given to her by name (Splunk's per-user SAML role map), so mirror mode has a record to read.
    pub(crate) fn seeded(admin_password: &str) -> Self {
        let mut admin = Role::new(
            "admin",
            ADMIN_CAPABILITIES,
            &["power", "user"],
            &["*", "_*"],
            &["main"],
        );
        admin.grantable_roles = vec!["admin".to_owned()];
        let power = Role::new(
            "power",
            &[
                "rtsearch",
                "schedule_search",
                "edit_search_schedule_priority",
                "list_tokens_own",
            ],
            &["user"],
            &["*"],
            &["main"],
        );
        let user = Role::new(
            "user",
            &[
                "change_own_password",
                "edit_tokens_own",
                "get_metadata",
                "get_typeahead",
                "list_inputs",
                "rest_properties_get",
                "schedule_search",
                "search",
            ],
            &[],
            &["*"],
            &["main"],
        );
        let mut web = Role::new("web_analyst", &["search"], &[], &["web", "main"], &["web"]);
        web.default_app = "search".to_owned();
        let security = Role::new(
            "security_analyst",
            &["search"],
            &[],
            &["security", "firewall", "web"],
            &["security"],
        );
        let mcp = Role::new(
            "mcp_user",
            &["search", "edit_tokens_own"],
            &[],
            &["main"],
            &["main"],
        );
        let roles = [admin, power, user, web, security, mcp]
            .into_iter()
            .map(|r| (r.name.clone(), r))
            .collect();
        let users = [
            User::new(
                "admin",
                Some(admin_password),
                &["admin"],
                UserType::Splunk,
                "Administrator",
                "changeme@example.com",
            ),
            User::new(
                "alice",
                None,
                &["web_analyst"],
                UserType::Saml,
                "Alice Example",
                "alice@example.com",
            ),
            User::new(
                "bob",
                None,
                &["admin"],
                UserType::Saml,
                "Bob Example",
                "bob@example.com",
            ),
            User::new(
                "carol",
                None,
                &["user"],
                UserType::Saml,
                "Carol Example",
                "carol@example.com",
            ),
        ]
        .into_iter()
        .map(|u| (u.name.clone(), u))
        .collect();
        Self { roles, users }
    }

    /// The union of the given roles and everything they import.
    pub(crate) fn effective<S: AsRef<str>>(&self, roles: &[S]) -> Effective {
        let mut out = Effective::default();
        let mut stack: Vec<String> = roles.iter().map(|r| r.as_ref().to_owned()).collect();
        while let Some(name) = stack.pop() {
            if !out.roles.insert(name.clone()) {
                continue;
            }
            let Some(role) = self.roles.get(&name) else {
                continue;
            };
            out.capabilities.extend(role.capabilities.iter().cloned());
            for idx in &role.srch_indexes_allowed {
                if !out.allowed_indexes.contains(idx) {
                    out.allowed_indexes.push(idx.clone());
                }
            }
            for idx in &role.srch_indexes_default {
                if !out.default_indexes.contains(idx) {
                    out.default_indexes.push(idx.clone());
                }
            }
            stack.extend(role.imported_roles.iter().cloned());
        }
        out
    }

    /// Checks that `granter` may grant each role; the error is splunkd's message.
    pub(crate) fn check_grantable(
        &self,
        granter: &Effective,
        roles: &[String],
    ) -> Result<(), String> {
        for role in roles {
            if !self.roles.contains_key(role) {
                return Err(format!("Role={role} is not grantable"));
            }
            if granter.has("admin_all_objects") {
                continue;
            }
            let grantable = granter
                .roles
                .iter()
                .filter_map(|r| self.roles.get(r))
                .flat_map(|r| r.grantable_roles.iter())
                .any(|g| g == "*" || g == role);
            if !grantable {
                return Err(format!("Role={role} is not grantable"));
            }
        }
        Ok(())
    }

    /// Adds a new user.
    pub(crate) fn insert_user(
        &mut self,
        name: &str,
        password: Option<&str>,
        roles: Vec<String>,
    ) -> &mut User {
        let mut user = User::new(name, password, &[], UserType::Splunk, "", "");
        user.roles = roles;
        self.users.entry(name.to_owned()).or_insert(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_does_not_reach_internal_indexes() {
        let patterns = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let cases = [
            (patterns(&["*"]), "web", true),
            (patterns(&["*"]), "_internal", false),
            (patterns(&["*", "_*"]), "_internal", true),
            (patterns(&["web", "main"]), "security", false),
            (patterns(&["sec*"]), "security", true),
        ];
        for (allowed, index, expected) in cases {
            assert_eq!(
                index_allowed(&allowed, index),
                expected,
                "{allowed:?} {index}"
            );
        }
    }

    #[test]
    fn effective_roles_follow_imports() {
        let directory = Directory::seeded("pw");
        let analyst = directory.effective(&["security_analyst", "power"]);
        assert!(analyst.has("rtsearch") && analyst.has("search") && analyst.has("edit_tokens_own"));
        assert!(analyst.roles.contains("user"), "power imports user");
        assert_eq!(
            analyst.allowed_indexes,
            vec!["*", "security", "firewall", "web"]
        );
        let bob = &directory.users["bob"];
        let bob = directory.effective(&bob.roles);
        assert!(
            bob.roles.contains("power") && bob.roles.contains("user"),
            "admin imports power and user"
        );
        assert!(bob.has("edit_user") && bob.has("edit_tokens_all"));
        let admin = directory.effective(&["admin"]);
        assert!(
            directory
                .check_grantable(&admin, &["mcp_user".to_owned()])
                .is_ok()
        );
        let alice = directory.effective(&["web_analyst"]);
        assert_eq!(
            directory.check_grantable(&alice, &["admin".to_owned()]),
            Err("Role=admin is not grantable".to_owned())
        );
    }
}
