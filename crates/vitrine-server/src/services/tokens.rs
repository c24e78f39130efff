//! Issuing embed tokens to signed-in users, and taking them back.

use vitrine_core::token::{RevocationScope, Subject};
use vitrine_core::{AdminScope, ReportId, UserId};
use vitrine_store::TokenEvent;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::tokens::request_info::RequestInfo;
use crate::tokens::{Grant, IssueError, IssuedToken};

/// Why [`issue`] gave no token.
pub enum IssueFailure {
    /// The caller may not have it.
    Refused(ApiError),
    /// Access changed while the token was being made (after the caller's snapshot): the token
    /// would be refused at once. Authenticate again and ask again.
    Stale,
}

impl From<ApiError> for IssueFailure {
    fn from(error: ApiError) -> Self {
        Self::Refused(error)
    }
}

/// A token for the caller and `report`, if the caller may open it right now. The token is
/// dated with the caller's snapshot, taken before anything here was read.
pub async fn issue(
    state: &AppState,
    caller: &Caller,
    report: ReportId,
    request: &RequestInfo,
) -> Result<IssuedToken, IssueFailure> {
    let Some(user) = &caller.user else {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "Embed tokens are issued to signed-in users, not to API keys.",
        )
        .into());
    };
    let org = caller.principal.org_id;
    let report = super::reports::gate(state, caller, user.id, report).await?;
    if let Some(capacity) = report.capacity_id {
        super::capacities::admit(state, org, user.id, &user.email, capacity, true).await?;
    }
    // The settings came with the session and the identity with the gate, read in this request.
    let rls = super::rls::identity(&user.email, &report.identity);
    let policy = caller.org_settings.token_policy();
    // A report of Power BI needs Power BI's own token too, for the same lifetime at most.
    let powerbi =
        super::powerbi::embed_token_if_linked(state, org, report.powerbi.as_ref(), &rls, &policy)
            .await?;
    // Every read is done: a revocation since the snapshot means they may be stale, and the
    // token would be refused at once. Nothing is signed or counted for it (and a Power BI
    // token just made is never answered).
    let subject = Subject::User(user.id);
    if state.tokens.revoker.index.revoked_since(org, subject, &[report.id], caller.snapshot) {
        return Err(IssueFailure::Stale);
    }
    let now = state.clock.now();
    let mut issued = state
        .tokens
        .issue(
            Grant { org, subject, reports: vec![report.id], rls, keeps_capacity_on: false },
            policy,
            caller.snapshot,
            now,
        )
        .map_err(|error| match error {
            IssueError::TooLarge(bytes) => {
                tracing::warn!(bytes, user = %user.id, "row-level-security identity too large");
                ApiError::new(
                    ErrorCode::QuotaExceeded,
                    "Your row-level-security roles and attributes are too many to fit in a token; ask an administrator to remove some.",
                )
            }
            IssueError::Reports(_) => ApiError::internal(),
            IssueError::Encode(error) => {
                tracing::error!(%error, user = %user.id, "could not issue a token");
                ApiError::internal()
            }
        })?;
    if let Some(grant) = powerbi {
        issued.pair_with(grant, now);
    }
    let event = issued_event(org, subject, report.id, &issued, request, now);
    state.tokens.audit.record(event);
    Ok(issued)
}

/// The audit event of a token issued (or refreshed) for `subject` and `report`.
pub(crate) fn issued_event(
    org: vitrine_core::OrgId,
    subject: Subject,
    report: ReportId,
    issued: &IssuedToken,
    request: &RequestInfo,
    at: chrono::DateTime<chrono::Utc>,
) -> TokenEvent {
    TokenEvent {
        id: 0,
        org_id: Some(org),
        at,
        kind: if issued.refreshed { "refreshed" } else { "issued" }.into(),
        user_id: subject.user(),
        identity_id: subject.identity(),
        report_id: Some(report),
        token_id: Some(issued.token_id.to_string()),
        reason: None,
        ip: request.ip.clone(),
        user_agent: request.user_agent.clone(),
        actor: None,
        user_label: None,
        report_label: None,
    }
}

/// The audit event of a revocation `caller` made in `org`, of `subject`'s tokens or of all.
pub(crate) fn revoked_event(
    state: &AppState,
    org: vitrine_core::OrgId,
    caller: &Caller,
    subject: Option<Subject>,
    reason: &str,
) -> TokenEvent {
    TokenEvent {
        id: 0,
        org_id: Some(org),
        at: state.clock.now(),
        kind: "revoked".into(),
        user_id: subject.and_then(Subject::user),
        identity_id: subject.and_then(Subject::identity),
        report_id: None,
        token_id: None,
        reason: Some(reason.into()),
        ip: None,
        user_agent: None,
        actor: Some(caller.principal.label.clone()),
        user_label: None,
        report_label: None,
    }
}

/// Every token of one user of the caller's organization stops working.
pub async fn revoke_user(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    user: UserId,
) -> ApiResult<()> {
    state.store.get_user(scope.org_id(), user).await?;
    state.tokens.revoker.revoke(RevocationScope::User(user)).await?;
    state.tokens.audit.record(revoked_event(
        state,
        scope.org_id(),
        caller,
        Some(Subject::User(user)),
        "revoked by an administrator",
    ));
    Ok(())
}

/// Every token of the caller's organization stops working.
pub async fn revoke_organization(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
) -> ApiResult<()> {
    state.tokens.revoker.revoke(RevocationScope::Organization(scope.org_id())).await?;
    state.tokens.audit.record(revoked_event(
        state,
        scope.org_id(),
        caller,
        None,
        "all tokens revoked by an administrator",
    ));
    Ok(())
}
