//! The request bodies and query strings of the JSON API, as the OpenAPI document describes
//! them. The services read bodies field by field (the portal's forms share them), so that each
//! refusal names its field; the tests below hold these descriptions to the fields the services
//! accept, so that the document and the code cannot drift apart. The structs are never built:
//! they exist for their schemas.
#![allow(dead_code)]

use std::collections::BTreeMap;

use utoipa::{IntoParams, ToSchema};
use vitrine_core::capacity::CapacityMode;
use vitrine_core::{CapacityId, OrgLimits, ReportId, Role};

#[derive(ToSchema)]
pub struct Login {
    #[schema(format = Email)]
    pub email: String,
    pub password: String,
}

/// One's own name and password; the current password is required with a new one.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeChange {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(min_length = 8)]
    pub password: Option<String>,
    pub current_password: Option<String>,
}

#[derive(ToSchema)]
pub struct ResetRequest {
    #[schema(format = Email)]
    pub email: String,
}

/// The token is the part after `#` in the emailed link.
#[derive(ToSchema)]
pub struct LinkRedemption {
    pub token: String,
    #[schema(min_length = 8)]
    pub password: String,
}

#[derive(ToSchema)]
pub struct Setup {
    /// The one-time code `vitrine serve` logs on an empty installation.
    pub code: String,
    #[schema(min_length = 1, max_length = 200)]
    pub organization: String,
    #[schema(format = Email)]
    pub email: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(min_length = 8)]
    pub password: String,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationNew {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub limits: Option<OrgLimits>,
    /// Invites this person as the organization's first administrator.
    #[schema(format = Email)]
    pub admin_email: Option<String>,
    pub admin_name: Option<String>,
}

/// Suspending signs the organization's users out, revokes its tokens and pauses its capacities.
#[derive(ToSchema)]
pub struct OrganizationChange {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    pub limits: Option<OrgLimits>,
    pub suspended: Option<bool>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteConfirmation {
    /// The organization's name, repeated.
    pub confirm: String,
}

#[derive(ToSchema)]
pub struct ReportNew {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// Imports a report of the organization's Power BI tenant (administrators).
    pub powerbi: Option<PowerBiReportRef>,
}

/// A report of a Power BI workspace the organization's service principal belongs to.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PowerBiReportRef {
    #[schema(format = Uuid)]
    pub workspace_id: String,
    #[schema(format = Uuid)]
    pub report_id: String,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportChange {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// `null` takes the report off its capacity.
    pub capacity_id: Option<CapacityId>,
}

/// A capacity's settings; on creation `name` is required and `provider` may be given.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapacitySettings {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// `local` (default), `azure` (default when `azure` is given) or `simulated`; only on
    /// creation.
    pub provider: Option<String>,
    /// The Azure capacity behind an `azure` one; only on creation.
    pub azure: Option<AzureInput>,
    pub mode: Option<CapacityMode>,
    #[schema(minimum = 1, maximum = 10080)]
    pub idle_minutes: Option<u32>,
    pub schedule: Option<Vec<WindowInput>>,
    /// An IANA time zone such as `Europe/Berlin`.
    pub time_zone: Option<String>,
    #[schema(minimum = 0, maximum = 1000000)]
    pub hourly_price: Option<f64>,
    pub wake_from_viewer: Option<bool>,
}

/// An Azure capacity, found with the organization's Power BI service principal.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureInput {
    /// `powerBiEmbedded` (A SKUs) or `fabric` (F SKUs).
    #[schema(pattern = "^(powerBiEmbedded|fabric)$")]
    pub kind: String,
    #[schema(format = "uuid")]
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
}

#[derive(ToSchema)]
pub struct WindowInput {
    /// `Mon` … `Sun`.
    pub day: String,
    /// `HH:MM`.
    pub start: String,
    /// `HH:MM`, after `start`.
    pub end: String,
}

/// Replaces a user's or group's row-level-security roles and attributes.
#[derive(ToSchema)]
pub struct RlsInput {
    pub roles: Option<Vec<String>>,
    pub attributes: Option<BTreeMap<String, String>>,
}

/// A new user; without `password` they are invited by a link.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserNew {
    #[schema(format = Email)]
    pub email: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    pub role: Option<Role>,
    #[schema(min_length = 8)]
    pub password: Option<String>,
    pub blocked: Option<bool>,
    /// RFC 3339, or a date (`2026-12-31` = the end of that day, UTC); `null` for never.
    pub expires_at: Option<String>,
}

/// A change of a user; a new password, role, email, block or expiry ends their sessions.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserChange {
    #[schema(format = Email)]
    pub email: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    pub role: Option<Role>,
    #[schema(min_length = 8)]
    pub password: Option<String>,
    pub blocked: Option<bool>,
    pub expires_at: Option<String>,
}

#[derive(ToSchema)]
pub struct GroupNew {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
}

/// The settings to change; the others keep their values.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsChange {
    pub session_idle_timeout_minutes: Option<u32>,
    pub session_absolute_timeout_hours: Option<u32>,
    pub token_lifetime_minutes: Option<u32>,
    /// The timed token update; `null` or `0` turns it off.
    pub token_update_every_minutes: Option<u32>,
    pub time_zone: Option<String>,
    pub capacity_wake_from_viewer: Option<bool>,
    /// The origins whose pages may frame the organization's reports (`null` or `[]`: none).
    #[schema(max_items = 50)]
    pub embed_allowed_origins: Option<Vec<String>>,
}

/// A host app's user, who has no Vitrine account.
#[derive(ToSchema)]
pub struct EmbedIdentity {
    /// The host app's own id for its user (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub id: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// Row-level-security roles, as for accounts; none on a report with row-level security
    /// means no rows (`NoRlsRole`), never all.
    #[schema(max_items = 50)]
    pub roles: Option<Vec<String>>,
    pub attributes: Option<BTreeMap<String, String>>,
}

/// What a host app's backend asks for.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmbedTokenRequest {
    /// The reports the token opens.
    #[schema(min_items = 1, max_items = 16)]
    pub reports: Vec<ReportId>,
    pub identity: EmbedIdentity,
    /// Shorter than the organization's token lifetime, never longer (5 to 1440).
    #[schema(minimum = 5, maximum = 1440)]
    pub lifetime_minutes: Option<u32>,
}

/// A new API key. Only an embed key lists reports; the capacity rights apply to the embed
/// tokens the key mints.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyNew {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// `admin` when not given.
    pub scope: Option<vitrine_core::ApiKeyScope>,
    /// The reports an embed key may mint tokens for; `null` or absent for all.
    #[schema(max_items = 500)]
    pub reports: Option<Vec<ReportId>>,
    /// RFC 3339, or a date (`2026-12-31` = the end of that day, UTC); absent for never.
    pub expires_at: Option<String>,
    /// The tokens the key mints may start a paused capacity.
    pub wake_capacity: Option<bool>,
    /// The tokens the key mints keep a running capacity on.
    pub keep_capacity_on: Option<bool>,
}

/// A dataset upload: multipart with `name` and one `file` (`.csv` or `.parquet`).
#[derive(ToSchema)]
pub struct DatasetUpload {
    pub name: String,
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// New data for a file dataset.
#[derive(ToSchema)]
pub struct DatasetData {
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// A dataset of a connection: a `table` (or view) or a read-only `sql` query, read `direct`
/// (every visual a query at the source) or `imported` (copied on a schedule or on demand).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceDataset {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub connection: vitrine_core::ConnectionId,
    /// `table` or `schema.table`.
    #[schema(min_length = 1, max_length = 257)]
    pub table: Option<String>,
    /// One SELECT; nothing that writes.
    #[schema(min_length = 1, max_length = 65536)]
    pub sql: Option<String>,
    #[schema(pattern = "^(direct|imported)$")]
    pub mode: String,
    /// Imported datasets: refreshed this often (inside `refreshWindows` when there are
    /// some). Neither: on demand only.
    #[schema(minimum = 5, maximum = 44640)]
    pub refresh_every_minutes: Option<u32>,
    /// Imported datasets: refreshed at the start of each weekly window, and every
    /// `refreshEveryMinutes` inside them.
    #[schema(max_items = 50)]
    pub refresh_windows: Option<Vec<WindowInput>>,
    /// The time zone of `refreshWindows` (default: the organization's), such as
    /// `Europe/Berlin`.
    pub time_zone: Option<String>,
}

/// A dataset's name and, for an imported one, how it refreshes; only the fields given change
/// (`null` clears `refreshEveryMinutes`; `null` or `[]` clears `refreshWindows`).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatasetSettings {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(minimum = 5, maximum = 44640)]
    pub refresh_every_minutes: Option<u32>,
    #[schema(max_items = 50)]
    pub refresh_windows: Option<Vec<WindowInput>>,
    pub time_zone: Option<String>,
}

/// A connection to one of the organization's databases. Creating one needs every field but
/// `port`, `tls`, `maxConnections` and `queryTimeoutSeconds`; a change, only those it changes
/// (a missing `password` keeps the old one).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionSettings {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(pattern = "^(postgres|mysql)$")]
    pub kind: Option<String>,
    #[schema(min_length = 1, max_length = 255)]
    pub host: Option<String>,
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<u16>,
    #[schema(min_length = 1, max_length = 255)]
    pub database: Option<String>,
    #[schema(min_length = 1, max_length = 255)]
    pub user: Option<String>,
    /// Sealed at rest, never answered back.
    #[schema(max_length = 1024)]
    pub password: Option<String>,
    #[schema(pattern = "^(disable|prefer|require|verify-full)$")]
    pub tls: Option<String>,
    #[schema(minimum = 1, maximum = 50)]
    pub max_connections: Option<u32>,
    #[schema(minimum = 1, maximum = 60)]
    pub query_timeout_seconds: Option<u32>,
}

/// An organization's Power BI tenant: its Entra ID service principal.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PowerBiConnect {
    /// The Directory (tenant) ID, or the tenant's domain.
    #[schema(min_length = 1, max_length = 253)]
    pub tenant_id: String,
    /// The Application (client) ID.
    #[schema(format = Uuid)]
    pub client_id: String,
    /// The client secret's Value; sealed at rest, never answered back.
    #[schema(min_length = 1, max_length = 1024)]
    pub client_secret: String,
}

/// An organization's OpenID Connect provider. A field left out keeps its value.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoConfigure {
    /// `entra`, `google` (its issuer is filled in) or `generic` (Okta, Keycloak, Auth0…).
    pub preset: Option<String>,
    /// The provider's issuer URL: its `/.well-known/openid-configuration` must answer.
    #[schema(max_length = 500)]
    pub issuer: String,
    #[schema(min_length = 1, max_length = 200)]
    pub client_id: String,
    /// Sealed at rest, never answered back; needed the first time only.
    #[schema(max_length = 1024)]
    pub client_secret: Option<String>,
    /// Scopes asked for besides `openid` (default `email profile`).
    pub scopes: Option<Vec<String>>,
    /// Email domains that lead the sign-in page to the provider once an operator verified
    /// them (an operator's own are verified as set).
    pub domains: Option<Vec<String>>,
    /// Refuse passwords for the organization's users (operators excepted).
    pub required: Option<bool>,
    /// The ID token claim whose values name groups, such as `groups` or `roles`.
    pub groups_claim: Option<String>,
    /// Claim value → the id of the Vitrine group it stands for.
    pub groups: Option<BTreeMap<String, String>>,
    /// The role of an account made at its first sign-in (default Viewer).
    pub default_role: Option<Role>,
}

/// The filters of the organization's audit.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct AuditQuery {
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// `user`, `group`, `report`, `dataset`, `permission`, `settings`, `apiKey` or `capacity`.
    pub entity_type: Option<String>,
    /// Part of the actor's name, any case.
    pub actor: Option<String>,
    /// Text anywhere in the entry.
    pub q: Option<String>,
    /// RFC 3339 or a date.
    pub since: Option<String>,
    pub until: Option<String>,
    /// At most 1000 (default 200; for CSV, 1000).
    pub limit: Option<u32>,
}

/// The filters of the token audit.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct TokenAuditQuery {
    pub format: Option<String>,
    /// `issued`, `refreshed`, `rejected` or `revoked`.
    pub kind: Option<String>,
    /// Part of the user's name or email.
    pub user: Option<String>,
    pub report_id: Option<vitrine_core::ReportId>,
    pub reason: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<u32>,
}

/// Pairs the screen showing `code` (Admin › Displays shows the same form).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisplayPair {
    /// The code on the screen (case, spaces and dashes do not matter).
    #[schema(min_length = 1, max_length = 20)]
    pub code: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub show: DisplayShow,
    /// Groups the display joins: its row-level-security roles and capacity permissions come
    /// from them, as a person's do.
    #[schema(max_items = 100)]
    pub groups: Option<Vec<vitrine_core::GroupId>>,
}

/// What a display shows: one report (opened on `page`; with `pageSeconds`, its pages in turn)
/// or a playlist.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisplayShow {
    pub report: Option<ReportId>,
    #[schema(min_length = 1, max_length = 100)]
    pub page: Option<String>,
    #[schema(minimum = 10, maximum = 86400)]
    pub page_seconds: Option<u32>,
    #[schema(min_items = 1, max_items = 50)]
    pub playlist: Option<Vec<DisplayPlaylistItem>>,
}

#[derive(ToSchema)]
pub struct DisplayPlaylistItem {
    pub report: ReportId,
    #[schema(minimum = 10, maximum = 86400)]
    pub seconds: u32,
}

/// Renames a display or changes what it shows.
#[derive(ToSchema)]
pub struct DisplayChange {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    pub show: Option<DisplayShow>,
}

/// A screen showing its code asks whether it was paired.
#[derive(ToSchema)]
pub struct DisplayClaim {
    /// The secret it was given with its code.
    #[schema(min_length = 1, max_length = 100)]
    pub secret: String,
}

/// What a screen says of itself.
#[derive(ToSchema)]
pub struct DisplayHeartbeat {
    #[schema(pattern = "^(showing|paused|starting|error|connecting)$")]
    pub state: String,
    #[schema(max_length = 200)]
    pub detail: Option<String>,
}

/// The report a display asks a token for.
#[derive(ToSchema)]
pub struct DisplayToken {
    pub report: ReportId,
}
