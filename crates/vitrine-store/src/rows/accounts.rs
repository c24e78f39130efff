//! Rows of organizations, users, groups and sessions: the columns of `ORG_COLUMNS`,
//! `USER_COLUMNS` and `GROUP_COLUMNS` in each backend, and what a signed-in request reads
//! beside a user.

use vitrine_core::allowance::Allowance;
use vitrine_core::lockout::Attempts;
use vitrine_core::{OrgSettings, Role};

use super::{from_ms, limits_from_json, mapped, opt_from_ms, parse_id, settings_from_json};
use crate::{
    Group, LoginRecord, OrgUsage, Organization, SessionInfo, SessionRecord, StoreError, User,
};

mapped! {
    Organization => OrganizationRow,
    User => UserRow,
    Group => GroupRow,
    SessionInfo => SessionInfoRow,
    SessionRecord => SessionRecordRow,
    LoginRecord => LoginRow,
    Attempts => AttemptsRow,
    Allowance => AllowanceRow,
    OrgUsage => UsageRow,
}

#[derive(sqlx::FromRow)]
pub struct OrganizationRow {
    id: String,
    name: String,
    settings: String,
    created_at: i64,
    suspended_at: Option<i64>,
    limits: String,
}

impl TryFrom<OrganizationRow> for Organization {
    type Error = StoreError;

    fn try_from(row: OrganizationRow) -> Result<Self, StoreError> {
        Ok(Organization {
            id: parse_id("id", &row.id)?,
            name: row.name,
            settings: settings_from_json(&row.settings)?,
            created_at: from_ms(row.created_at)?,
            suspended_at: opt_from_ms(row.suspended_at)?,
            limits: limits_from_json(&row.limits)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct UserRow {
    id: String,
    org_id: String,
    email: String,
    name: String,
    role: String,
    blocked: bool,
    expires_at: Option<i64>,
    locked_until: Option<i64>,
    created_at: i64,
    updated_at: i64,
    password_set: bool,
    operator: bool,
    display: bool,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: parse_id("id", &row.id)?,
            org_id: parse_id("org_id", &row.org_id)?,
            email: row.email,
            name: row.name,
            role: row.role.parse::<Role>().map_err(StoreError::Backend)?,
            blocked: row.blocked,
            expires_at: opt_from_ms(row.expires_at)?,
            locked_until: opt_from_ms(row.locked_until)?,
            created_at: from_ms(row.created_at)?,
            updated_at: from_ms(row.updated_at)?,
            password_set: row.password_set,
            operator: row.operator,
            display: row.display,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct GroupRow {
    id: String,
    org_id: String,
    name: String,
    description: String,
    created_at: i64,
    member_count: i64,
}

impl TryFrom<GroupRow> for Group {
    type Error = StoreError;

    fn try_from(row: GroupRow) -> Result<Self, StoreError> {
        Ok(Group {
            id: parse_id("id", &row.id)?,
            org_id: parse_id("org_id", &row.org_id)?,
            name: row.name,
            description: row.description,
            member_count: u32::try_from(row.member_count).unwrap_or(u32::MAX),
            created_at: from_ms(row.created_at)?,
        })
    }
}

/// The organization's columns read beside whoever a request is of (`o.name AS org_name,
/// o.settings, o.suspended_at`): enough to refuse a suspended organization and apply its
/// settings.
#[derive(sqlx::FromRow)]
pub struct OrgAccessRow {
    org_name: String,
    settings: String,
    suspended_at: Option<i64>,
}

/// What [`OrgAccessRow`] holds, as the records carry it.
pub struct OrgAccess {
    pub name: String,
    pub suspended: bool,
    pub settings: OrgSettings,
}

impl TryFrom<OrgAccessRow> for OrgAccess {
    type Error = StoreError;

    fn try_from(row: OrgAccessRow) -> Result<Self, StoreError> {
        Ok(OrgAccess {
            name: row.org_name,
            suspended: row.suspended_at.is_some(),
            settings: settings_from_json(&row.settings)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct SessionInfoRow {
    token_hash: Vec<u8>,
    created_at: i64,
    last_seen_at: i64,
    user_agent: Option<String>,
    ip: Option<String>,
}

impl TryFrom<SessionInfoRow> for SessionInfo {
    type Error = StoreError;

    fn try_from(row: SessionInfoRow) -> Result<Self, StoreError> {
        Ok(SessionInfo {
            token_hash: row.token_hash,
            created_at: from_ms(row.created_at)?,
            last_seen_at: from_ms(row.last_seen_at)?,
            user_agent: row.user_agent,
            ip: row.ip,
        })
    }
}

/// A session with its user and organization; the session's own creation is aliased
/// `session_created_at` beside the user's `created_at`.
#[derive(sqlx::FromRow)]
pub struct SessionRecordRow {
    #[sqlx(flatten)]
    user: UserRow,
    #[sqlx(flatten)]
    org: OrgAccessRow,
    session_created_at: i64,
    last_seen_at: i64,
}

impl TryFrom<SessionRecordRow> for SessionRecord {
    type Error = StoreError;

    fn try_from(row: SessionRecordRow) -> Result<Self, StoreError> {
        let user = User::try_from(row.user)?;
        let org = OrgAccess::try_from(row.org)?;
        Ok(SessionRecord {
            user,
            org_name: org.name,
            org_suspended: org.suspended,
            settings: org.settings,
            created_at: from_ms(row.session_created_at)?,
            last_seen_at: from_ms(row.last_seen_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct LoginRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

impl TryFrom<LoginRow> for LoginRecord {
    type Error = StoreError;

    fn try_from(row: LoginRow) -> Result<Self, StoreError> {
        Ok(LoginRecord { user: User::try_from(row.user)?, password_hash: row.password_hash })
    }
}

/// A user's failed sign-ins and lock, as the lockout rule counts them.
#[derive(sqlx::FromRow)]
pub struct AttemptsRow {
    failed_logins: i64,
    locked_until: Option<i64>,
}

impl TryFrom<AttemptsRow> for Attempts {
    type Error = StoreError;

    fn try_from(row: AttemptsRow) -> Result<Self, StoreError> {
        Ok(Attempts {
            failed: u32::try_from(row.failed_logins).unwrap_or(u32::MAX),
            locked_until: opt_from_ms(row.locked_until)?,
        })
    }
}

/// What is left of a key's allowance.
#[derive(sqlx::FromRow)]
pub struct AllowanceRow {
    tokens: f64,
    at: i64,
}

impl TryFrom<AllowanceRow> for Allowance {
    type Error = StoreError;

    fn try_from(row: AllowanceRow) -> Result<Self, StoreError> {
        Ok(Allowance { tokens: row.tokens, at: from_ms(row.at)? })
    }
}

/// An organization's counts, each a subquery aliased by what it counts.
#[derive(sqlx::FromRow)]
pub struct UsageRow {
    users: i64,
    reports: i64,
    datasets: i64,
}

impl TryFrom<UsageRow> for OrgUsage {
    type Error = StoreError;

    fn try_from(row: UsageRow) -> Result<Self, StoreError> {
        Ok(OrgUsage {
            users: super::unsigned(row.users),
            reports: super::unsigned(row.reports),
            datasets: super::unsigned(row.datasets),
        })
    }
}
