//! An organization's users, how they sign in, and their sessions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vitrine_core::lockout::{Gate, LockoutRule};
use vitrine_core::{OrgId, UserId};

use crate::{
    Actor, LoginRecord, NewSession, NewUser, SessionRecord, StoreResult, User, UserChange,
};

#[async_trait]
pub trait UserStore: Send + Sync {
    // Users.
    async fn create_user(&self, org: OrgId, actor: &Actor, user: &NewUser) -> StoreResult<User>;
    async fn get_user(&self, org: OrgId, id: UserId) -> StoreResult<User>;
    async fn list_users(&self, org: OrgId) -> StoreResult<Vec<User>>;
    /// A change of password also lifts a lock and ends every session of the user.
    async fn update_user(
        &self,
        org: OrgId,
        actor: &Actor,
        id: UserId,
        change: &UserChange,
    ) -> StoreResult<User>;
    async fn delete_user(&self, org: OrgId, actor: &Actor, id: UserId) -> StoreResult<()>;

    // Sign-in (before an organization is known: the email is unique installation-wide).
    async fn find_login(&self, email: &str) -> StoreResult<Option<LoginRecord>>;
    /// Admits one sign-in attempt by `rule`, counting it as wrong until
    /// [`UserStore::record_successful_login`] says otherwise; atomic per account, so parallel
    /// attempts are counted one after the other.
    async fn begin_login_attempt(
        &self,
        user: UserId,
        rule: &LockoutRule,
        now: DateTime<Utc>,
    ) -> StoreResult<Gate>;
    /// The password was right: the count starts again and the attempt's own lock is lifted.
    async fn record_successful_login(&self, user: UserId) -> StoreResult<()>;

    // Sessions, keyed by the hash of the cookie value.
    async fn create_session(&self, session: &NewSession) -> StoreResult<()>;
    async fn find_session(&self, token_hash: &[u8]) -> StoreResult<Option<SessionRecord>>;
    async fn touch_session(&self, token_hash: &[u8], at: DateTime<Utc>) -> StoreResult<()>;
    async fn delete_session(&self, token_hash: &[u8]) -> StoreResult<()>;
}
