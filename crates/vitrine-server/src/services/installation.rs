//! The installation's operators at work: first-run set-up, organizations created, renamed,
//! limited, suspended and deleted. Operators manage organizations, never their content: no
//! function here reads a report or a dataset's data. Each change is in the installation audit
//! (written by the store in the change's own transaction).

use std::sync::Mutex;

use subtle::ConstantTimeEq;
use vitrine_core::token::RevocationScope;
use vitrine_core::{Fields, OperatorScope, OrgId, OrgLimits, Role, validate};
use vitrine_store::{Actor, NewUser, OrgUsage, Organization, StoreError, User};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::services::datasets;

/// Wrong set-up codes allowed before the code is replaced by a new one (logged again).
const SETUP_ATTEMPTS: u32 = 10;
/// Letters and digits that cannot be mistaken for one another.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_CHARS: usize = 12;

/// The one-time code that opens the set-up page, held in memory only: a restart makes a new
/// one. Empty once set-up is done.
#[derive(Default)]
pub struct SetupGate {
    code: Mutex<Option<(String, u32)>>,
}

impl SetupGate {
    /// Makes a new code, when the installation is not set up yet; the caller logs it.
    pub async fn arm(&self, state: &AppState) -> Result<Option<String>, StoreError> {
        if state.store.is_set_up().await? {
            self.disarm();
            return Ok(None);
        }
        Ok(Some(self.new_code()))
    }

    fn new_code(&self) -> String {
        use rand::Rng;
        let mut rng = rand::rng();
        let code: String = (0..CODE_CHARS)
            .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
            .collect();
        if let Ok(mut slot) = self.code.lock() {
            *slot = Some((code.clone(), 0));
        }
        code
    }

    pub fn is_armed(&self) -> bool {
        self.code.lock().map(|slot| slot.is_some()).unwrap_or(false)
    }

    fn disarm(&self) {
        if let Ok(mut slot) = self.code.lock() {
            *slot = None;
        }
    }

    /// Checks a presented code in constant time; too many wrong codes replace it.
    fn check(&self, presented: &str) -> Result<(), ApiError> {
        let normalized: String =
            presented.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        let normalized = normalized.to_ascii_uppercase();
        let mut replaced = false;
        let result = match self.code.lock() {
            Ok(mut slot) => match slot.as_mut() {
                None => Err(set_up_already()),
                Some((code, _)) if bool::from(code.as_bytes().ct_eq(normalized.as_bytes())) => {
                    Ok(())
                }
                Some((_, failures)) => {
                    *failures += 1;
                    replaced = *failures >= SETUP_ATTEMPTS;
                    Err(ApiError::invalid("code", "is not the set-up code the server logged"))
                }
            },
            Err(_) => Err(ApiError::internal()),
        };
        if replaced {
            let code = self.new_code();
            tracing::warn!(%code, "too many wrong set-up codes: this is the new set-up code");
        }
        result
    }
}

fn set_up_already() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "This installation is set up already.")
}

/// What first-run set-up needs.
pub struct Setup<'a> {
    pub org_name: &'a str,
    pub admin_email: &'a str,
    pub admin_name: Option<&'a str>,
    pub password: &'a str,
}

/// Creates the first organization and its administrator, the first operator. `code` is the
/// logged set-up code (the page), or `None` for the command line, run by whoever holds the
/// server's database.
pub async fn set_up(
    state: &AppState,
    code: Option<&str>,
    setup: &Setup<'_>,
) -> ApiResult<(Organization, User)> {
    let org_name = validate::name("organization", setup.org_name)?;
    let email = validate::email("email", setup.admin_email)?;
    let name = match setup.admin_name.filter(|n| !n.trim().is_empty()) {
        Some(name) => validate::name("name", name)?,
        None => email.split('@').next().unwrap_or_default().to_string(),
    };
    validate::password("password", setup.password)?;
    if let Some(code) = code {
        state.setup.check(code)?;
    }
    let password_hash = state.passwords.hash(setup.password).await?;
    let admin =
        NewUser { email, name, role: Role::Admin, password_hash, blocked: false, expires_at: None };
    let done = state.store.complete_setup(state.clock.now(), &org_name, &admin).await;
    state.setup.disarm();
    match done {
        Ok(done) => {
            tracing::info!(org = %done.0.id, "installation set up");
            Ok(done)
        }
        Err(StoreError::Conflict { field: "setup" }) => Err(set_up_already()),
        Err(error) => Err(error.into()),
    }
}

/// An organization as operators see it: no reports, no data, only counts.
pub struct OrganizationView {
    pub organization: Organization,
    pub usage: OrgUsage,
}

pub async fn list(state: &AppState, _scope: &OperatorScope) -> ApiResult<Vec<OrganizationView>> {
    let mut views = Vec::new();
    for organization in state.store.list_organizations().await? {
        let usage = state.store.organization_usage(organization.id).await?;
        views.push(OrganizationView { organization, usage });
    }
    Ok(views)
}

pub async fn show(
    state: &AppState,
    _scope: &OperatorScope,
    org: OrgId,
) -> ApiResult<OrganizationView> {
    let organization = state.store.get_organization(org).await?;
    let usage = state.store.organization_usage(org).await?;
    Ok(OrganizationView { organization, usage })
}

pub const SETUP_FIELDS: [&str; 5] = ["code", "organization", "email", "name", "password"];
pub const CREATE_FIELDS: [&str; 4] = ["name", "limits", "adminEmail", "adminName"];

/// Creates an organization; with `adminEmail`, also its first administrator, invited to
/// choose a password (see [`crate::services::accounts::invite`]).
pub async fn create(
    state: &AppState,
    _scope: &OperatorScope,
    caller: &Caller,
    input: &Fields,
) -> ApiResult<(Organization, Option<User>)> {
    input.allow_only(&CREATE_FIELDS)?;
    let name = validate::name("name", input.required_str("name")?)?;
    let limits = limits_from(input, &OrgLimits::default())?;
    let admin = input
        .optional_str("adminEmail")?
        .filter(|e| !e.trim().is_empty())
        .map(|e| validate::email("adminEmail", e))
        .transpose()?;
    let admin_name = input
        .optional_str("adminName")?
        .filter(|n| !n.trim().is_empty())
        .map(|n| validate::name("adminName", n))
        .transpose()?;
    if let Some(email) = &admin
        && state.store.find_login(email).await?.is_some()
    {
        return Err(ApiError::invalid("adminEmail", "is already in use")
            .with_status(axum::http::StatusCode::CONFLICT));
    }
    let actor = caller.actor(state.clock.now());
    let mut org = state.store.create_organization(&actor, &name).await?;
    if limits != org.limits {
        org = state.store.set_organization_limits(&actor, org.id, &limits).await?;
    }
    let admin = match admin {
        Some(email) => {
            let name =
                admin_name.unwrap_or_else(|| email.split('@').next().unwrap_or_default().into());
            let new = NewUser {
                email,
                name,
                role: Role::Admin,
                password_hash: String::new(),
                blocked: false,
                expires_at: None,
            };
            Some(state.store.create_user(org.id, &actor, &new).await?)
        }
        None => None,
    };
    Ok((org, admin))
}

fn limits_from(input: &Fields, current: &OrgLimits) -> ApiResult<OrgLimits> {
    match input.as_value().get("limits") {
        None | Some(serde_json::Value::Null) => Ok(*current),
        Some(value) => {
            let fields = Fields::from_value(value.clone())
                .map_err(|_| ApiError::invalid("limits", "must be an object"))?;
            current
                .patched(&fields)
                .map_err(|e| ApiError::invalid(format!("limits.{}", e.field), e.message))
        }
    }
}

pub const UPDATE_FIELDS: [&str; 3] = ["name", "limits", "suspended"];

/// Renames, limits, suspends or reinstates an organization. Suspension revokes every token
/// of it at once and pauses its capacities; its users are signed out and cannot sign in.
pub async fn update(
    state: &AppState,
    scope: &OperatorScope,
    caller: &Caller,
    org: OrgId,
    input: &Fields,
) -> ApiResult<Organization> {
    input.allow_only(&UPDATE_FIELDS)?;
    let current = state.store.get_organization(org).await?;
    let name = input.optional_str("name")?.map(|n| validate::name("name", n)).transpose()?;
    let limits = limits_from(input, &current.limits)?;
    let suspended = input.optional_bool("suspended")?;
    if suspended == Some(true) && scope.principal().org_id == org {
        return Err(ApiError::invalid(
            "suspended",
            "you cannot suspend the organization you belong to",
        ));
    }
    let actor = caller.actor(state.clock.now());
    let mut org_now = current.clone();
    if let Some(name) = name.filter(|n| *n != current.name) {
        org_now = state.store.rename_organization(&actor, org, &name).await?;
    }
    if limits != current.limits {
        org_now = state.store.set_organization_limits(&actor, org, &limits).await?;
    }
    if let Some(suspended) = suspended.filter(|s| *s != current.is_suspended()) {
        org_now = state.store.set_organization_suspended(&actor, org, suspended).await?;
        if suspended {
            state.tokens.revoker.revoke(RevocationScope::Organization(org)).await?;
            pause_capacities(state, org, &actor).await;
        }
    }
    Ok(org_now)
}

async fn pause_capacities(state: &AppState, org: OrgId, actor: &Actor) {
    let capacities = match state.store.list_capacities(org).await {
        Ok(capacities) => capacities,
        Err(error) => {
            tracing::error!(%error, %org, "listing capacities to pause");
            return;
        }
    };
    for capacity in capacities {
        if let Err(error) =
            state.capacities.pause(org, capacity.id, "suspension", Some(&actor.label)).await
        {
            tracing::error!(%error, capacity = %capacity.id, "pausing a suspended organization's capacity");
        }
    }
}

/// Deletes an organization and everything of it, once `confirm` repeats its name.
pub async fn delete(
    state: &AppState,
    scope: &OperatorScope,
    caller: &Caller,
    org: OrgId,
    confirm: &str,
) -> ApiResult<()> {
    let current = state.store.get_organization(org).await?;
    if scope.principal().org_id == org {
        return Err(ApiError::invalid("id", "you cannot delete the organization you belong to"));
    }
    if confirm.trim() != current.name {
        return Err(ApiError::invalid(
            "confirm",
            format!("type the organization's name, {:?}, to confirm", current.name),
        ));
    }
    let actor = caller.actor(state.clock.now());
    let files = state.store.list_datasets(org).await?;
    // Tokens die first, so nothing of the organization is served while it is being deleted.
    state.tokens.revoker.revoke(RevocationScope::Organization(org)).await?;
    state.store.delete_organization(&actor, org).await?;
    for dataset in files {
        datasets::forget(state, &dataset).await;
    }
    Ok(())
}
