//! Vitrine's domain: identifiers, roles, permissions, organization settings and the rules that
//! validate them. Nothing here performs I/O; time enters through the [`Clock`] trait so that
//! expiry and timeouts can be tested without waiting.

pub mod access;
pub mod allowance;
pub mod capacity;
pub mod clock;
pub mod ids;
pub mod input;
pub mod limits;
pub mod lockout;
pub mod permission;
pub mod role;
pub mod settings;
pub mod source;
pub mod token;
pub mod validate;

pub use access::{
    AdminScope, ApiKeyScope, AuthMethod, ContentScope, Forbidden, OperatorScope, Principal,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use ids::{
    ApiKeyId, CapacityId, ConnectionId, DatasetId, GroupId, IdentityId, OrgId, ReportId, UserId,
};
pub use input::{FieldError, Fields};
pub use limits::OrgLimits;
pub use permission::Permission;
pub use role::Role;
pub use settings::OrgSettings;
