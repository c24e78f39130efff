//! Rows of API keys (the columns of `API_KEY_COLUMNS` in each backend), of the host app's users
//! they mint tokens for, and of what signs and revokes tokens.

use chrono::{DateTime, Utc};
use vitrine_core::token::{Revocation, RevocationScope};
use vitrine_core::{ApiKeyScope, ReportId, UserId};

use super::{OrgAccess, OrgAccessRow, from_ms, lenient_id, mapped, opt_from_ms, parse_id};
use crate::{ApiKey, ApiKeyRecord, Identity, KeyCreator, StoreError, StoredSigningKey};

mapped! {
    ApiKey => ApiKeyRow,
    ApiKeyRecord => ApiKeyRecordRow,
    Identity => IdentityRow,
    StoredSigningKey => SigningKeyRow,
    Revocation => RevocationRow,
    (UserId, DateTime<Utc>) => ExpiryRow,
}

/// An API key; `key_reports` is the JSON array of the reports it is limited to.
#[derive(sqlx::FromRow)]
pub struct ApiKeyRow {
    id: String,
    org_id: String,
    name: String,
    prefix: String,
    created_by: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
    scope: String,
    all_reports: bool,
    key_reports: String,
    expires_at: Option<i64>,
    wake_capacity: bool,
    keep_capacity_on: bool,
    created_by_user: Option<String>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;

    fn try_from(row: ApiKeyRow) -> Result<Self, StoreError> {
        Ok(ApiKey {
            id: parse_id("id", &row.id)?,
            org_id: parse_id("org_id", &row.org_id)?,
            name: row.name,
            prefix: row.prefix,
            created_by: row.created_by,
            created_at: from_ms(row.created_at)?,
            last_used_at: opt_from_ms(row.last_used_at)?,
            revoked_at: opt_from_ms(row.revoked_at)?,
            scope: ApiKeyScope::parse(&row.scope)
                .ok_or_else(|| StoreError::Backend("unknown API key scope".into()))?,
            reports: if row.all_reports {
                None
            } else {
                let ids: Vec<String> = serde_json::from_str(&row.key_reports)
                    .map_err(|e| StoreError::Backend(format!("malformed key reports: {e}")))?;
                let mut ids: Vec<ReportId> = ids.iter().filter_map(|id| id.parse().ok()).collect();
                ids.sort();
                Some(ids)
            },
            expires_at: opt_from_ms(row.expires_at)?,
            wake_capacity: row.wake_capacity,
            keep_capacity_on: row.keep_capacity_on,
            created_by_user: lenient_id(row.created_by_user),
        })
    }
}

/// A key as a request presents it: with its organization, and its creator's account (`cu.*`,
/// NULL when the creator is gone) whose rights the key never exceeds.
#[derive(sqlx::FromRow)]
pub struct ApiKeyRecordRow {
    #[sqlx(flatten)]
    key: ApiKeyRow,
    #[sqlx(flatten)]
    org: OrgAccessRow,
    creator_id: Option<String>,
    creator_role: Option<String>,
    creator_blocked: Option<bool>,
    creator_expires_at: Option<i64>,
}

impl TryFrom<ApiKeyRecordRow> for ApiKeyRecord {
    type Error = StoreError;

    fn try_from(row: ApiKeyRecordRow) -> Result<Self, StoreError> {
        let key = ApiKey::try_from(row.key)?;
        let creator = match (key.created_by_user, row.creator_id) {
            (None, _) => KeyCreator::Unrecorded,
            (Some(_), None) => KeyCreator::Deleted,
            (Some(_), Some(_)) => {
                // Both NOT NULL in `users`, so present whenever the creator is.
                let unread = || StoreError::Backend("creator's account unreadable".into());
                KeyCreator::Account {
                    role: row
                        .creator_role
                        .ok_or_else(unread)?
                        .parse()
                        .map_err(StoreError::Backend)?,
                    blocked: row.creator_blocked.ok_or_else(unread)?,
                    expires_at: opt_from_ms(row.creator_expires_at)?,
                }
            }
        };
        let org = OrgAccess::try_from(row.org)?;
        Ok(ApiKeyRecord {
            key,
            creator,
            org_name: org.name,
            org_suspended: org.suspended,
            settings: org.settings,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct IdentityRow {
    id: String,
    org_id: String,
    external_id: String,
    name: String,
    first_seen_at: i64,
    last_seen_at: i64,
    last_key_id: Option<String>,
}

impl TryFrom<IdentityRow> for Identity {
    type Error = StoreError;

    fn try_from(row: IdentityRow) -> Result<Self, StoreError> {
        Ok(Identity {
            id: parse_id("id", &row.id)?,
            org_id: parse_id("org_id", &row.org_id)?,
            external_id: row.external_id,
            name: row.name,
            first_seen_at: from_ms(row.first_seen_at)?,
            last_seen_at: from_ms(row.last_seen_at)?,
            last_key_id: lenient_id(row.last_key_id),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct SigningKeyRow {
    kid: String,
    public_key: Vec<u8>,
    sealed_private_key: Vec<u8>,
    created_at: i64,
    retired_at: Option<i64>,
}

impl TryFrom<SigningKeyRow> for StoredSigningKey {
    type Error = StoreError;

    fn try_from(row: SigningKeyRow) -> Result<Self, StoreError> {
        Ok(StoredSigningKey {
            kid: row.kid,
            public_key: row.public_key,
            sealed_private_key: row.sealed_private_key,
            created_at: from_ms(row.created_at)?,
            retired_at: opt_from_ms(row.retired_at)?,
        })
    }
}

/// A revocation: its scope's kind (`user`, `identity`, `org`, `report`) and id.
#[derive(sqlx::FromRow)]
pub struct RevocationRow {
    scope: String,
    scope_id: String,
    not_before: i64,
}

impl TryFrom<RevocationRow> for Revocation {
    type Error = StoreError;

    fn try_from(row: RevocationRow) -> Result<Self, StoreError> {
        let (scope, id) = (row.scope, row.scope_id);
        let malformed = || StoreError::Backend(format!("malformed revocation {scope}:{id}"));
        let scope = match scope.as_str() {
            "user" => RevocationScope::User(id.parse().map_err(|_| malformed())?),
            "identity" => RevocationScope::Identity(id.parse().map_err(|_| malformed())?),
            "org" => RevocationScope::Organization(id.parse().map_err(|_| malformed())?),
            "report" => RevocationScope::Report(id.parse().map_err(|_| malformed())?),
            _ => return Err(malformed()),
        };
        Ok(Revocation { scope, not_before: row.not_before })
    }
}

/// When a user's account expires.
#[derive(sqlx::FromRow)]
pub struct ExpiryRow {
    id: String,
    expires_at: i64,
}

impl TryFrom<ExpiryRow> for (UserId, DateTime<Utc>) {
    type Error = StoreError;

    fn try_from(row: ExpiryRow) -> Result<Self, StoreError> {
        Ok((parse_id("id", &row.id)?, from_ms(row.expires_at)?))
    }
}
