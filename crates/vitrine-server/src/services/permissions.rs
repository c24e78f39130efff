//! Granting named permissions to users and groups.

use vitrine_core::{AdminScope, Permission};
use vitrine_store::Grantee;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

pub fn parse(name: &str) -> ApiResult<Permission> {
    name.parse().map_err(|message: String| ApiError::invalid("permission", message))
}

pub async fn set(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    permission: Permission,
    grantee: Grantee,
    granted: bool,
) -> ApiResult<()> {
    let actor = caller.actor(state.clock.now());
    let set =
        state.store.set_permission(scope.org_id(), &actor, permission, grantee, granted).await;
    state.capacities.gate.forget_permissions();
    Ok(set?)
}
