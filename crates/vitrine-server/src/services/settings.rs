//! The organization's settings.

use vitrine_core::{AdminScope, Fields, OrgSettings};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;

pub async fn patch(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    input: &Fields,
) -> ApiResult<OrgSettings> {
    let current = state.store.get_organization(scope.org_id()).await?.settings;
    // Validated whole before anything is written.
    let next = current.patched(input)?;
    if next == current {
        return Ok(current);
    }
    let saved = state
        .store
        .update_settings(scope.org_id(), &caller.actor(state.clock.now()), &next)
        .await?;
    if saved.token_policy() != current.token_policy() {
        // Open reports fetch a token at once, which carries the new lifetime and update.
        state.notices.publish(scope.org_id(), crate::notices::Notice::Settings);
    }
    Ok(saved)
}
