//! Groups and their members.

use vitrine_core::token::RevocationScope;
use vitrine_core::{AdminScope, Fields, GroupId, UserId, validate};
use vitrine_store::{Group, NewGroup};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;

pub const FIELDS: [&str; 2] = ["name", "description"];

pub async fn create(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    input: &Fields,
) -> ApiResult<Group> {
    input.allow_only(&FIELDS)?;
    let new = NewGroup {
        name: validate::name("name", input.required_str("name")?)?,
        description: validate::description(
            "description",
            input.optional_str("description")?.unwrap_or(""),
        )?,
    };
    Ok(state.store.create_group(scope.org_id(), &caller.actor(state.clock.now()), &new).await?)
}

pub async fn delete(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    id: GroupId,
) -> ApiResult<()> {
    let members = state.store.group_members(scope.org_id(), id).await?;
    state.store.delete_group(scope.org_id(), &caller.actor(state.clock.now()), id).await?;
    // Permissions held through the group are gone with it.
    state.capacities.gate.forget_permissions();
    // Members may have opened reports through the group.
    state.tokens.revoker.revoke_users(&members.iter().map(|m| m.id).collect::<Vec<_>>()).await?;
    Ok(())
}

pub async fn set_member(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    group: GroupId,
    user: UserId,
    member: bool,
) -> ApiResult<()> {
    let actor = caller.actor(state.clock.now());
    if member {
        let joining = state.store.get_user(scope.org_id(), user).await?;
        let prospect = super::rls::Prospect::Join(group);
        super::rls::ensure_identity_fits(state, scope.org_id(), &joining, &prospect, "user")
            .await?;
    }
    let changed = if member {
        state.store.add_group_member(scope.org_id(), &actor, group, user).await
    } else {
        state.store.remove_group_member(scope.org_id(), &actor, group, user).await
    };
    // Permissions come with the group.
    state.capacities.gate.forget_permissions();
    changed?;
    if !member {
        state.tokens.revoker.revoke(RevocationScope::User(user)).await?;
    }
    Ok(())
}
