//! The identity gRPC service: decode the request, authenticate the caller, call the core, encode the answer.

use std::sync::Arc;

use flowmate_auth::Principal;
use flowmate_domain::Fault;
use flowmate_proto::{identity::v1 as pb, status_from_fault};
use tonic::{Request, Response, Status};

use crate::{
    core::IdentityCore,
    directory::{NewRole, RolePatch, TenantPatch},
    error::IdentityError,
    model::UserQuery,
    users::{NewUser, UserPatch},
};

/// The tonic service over the identity core.
#[derive(Clone)]
pub struct IdentityGrpc {
    core: Arc<IdentityCore>,
}

impl IdentityGrpc {
    /// Serves `core`.
    pub fn new(core: Arc<IdentityCore>) -> Self {
        IdentityGrpc { core }
    }

    fn caller<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        flowmate_auth::authenticate(self.core.verifier(), request)
            .map_err(|e| status(IdentityError::Unauthenticated(e)))
    }
}

fn status(e: IdentityError) -> Status {
    status_from_fault(&Fault::from(e))
}

fn users(list: Vec<flowmate_domain::identity::User>) -> Vec<pb::User> {
    list.into_iter().map(Into::into).collect()
}

#[tonic::async_trait]
impl pb::identity_server::Identity for IdentityGrpc {
    async fn login(&self, request: Request<pb::LoginRequest>) -> Result<Response<pb::LoginResponse>, Status> {
        let r = request.into_inner();
        let out = self.core.login(&r.username, &r.password).await.map_err(status)?;
        Ok(Response::new(pb::LoginResponse {
            token: out.token,
            id: out.id,
            expires_at: out.expires_at,
        }))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let caller = self.caller(&request)?;
        self.core.logout(&caller).await.map_err(status)?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn get_public_keys(
        &self,
        _request: Request<pb::GetPublicKeysRequest>,
    ) -> Result<Response<pb::GetPublicKeysResponse>, Status> {
        let keys = self
            .core
            .public_keys()
            .into_iter()
            .map(|k| pb::PublicKey {
                kid: k.kid,
                algorithm: k.algorithm,
                key: k.key,
            })
            .collect();
        Ok(Response::new(pb::GetPublicKeysResponse { keys }))
    }

    async fn list_revocations(
        &self,
        _request: Request<pb::ListRevocationsRequest>,
    ) -> Result<Response<pb::ListRevocationsResponse>, Status> {
        let revocations = self
            .core
            .revocations()
            .await
            .map_err(status)?
            .into_iter()
            .map(Into::into)
            .collect();
        Ok(Response::new(pb::ListRevocationsResponse { revocations }))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let caller = self.caller(&request)?;
        let r = request.into_inner();
        let (limit, offset) = match r.page {
            Some(p) => (Some(p.size as i64), (p.number.max(1) as i64 - 1) * p.size as i64),
            None => (None, 0),
        };
        let query = UserQuery {
            tenant: r.tenant,
            usernames: r.usernames,
            ids: r.user_ids,
            limit,
            offset,
        };
        let (list, total) = self.core.list_users(&caller, query).await.map_err(status)?;
        Ok(Response::new(pb::ListUsersResponse {
            users: users(list),
            total,
        }))
    }

    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> Result<Response<pb::User>, Status> {
        let caller = self.caller(&request)?;
        let user = self
            .core
            .get_user(&caller, &request.get_ref().id)
            .await
            .map_err(status)?;
        Ok(Response::new(user.into()))
    }

    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = self.caller(&request)?;
        let r = request.into_inner();
        let input = NewUser {
            username: r.username,
            password: r.password,
            firstname: r.firstname,
            lastname: r.lastname,
            status: r.status,
            tenant: r.tenant,
            roles: r.roles,
            permissions: r.permissions,
            confirmed: r.confirmed,
            img: r.img,
        };
        let user = self.core.create_user(&caller, input).await.map_err(status)?;
        Ok(Response::new(user.into()))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = self.caller(&request)?;
        let r = request.into_inner();
        let patch = UserPatch {
            username: r.username,
            password: r.password,
            firstname: r.firstname,
            lastname: r.lastname,
            status: r.status,
            roles: r.roles.map(|l| l.values),
            permissions: r.permissions.map(|l| l.values),
            confirmed: r.confirmed,
            img: r.img,
        };
        let user = self
            .core
            .update_user(&caller, &r.id, patch)
            .await
            .map_err(status)?;
        Ok(Response::new(user.into()))
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::DeleteUserResponse>, Status> {
        let caller = self.caller(&request)?;
        self.core
            .delete_user(&caller, &request.get_ref().id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DeleteUserResponse {}))
    }

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        let caller = self.caller(&request)?;
        let tenants = self.core.list_tenants(&caller).await.map_err(status)?;
        Ok(Response::new(pb::ListTenantsResponse {
            tenants: tenants.into_iter().map(Into::into).collect(),
        }))
    }

    async fn create_tenant(
        &self,
        request: Request<pb::CreateTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        let caller = self.caller(&request)?;
        let r = request.into_inner();
        let tenant = self
            .core
            .create_tenant(&caller, &r.name, r.status.as_deref())
            .await
            .map_err(status)?;
        Ok(Response::new(tenant.into()))
    }

    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Result<Response<pb::ListRolesResponse>, Status> {
        let caller = self.caller(&request)?;
        let roles = self.core.list_roles(&caller).await.map_err(status)?;
        Ok(Response::new(pb::ListRolesResponse {
            roles: roles.into_iter().map(Into::into).collect(),
        }))
    }

    async fn create_role(
        &self,
        request: Request<pb::CreateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        let caller = self.caller(&request)?;
        let r = request.into_inner();
        let input = NewRole {
            name: r.name,
            permissions: r.permissions,
            description: r.description,
            is_global: r.is_global.unwrap_or(false),
        };
        let role = self.core.create_role(&caller, input).await.map_err(status)?;
        Ok(Response::new(role.into()))
    }

    async fn get_tenant(
        &self,
        request: Request<pb::GetTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        let caller = self.caller(&request)?;
        let t = self
            .core
            .get_tenant(&caller, &request.get_ref().id)
            .await
            .map_err(status)?;
        Ok(Response::new(t.into()))
    }

    async fn update_tenant(
        &self,
        request: Request<pb::UpdateTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        let caller = self.caller(&request)?;
        let r = request.into_inner();
        let patch = TenantPatch {
            name: r.name,
            status: r.status,
        };
        let t = self
            .core
            .update_tenant(&caller, &r.id, patch)
            .await
            .map_err(status)?;
        Ok(Response::new(t.into()))
    }

    async fn delete_tenant(
        &self,
        request: Request<pb::DeleteTenantRequest>,
    ) -> Result<Response<pb::DeleteTenantResponse>, Status> {
        let caller = self.caller(&request)?;
        self.core
            .delete_tenant(&caller, &request.get_ref().id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DeleteTenantResponse {}))
    }

    async fn get_role(&self, request: Request<pb::GetRoleRequest>) -> Result<Response<pb::Role>, Status> {
        let caller = self.caller(&request)?;
        let role = self
            .core
            .get_role(&caller, &request.get_ref().id)
            .await
            .map_err(status)?;
        Ok(Response::new(role.into()))
    }

    async fn update_role(
        &self,
        request: Request<pb::UpdateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        let caller = self.caller(&request)?;
        let r = request.into_inner();
        let patch = RolePatch {
            name: r.name,
            permissions: r.permissions.map(|l| l.values),
            description: r.description,
        };
        let role = self
            .core
            .update_role(&caller, &r.id, patch)
            .await
            .map_err(status)?;
        Ok(Response::new(role.into()))
    }

    async fn delete_role(
        &self,
        request: Request<pb::DeleteRoleRequest>,
    ) -> Result<Response<pb::DeleteRoleResponse>, Status> {
        let caller = self.caller(&request)?;
        self.core
            .delete_role(&caller, &request.get_ref().id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DeleteRoleResponse {}))
    }

    async fn introspect_token(
        &self,
        request: Request<pb::IntrospectTokenRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = self.caller(&request)?;
        let user = self
            .core
            .introspect(&caller, &request.get_ref().token)
            .await
            .map_err(status)?;
        Ok(Response::new(user.into()))
    }

    async fn create_token(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Result<Response<pb::CreateTokenResponse>, Status> {
        let caller = self.caller(&request)?;
        let r = request.into_inner();
        let out = self
            .core
            .create_token(&caller, &r.account_id, r.expires_in)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::CreateTokenResponse {
            token: out.token,
            id: out.id,
        }))
    }

    async fn revoke_token(
        &self,
        request: Request<pb::RevokeTokenRequest>,
    ) -> Result<Response<pb::RevokeTokenResponse>, Status> {
        let caller = self.caller(&request)?;
        self.core
            .revoke_token(&caller, &request.get_ref().id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::RevokeTokenResponse {}))
    }
}
