//! Creating, changing and deleting users, with the rules that keep an organization manageable:
//! it always keeps an active administrator, and nobody deletes their own account.

use vitrine_core::token::RevocationScope;
use vitrine_core::{AdminScope, Fields, Role, UserId, validate};
use vitrine_store::{NewUser, User, UserChange};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

pub const FIELDS: [&str; 6] = ["email", "name", "role", "password", "blocked", "expiresAt"];

fn role(input: &Fields) -> ApiResult<Option<Role>> {
    input
        .optional_str("role")?
        .map(|raw| raw.parse::<Role>().map_err(|message| ApiError::invalid("role", message)))
        .transpose()
}

fn expiry(input: &Fields) -> ApiResult<Option<Option<chrono::DateTime<chrono::Utc>>>> {
    Ok(match input.nullable_str("expiresAt")? {
        None => None,
        Some(None) => Some(None),
        Some(Some(raw)) if raw.trim().is_empty() => Some(None),
        Some(Some(raw)) => Some(Some(validate::expiry("expiresAt", raw)?)),
    })
}

pub async fn create(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    input: &Fields,
) -> ApiResult<User> {
    input.allow_only(&FIELDS)?;
    let email = validate::email("email", input.required_str("email")?)?;
    let name = match input.optional_str("name")? {
        Some(name) => validate::name("name", name)?,
        None => email.split('@').next().unwrap_or_default().to_string(),
    };
    let role = role(input)?.unwrap_or(Role::Viewer);
    // Without a password the user is invited: they choose one by the invitation link.
    let password = input.optional_str("password")?.filter(|p| !p.is_empty());
    if let Some(password) = password {
        validate::password("password", password)?;
    }
    let blocked = input.optional_bool("blocked")?.unwrap_or(false);
    let expires_at = expiry(input)?.flatten();
    let password_hash = match password {
        Some(password) => state.passwords.hash(password).await?,
        None => String::new(),
    };
    let new = NewUser { email, name, role, password_hash, blocked, expires_at };
    let user =
        state.store.create_user(scope.org_id(), &caller.actor(state.clock.now()), &new).await?;
    state.tokens.revoker.set_user_expiry(user.id, user.expires_at);
    Ok(user)
}

pub async fn update(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    id: UserId,
    input: &Fields,
) -> ApiResult<User> {
    input.allow_only(&FIELDS)?;
    let mut change = UserChange {
        email: input.optional_str("email")?.map(|e| validate::email("email", e)).transpose()?,
        name: input.optional_str("name")?.map(|n| validate::name("name", n)).transpose()?,
        role: role(input)?,
        blocked: input.optional_bool("blocked")?,
        expires_at: expiry(input)?,
        password_hash: None,
    };
    let password = input.optional_str("password")?.filter(|p| !p.is_empty());
    if let Some(password) = password {
        validate::password("password", password)?;
    }
    let current = state.store.get_user(scope.org_id(), id).await?;
    let stays_admin = change.role.unwrap_or(current.role) == Role::Admin
        && !change.blocked.unwrap_or(current.blocked)
        && change.expires_at.unwrap_or(current.expires_at).is_none_or(|at| at > state.clock.now());
    if current.role == Role::Admin && !current.blocked && !stays_admin {
        ensure_another_admin(state, scope, id).await?;
    }
    if let Some(email) = &change.email {
        let renamed = User { email: email.clone(), ..current.clone() };
        let unchanged = super::rls::Prospect::Unchanged;
        super::rls::ensure_identity_fits(state, scope.org_id(), &renamed, &unchanged, "email")
            .await?;
    }
    if let Some(password) = password {
        change.password_hash = Some(state.passwords.hash(password).await?);
    }
    if change.is_empty() {
        return Ok(current);
    }
    let updated = state
        .store
        .update_user(scope.org_id(), &caller.actor(state.clock.now()), id, &change)
        .await?;
    // The store ended the sessions by the same rule; tokens go with them.
    if updated.change_signs_out(&current, change.password_hash.is_some(), state.clock.now()) {
        state.tokens.revoker.revoke(RevocationScope::User(id)).await?;
    }
    state.tokens.revoker.set_user_expiry(id, updated.expires_at);
    Ok(updated)
}

pub async fn delete(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    id: UserId,
) -> ApiResult<()> {
    if caller.principal.user_id == Some(id) {
        return Err(ApiError::invalid("id", "you cannot delete your own account"));
    }
    let current = state.store.get_user(scope.org_id(), id).await?;
    if current.role == Role::Admin && !current.blocked {
        ensure_another_admin(state, scope, id).await?;
    }
    state.store.delete_user(scope.org_id(), &caller.actor(state.clock.now()), id).await?;
    state.tokens.revoker.revoke(RevocationScope::User(id)).await?;
    state.tokens.revoker.set_user_expiry(id, None);
    Ok(())
}

/// Refuses a change that would leave the organization without an active administrator.
async fn ensure_another_admin(
    state: &AppState,
    scope: &AdminScope,
    leaving: UserId,
) -> ApiResult<()> {
    let now = state.clock.now();
    let others = state
        .store
        .list_users(scope.org_id())
        .await?
        .into_iter()
        .filter(|u| u.id != leaving && u.role == Role::Admin && u.is_active_at(now))
        .count();
    if others == 0 {
        return Err(ApiError::invalid(
            "role",
            "the organization must keep at least one active administrator",
        ));
    }
    Ok(())
}
