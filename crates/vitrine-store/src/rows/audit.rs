//! Rows of the audit logs (an organization's and the installation's, which have the same
//! columns), of the token audit trail, and of the change feed.

use super::{from_ms, json_value, lenient_id, mapped};
use crate::{AuditEntry, ChangeRecord, InstallationAuditEntry, StoreError, TokenEvent};

mapped! {
    AuditEntry => AuditRow,
    InstallationAuditEntry => AuditRow,
    TokenEvent => TokenEventRow,
    ChangeRecord => ChangeRow,
}

/// An entry of `audit_log` or `installation_audit`; the values are JSON, read as none when
/// they do not parse.
#[derive(sqlx::FromRow)]
pub struct AuditRow {
    id: i64,
    at: i64,
    actor_id: String,
    actor_label: String,
    entity_type: String,
    entity_id: String,
    action: String,
    old_value: Option<String>,
    new_value: Option<String>,
}

/// Both logs' entries have the fields of [`AuditRow`].
macro_rules! from_audit_row {
    ($($entry:ident),*) => {
        $(impl TryFrom<AuditRow> for $entry {
            type Error = StoreError;

            fn try_from(row: AuditRow) -> Result<Self, StoreError> {
                Ok($entry {
                    id: row.id,
                    at: from_ms(row.at)?,
                    actor_id: row.actor_id,
                    actor_label: row.actor_label,
                    entity_type: row.entity_type,
                    entity_id: row.entity_id,
                    action: row.action,
                    old_value: json_value(row.old_value),
                    new_value: json_value(row.new_value),
                })
            }
        })*
    };
}
from_audit_row!(AuditEntry, InstallationAuditEntry);

/// A token event with the labels of its user and report; its ids are read leniently
/// ([`lenient_id`]).
#[derive(sqlx::FromRow)]
pub struct TokenEventRow {
    id: i64,
    org_id: Option<String>,
    at: i64,
    kind: String,
    user_id: Option<String>,
    identity_id: Option<String>,
    report_id: Option<String>,
    token_id: Option<String>,
    reason: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    actor: Option<String>,
    user_label: Option<String>,
    report_label: Option<String>,
}

impl TryFrom<TokenEventRow> for TokenEvent {
    type Error = StoreError;

    fn try_from(row: TokenEventRow) -> Result<Self, StoreError> {
        Ok(TokenEvent {
            id: row.id,
            org_id: lenient_id(row.org_id),
            at: from_ms(row.at)?,
            kind: row.kind,
            user_id: lenient_id(row.user_id),
            identity_id: lenient_id(row.identity_id),
            report_id: lenient_id(row.report_id),
            token_id: row.token_id,
            reason: row.reason,
            ip: row.ip,
            user_agent: row.user_agent,
            actor: row.actor,
            user_label: row.user_label,
            report_label: row.report_label,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct ChangeRow {
    seq: i64,
    node: String,
    at: i64,
    body: String,
}

impl TryFrom<ChangeRow> for ChangeRecord {
    type Error = StoreError;

    fn try_from(row: ChangeRow) -> Result<Self, StoreError> {
        Ok(ChangeRecord { seq: row.seq, node: row.node, at: from_ms(row.at)?, body: row.body })
    }
}
