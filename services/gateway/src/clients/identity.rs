//! The identity service as the gateway sees it: a trait for handlers, implemented over gRPC.

use std::time::Duration;

use async_trait::async_trait;
use flowmate_api::identity::{
    CreateRole, CreateUser, LoginResponse, Role, Tenant, TokenResponse, UpdateRole, UpdateTenant, UpdateUser,
    User,
};
use flowmate_domain::{identity as dom, Fault};
use flowmate_proto::transport::Transport;
use flowmate_proto::{
    common::v1::PageRequest,
    identity::v1::{self as pb, identity_client::IdentityClient},
};
use tonic::Request;

use super::call::fault;

/// Which users to list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Exact usernames.
    pub usernames: Vec<String>,
    /// User ids.
    pub ids: Vec<String>,
    /// Page size and 1-based number.
    pub page: Option<(u32, u32)>,
    /// Only this tenant's users.
    pub tenant: Option<String>,
}

/// Identity operations; `token` is the caller's bearer token, forwarded so identity enforces its own rules.
#[async_trait]
pub trait IdentityApi: Send + Sync + 'static {
    /// Logs in.
    async fn login(&self, username: String, password: String) -> Result<LoginResponse, Fault>;
    /// Revokes the caller's token.
    async fn logout(&self, token: &str) -> Result<(), Fault>;
    /// Users in the caller's scope and their total.
    async fn list_users(&self, token: &str, filter: UserFilter) -> Result<(Vec<User>, u64), Fault>;
    /// One user.
    async fn get_user(&self, token: &str, id: &str) -> Result<User, Fault>;
    /// Creates a user.
    async fn create_user(&self, token: &str, input: CreateUser) -> Result<User, Fault>;
    /// Changes a user.
    async fn update_user(&self, token: &str, id: &str, input: UpdateUser) -> Result<User, Fault>;
    /// Deletes a user.
    async fn delete_user(&self, token: &str, id: &str) -> Result<(), Fault>;
    /// Tenants in scope.
    async fn list_tenants(&self, token: &str) -> Result<Vec<Tenant>, Fault>;
    /// Creates a tenant.
    async fn create_tenant(&self, token: &str, name: String, status: Option<String>)
        -> Result<Tenant, Fault>;
    /// Roles in scope.
    async fn list_roles(&self, token: &str) -> Result<Vec<Role>, Fault>;
    /// Creates a role.
    async fn create_role(&self, token: &str, input: CreateRole) -> Result<Role, Fault>;
    /// One tenant.
    async fn get_tenant(&self, token: &str, id: &str) -> Result<Tenant, Fault>;
    /// Changes a tenant.
    async fn update_tenant(&self, token: &str, id: &str, input: UpdateTenant) -> Result<Tenant, Fault>;
    /// Deletes a tenant.
    async fn delete_tenant(&self, token: &str, id: &str) -> Result<(), Fault>;
    /// One role.
    async fn get_role(&self, token: &str, id: &str) -> Result<Role, Fault>;
    /// Changes a role.
    async fn update_role(&self, token: &str, id: &str, input: UpdateRole) -> Result<Role, Fault>;
    /// Deletes a role.
    async fn delete_role(&self, token: &str, id: &str) -> Result<(), Fault>;
    /// The account behind `subject` (another token).
    async fn introspect(&self, token: &str, subject: String) -> Result<User, Fault>;
    /// Issues a token for an account.
    async fn create_token(
        &self,
        token: &str,
        account_id: String,
        expires_in: i64,
    ) -> Result<TokenResponse, Fault>;
    /// Revokes a token by id.
    async fn revoke_token(&self, token: &str, id: &str) -> Result<(), Fault>;
}

/// [`IdentityApi`] over gRPC, with a deadline per call and the trace context and caller token in metadata.
#[derive(Clone)]
pub struct GrpcIdentity {
    client: IdentityClient<Transport>,
    timeout: Duration,
}

impl GrpcIdentity {
    /// A client of the identity service at `url` (`http://host:port`); connects lazily and reconnects.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, http::uri::InvalidUri> {
        Ok(GrpcIdentity {
            client: IdentityClient::new(super::call::channel(url)?)
                .max_decoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES),
            timeout,
        })
    }

    fn request<T>(&self, token: Option<&str>, message: T) -> Request<T> {
        super::call::request(token, self.timeout, message)
    }
}

fn user(u: pb::User) -> Result<User, Fault> {
    dom::User::try_from(u).map(Into::into)
}

fn tenant(t: pb::Tenant) -> Result<Tenant, Fault> {
    dom::Tenant::try_from(t).map(Into::into)
}

fn role(r: pb::Role) -> Role {
    dom::Role::from(r).into()
}

#[async_trait]
impl IdentityApi for GrpcIdentity {
    async fn login(&self, username: String, password: String) -> Result<LoginResponse, Fault> {
        let r = self
            .client
            .clone()
            .login(self.request(None, pb::LoginRequest { username, password }))
            .await;
        let r = r.map_err(fault)?.into_inner();
        Ok(LoginResponse {
            token: r.token,
            id: r.id,
            expires_at: r.expires_at,
        })
    }

    async fn logout(&self, token: &str) -> Result<(), Fault> {
        self.client
            .clone()
            .logout(self.request(Some(token), pb::LogoutRequest {}))
            .await
            .map_err(fault)?;
        Ok(())
    }

    async fn list_users(&self, token: &str, filter: UserFilter) -> Result<(Vec<User>, u64), Fault> {
        let message = pb::ListUsersRequest {
            usernames: filter.usernames,
            user_ids: filter.ids,
            page: filter.page.map(|(size, number)| PageRequest { size, number }),
            tenant: filter.tenant,
        };
        let r = self
            .client
            .clone()
            .list_users(self.request(Some(token), message))
            .await
            .map_err(fault)?;
        let r = r.into_inner();
        Ok((r.users.into_iter().map(user).collect::<Result<_, _>>()?, r.total))
    }

    async fn get_user(&self, token: &str, id: &str) -> Result<User, Fault> {
        let message = pb::GetUserRequest { id: id.to_owned() };
        user(
            self.client
                .clone()
                .get_user(self.request(Some(token), message))
                .await
                .map_err(fault)?
                .into_inner(),
        )
    }

    async fn create_user(&self, token: &str, i: CreateUser) -> Result<User, Fault> {
        let message = pb::CreateUserRequest {
            username: i.username,
            password: i.password,
            firstname: i.firstname,
            lastname: i.lastname,
            status: i.status,
            tenant: i.tenant,
            roles: i.roles,
            permissions: i.permissions,
            confirmed: i.confirmed,
            img: i.img,
        };
        user(
            self.client
                .clone()
                .create_user(self.request(Some(token), message))
                .await
                .map_err(fault)?
                .into_inner(),
        )
    }

    async fn update_user(&self, token: &str, id: &str, i: UpdateUser) -> Result<User, Fault> {
        let message = pb::UpdateUserRequest {
            id: id.to_owned(),
            username: i.username,
            password: i.password,
            firstname: i.firstname,
            lastname: i.lastname,
            status: i.status,
            roles: i.roles.map(|values| pb::StringList { values }),
            permissions: i.permissions.map(|values| pb::StringList { values }),
            confirmed: i.confirmed,
            img: i.img,
        };
        user(
            self.client
                .clone()
                .update_user(self.request(Some(token), message))
                .await
                .map_err(fault)?
                .into_inner(),
        )
    }

    async fn delete_user(&self, token: &str, id: &str) -> Result<(), Fault> {
        let message = pb::DeleteUserRequest { id: id.to_owned() };
        self.client
            .clone()
            .delete_user(self.request(Some(token), message))
            .await
            .map_err(fault)?;
        Ok(())
    }

    async fn list_tenants(&self, token: &str) -> Result<Vec<Tenant>, Fault> {
        let r = self
            .client
            .clone()
            .list_tenants(self.request(Some(token), pb::ListTenantsRequest {}))
            .await;
        r.map_err(fault)?
            .into_inner()
            .tenants
            .into_iter()
            .map(tenant)
            .collect()
    }

    async fn create_tenant(
        &self,
        token: &str,
        name: String,
        status: Option<String>,
    ) -> Result<Tenant, Fault> {
        let message = pb::CreateTenantRequest { name, status };
        tenant(
            self.client
                .clone()
                .create_tenant(self.request(Some(token), message))
                .await
                .map_err(fault)?
                .into_inner(),
        )
    }

    async fn list_roles(&self, token: &str) -> Result<Vec<Role>, Fault> {
        let r = self
            .client
            .clone()
            .list_roles(self.request(Some(token), pb::ListRolesRequest {}))
            .await;
        Ok(r.map_err(fault)?
            .into_inner()
            .roles
            .into_iter()
            .map(role)
            .collect())
    }

    async fn create_role(&self, token: &str, i: CreateRole) -> Result<Role, Fault> {
        let message = pb::CreateRoleRequest {
            name: i.name.unwrap_or_default(),
            permissions: i.permissions,
            description: i.description,
            is_global: i.is_global,
        };
        Ok(role(
            self.client
                .clone()
                .create_role(self.request(Some(token), message))
                .await
                .map_err(fault)?
                .into_inner(),
        ))
    }

    async fn get_tenant(&self, token: &str, id: &str) -> Result<Tenant, Fault> {
        let message = pb::GetTenantRequest { id: id.to_owned() };
        let r = self
            .client
            .clone()
            .get_tenant(self.request(Some(token), message))
            .await;
        tenant(r.map_err(fault)?.into_inner())
    }

    async fn update_tenant(&self, token: &str, id: &str, input: UpdateTenant) -> Result<Tenant, Fault> {
        let message = pb::UpdateTenantRequest {
            id: id.to_owned(),
            name: input.name,
            status: input.status,
        };
        let r = self
            .client
            .clone()
            .update_tenant(self.request(Some(token), message))
            .await;
        tenant(r.map_err(fault)?.into_inner())
    }

    async fn delete_tenant(&self, token: &str, id: &str) -> Result<(), Fault> {
        let message = pb::DeleteTenantRequest { id: id.to_owned() };
        let r = self
            .client
            .clone()
            .delete_tenant(self.request(Some(token), message))
            .await;
        r.map_err(fault)?;
        Ok(())
    }

    async fn get_role(&self, token: &str, id: &str) -> Result<Role, Fault> {
        let message = pb::GetRoleRequest { id: id.to_owned() };
        let r = self
            .client
            .clone()
            .get_role(self.request(Some(token), message))
            .await;
        Ok(role(r.map_err(fault)?.into_inner()))
    }

    async fn update_role(&self, token: &str, id: &str, input: UpdateRole) -> Result<Role, Fault> {
        let message = pb::UpdateRoleRequest {
            id: id.to_owned(),
            name: input.name,
            permissions: input.permissions.map(|values| pb::StringList { values }),
            description: input.description,
        };
        let r = self
            .client
            .clone()
            .update_role(self.request(Some(token), message))
            .await;
        Ok(role(r.map_err(fault)?.into_inner()))
    }

    async fn delete_role(&self, token: &str, id: &str) -> Result<(), Fault> {
        let message = pb::DeleteRoleRequest { id: id.to_owned() };
        let r = self
            .client
            .clone()
            .delete_role(self.request(Some(token), message))
            .await;
        r.map_err(fault)?;
        Ok(())
    }

    async fn introspect(&self, token: &str, subject: String) -> Result<User, Fault> {
        let message = pb::IntrospectTokenRequest { token: subject };
        let r = self
            .client
            .clone()
            .introspect_token(self.request(Some(token), message))
            .await;
        user(r.map_err(fault)?.into_inner())
    }

    async fn create_token(
        &self,
        token: &str,
        account_id: String,
        expires_in: i64,
    ) -> Result<TokenResponse, Fault> {
        let message = pb::CreateTokenRequest {
            account_id,
            expires_in,
        };
        let r = self
            .client
            .clone()
            .create_token(self.request(Some(token), message))
            .await;
        let r = r.map_err(fault)?.into_inner();
        Ok(TokenResponse {
            token: r.token,
            id: r.id,
        })
    }

    async fn revoke_token(&self, token: &str, id: &str) -> Result<(), Fault> {
        let message = pb::RevokeTokenRequest { id: id.to_owned() };
        let r = self
            .client
            .clone()
            .revoke_token(self.request(Some(token), message))
            .await;
        r.map_err(fault)?;
        Ok(())
    }
}
