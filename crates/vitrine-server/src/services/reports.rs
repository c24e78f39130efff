//! Reports' metadata and who may open them. Administrators and contributors manage every
//! report of their organization; viewers see the reports granted to them or their groups.

use vitrine_core::token::RevocationScope;
use vitrine_core::{ContentScope, Fields, ReportId, UserId, validate};
use vitrine_store::{Grantee, NewReport, Report, ReportChange, ReportGate};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

pub const CREATE_FIELDS: [&str; 3] = ["name", "description", "powerbi"];
pub const UPDATE_FIELDS: [&str; 3] = ["name", "description", "capacityId"];

/// The reports the caller may open.
pub async fn visible_to(state: &AppState, caller: &Caller) -> ApiResult<Vec<Report>> {
    let org = caller.principal.org_id;
    match caller.principal.user_id {
        Some(user) if !caller.principal.role.manages_content() => {
            Ok(state.store.reports_for_user(org, user).await?)
        }
        _ => Ok(state.store.list_reports(org).await?),
    }
}

/// One report, if the caller may open it; `NotFound` hides other organizations' reports.
pub async fn open(state: &AppState, caller: &Caller, id: ReportId) -> ApiResult<Report> {
    let org = caller.principal.org_id;
    let (report, allowed) = match caller.principal.user_id {
        Some(user) if !caller.principal.role.manages_content() => {
            state.store.report_for_user(org, user, id).await?
        }
        _ => (state.store.get_report(org, id).await?, true),
    };
    if !allowed {
        return Err(no_access());
    }
    Ok(report)
}

/// Where the report runs and the identity a token for it carries, if `caller` (a signed-in
/// user) may open it: the token path's check, which does not read the report's definition.
pub async fn gate(
    state: &AppState,
    caller: &Caller,
    user: UserId,
    id: ReportId,
) -> ApiResult<ReportGate> {
    let gate = state.store.report_gate(caller.principal.org_id, user, id).await?;
    if !(gate.granted || caller.principal.role.manages_content()) {
        return Err(no_access());
    }
    Ok(gate)
}

fn no_access() -> ApiError {
    ApiError::new(
        crate::error::ErrorCode::NoAccess,
        "You do not have access to this report. Ask an administrator to grant it.",
    )
}

pub async fn create(
    state: &AppState,
    scope: &ContentScope,
    caller: &Caller,
    input: &Fields,
) -> ApiResult<Report> {
    input.allow_only(&CREATE_FIELDS)?;
    if input.contains("powerbi") {
        return super::powerbi::import_report(state, caller, input).await;
    }
    let new = NewReport {
        name: validate::name("name", input.required_str("name")?)?,
        description: validate::description(
            "description",
            input.optional_str("description")?.unwrap_or(""),
        )?,
        owner_id: caller.principal.user_id,
    };
    Ok(state.store.create_report(scope.org_id(), &caller.actor(state.clock.now()), &new).await?)
}

pub async fn update(
    state: &AppState,
    scope: &ContentScope,
    caller: &Caller,
    id: ReportId,
    input: &Fields,
) -> ApiResult<Report> {
    input.allow_only(&UPDATE_FIELDS)?;
    let change = ReportChange {
        name: input.optional_str("name")?.map(|n| validate::name("name", n)).transpose()?,
        description: input
            .optional_str("description")?
            .map(|d| validate::description("description", d))
            .transpose()?,
    };
    // Placing a report on a capacity is an administrator's decision: capacities cost money.
    let capacity = match input.nullable_str("capacityId")? {
        None => None,
        Some(raw) => {
            caller.principal.admin()?;
            Some(
                raw.map(|id| {
                    id.parse().map_err(|_| {
                        ApiError::invalid("capacityId", "must be a capacity id or null")
                    })
                })
                .transpose()?,
            )
        }
    };
    let no_such_capacity = |e: vitrine_store::StoreError| match e {
        vitrine_store::StoreError::NotFound => ApiError::invalid("capacityId", "no such capacity"),
        other => other.into(),
    };
    // Checked before anything changes, so that a bad capacity leaves the name alone too.
    if let Some(Some(capacity)) = capacity {
        state.store.get_capacity(scope.org_id(), capacity).await.map_err(no_such_capacity)?;
    }
    let actor = caller.actor(state.clock.now());
    let mut report = state.store.update_report(scope.org_id(), &actor, id, &change).await?;
    if let Some(capacity) = capacity {
        // Deleted in between: the rename stands, and the answer says why the placement did not.
        report = state
            .store
            .set_report_capacity(scope.org_id(), &actor, id, capacity)
            .await
            .map_err(no_such_capacity)?;
        // Its open viewers follow it to the other capacity.
        state.notices.publish(scope.org_id(), crate::notices::Notice::Report { report: id });
    }
    state.reads.forget_report(id);
    Ok(report)
}

pub async fn delete(
    state: &AppState,
    scope: &ContentScope,
    caller: &Caller,
    id: ReportId,
) -> ApiResult<()> {
    state.store.delete_report(scope.org_id(), &caller.actor(state.clock.now()), id).await?;
    state.reads.forget_report(id);
    state.tokens.revoker.revoke(RevocationScope::Report(id)).await?;
    Ok(())
}

pub async fn set_access(
    state: &AppState,
    scope: &ContentScope,
    caller: &Caller,
    report: ReportId,
    grantee: Grantee,
    granted: bool,
) -> ApiResult<()> {
    let actor = caller.actor(state.clock.now());
    state.store.set_report_access(scope.org_id(), &actor, report, grantee, granted).await?;
    if !granted {
        // Whoever held the report through this grant loses it now, not when their token expires.
        match grantee {
            Grantee::User(user) => state.tokens.revoker.revoke(RevocationScope::User(user)).await?,
            Grantee::Group(group) => {
                let members = state.store.group_members(scope.org_id(), group).await?;
                state
                    .tokens
                    .revoker
                    .revoke_users(&members.iter().map(|m| m.id).collect::<Vec<_>>())
                    .await?;
            }
        }
    }
    Ok(())
}
