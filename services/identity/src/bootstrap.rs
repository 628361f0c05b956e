//! First start: the default roles, a default tenant and the admin account.

use flowmate_domain::permissions;
use flowmate_domain::{
    identity::{normalize_username, Role, Status, Tenant},
    time, Id,
};

use crate::{
    core::IdentityCore,
    error::{IdentityError, Result},
    model::UserRecord,
    passwords,
};

/// What first start created, for the start-up banner.
#[derive(Debug, Clone)]
pub struct FirstStart {
    /// The admin's username.
    pub username: String,
    /// The generated password, when none was configured. Shown once, never stored in clear.
    pub generated_password: Option<String>,
}

/// The global roles every installation has.
fn default_roles() -> Vec<(&'static str, Vec<&'static str>, &'static str)> {
    vec![
        (
            "ADMIN",
            vec!["all"],
            "Global administrator: every permission in every tenant",
        ),
        (
            "TENANT_ADMIN",
            vec![
                "tenant.all",
                "tenant.profile.read",
                "tenant.profile.update",
                "tenant.roles.read",
                "tenant.roles.create",
                "tenant.roles.update",
                "tenant.roles.delete",
                "tenant.flows.read",
                "tenant.flows.create",
                "tenant.flows.update",
                "tenant.flows.delete",
                permissions::FLOWS_READ,
                permissions::FLOWS_WRITE,
                permissions::FLOWS_CONTROL,
                permissions::FLOWS_BULK,
                permissions::TEMPLATES_READ,
                permissions::TEMPLATES_WRITE,
                permissions::EXECUTIONS_READ,
                permissions::WEBHOOKS_EXECUTE,
                "components.read",
                permissions::SECRETS_READ,
                permissions::SECRETS_WRITE,
            ],
            "Administrator of one tenant: its accounts, roles, flows, templates, secrets and executions",
        ),
        (
            "USER",
            vec![
                "tenant.profile.read",
                "tenant.roles.read",
                permissions::FLOWS_READ,
                permissions::TEMPLATES_READ,
                permissions::EXECUTIONS_READ,
                permissions::SECRETS_READ,
            ],
            "Member of a tenant: reads its flows, templates, executions and secrets (names and types, never values)",
        ),
    ]
}

impl IdentityCore {
    /// Seeds an empty store. Safe when several replicas start at once: every insert tolerates a winner.
    /// Returns what it created when it created the admin.
    pub async fn bootstrap(
        &self,
        admin_username: &str,
        admin_password: Option<String>,
        tenant_name: &str,
    ) -> Result<Option<FirstStart>> {
        let now = time::now_string();
        for (name, perms, description) in default_roles() {
            let role = Role {
                id: Id::new().into_string(),
                name: name.to_owned(),
                permissions: perms.into_iter().map(str::to_owned).collect(),
                scope: String::new(),
                created_at: now.clone(),
                updated_at: now.clone(),
                is_global: true,
                description: description.to_owned(),
                tenant: None,
            };
            self.store.ensure_role(&role).await?;
        }
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let tenant = match self.store.tenant_by_name(tenant_name).await? {
            Some(t) => t,
            None => {
                let t = Tenant {
                    id: Id::new().into_string(),
                    name: tenant_name.to_owned(),
                    status: Status::Active,
                    created_at: now.clone(),
                    updated_at: now.clone(),
                };
                match self.store.insert_tenant(&t).await {
                    Ok(()) => t,
                    Err(IdentityError::DuplicateKey) => self
                        .store
                        .tenant_by_name(tenant_name)
                        .await?
                        .ok_or(IdentityError::DuplicateKey)?,
                    Err(e) => return Err(e),
                }
            }
        };
        let admin_role = self
            .store
            .list_roles(None)
            .await?
            .into_iter()
            .find(|r| r.is_global && r.name == "ADMIN")
            .ok_or(IdentityError::Internal("ADMIN role missing".into()))?;
        let generated = admin_password.is_none().then(passwords::generate);
        let password = admin_password.or_else(|| generated.clone()).unwrap_or_default();
        let record = UserRecord {
            id: Id::new().into_string(),
            username: normalize_username(admin_username),
            firstname: "Admin".into(),
            lastname: "FlowMate".into(),
            status: Status::Active,
            tenant: tenant.id,
            roles: vec![admin_role.id],
            permissions: vec![],
            confirmed: true,
            img: None,
            password_hash: passwords::hash(password).await?,
            failed_logins: 0,
            first_failed_at: 0,
            locked_until: 0,
            revision: 0,
            created_at: now.clone(),
            updated_at: now,
        };
        match self.store.insert_user(&record, &[]).await {
            Ok(()) => Ok(Some(FirstStart {
                username: record.username,
                generated_password: generated,
            })),
            Err(IdentityError::DuplicateKey) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Prints the first-start banner with the admin login (the generated password is shown this once only).
pub fn print_first_start(first: &FirstStart) {
    match &first.generated_password {
        Some(password) => println!(
            "\nFlowMate admin account created:\n  username: {}\n  password: {}\n\
             This password is shown once. Set FLOWMATE_ADMIN_PASSWORD to choose your own.\n",
            first.username, password
        ),
        None => println!(
            "\nFlowMate admin account created: {} (password from configuration)\n",
            first.username
        ),
    }
}
