//! `/scim/v2/Users`: the organization's users as SCIM Users. A user's email is Vitrine's sign-in
//! name and row-level-security username: it is the primary email the provider sends (or its
//! `userName`, when that is an email). `active: false` blocks the user: their sessions end and
//! their tokens are revoked, so their open screens go dark within a second.

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use vitrine_core::{Fields, UserId, validate};
use vitrine_store::{ScimUser, StoreError, User};

use super::patch::{apply_patch, boolean};
use super::{
    ListQuery, Projection, ScimCaller, ScimError, ScimResult, ScimState, USER_SCHEMA, body_object,
    list_response, location, scim_json,
};
use crate::app::AppState;
use crate::services;

const MAX_TEXT: usize = 256;

/// What a User document asks for.
struct Wanted {
    user_name: String,
    email: String,
    name: String,
    active: bool,
    external_id: Option<String>,
    /// `name`, `displayName`, `emails` and `active` as sent.
    attributes: Value,
}

fn text<'a>(doc: &'a Value, field: &str) -> ScimResult<Option<&'a str>> {
    match doc.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_TEXT => Ok(Some(s.as_str())),
        Some(_) => Err(ScimError::invalid_value(format!(
            "{field} is a string of at most {MAX_TEXT} bytes"
        ))),
    }
}

fn read(doc: &Value) -> ScimResult<Wanted> {
    let user_name = text(doc, "userName")?
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ScimError::invalid_value("userName is required"))?
        .to_string();
    let emails = match doc.get("emails") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => {
            return Err(ScimError::invalid_value("emails is a list of {value, type, primary}"));
        }
    };
    let chosen = emails
        .iter()
        .find(|e| e.get("primary").and_then(boolean) == Some(true))
        .or_else(|| emails.first())
        .and_then(|e| e.get("value"))
        .and_then(Value::as_str);
    let email = match chosen {
        Some(value) => validate::email("emails", value)
            .map_err(|_| ScimError::invalid_value(format!("emails: `{value}` is not an email address")))?,
        None => validate::email("userName", &user_name).map_err(|_| {
            ScimError::invalid_value("A Vitrine user signs in with an email address: send emails, or an email as userName")
        })?,
    };
    let name_of = |doc: &Value| -> Option<String> {
        let name = doc.get("name");
        let given = name.and_then(|n| n.get("givenName")).and_then(Value::as_str);
        let family = name.and_then(|n| n.get("familyName")).and_then(Value::as_str);
        let joined = [given, family].into_iter().flatten().collect::<Vec<_>>().join(" ");
        doc.get("displayName")
            .and_then(Value::as_str)
            .or_else(|| name.and_then(|n| n.get("formatted")).and_then(Value::as_str))
            .map(str::to_string)
            .or_else(|| (!joined.is_empty()).then_some(joined))
    };
    let name = name_of(doc)
        .and_then(|n| validate::name("name", n.trim()).ok())
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_string());
    let active = match doc.get("active") {
        None | Some(Value::Null) => true,
        Some(value) => {
            boolean(value).ok_or_else(|| ScimError::invalid_value("active is true or false"))?
        }
    };
    let external_id = text(doc, "externalId")?.map(str::to_string);
    let mut attributes = Map::new();
    for kept in ["name", "displayName", "emails", "active"] {
        if let Some(value) = doc.get(kept).filter(|v| !v.is_null()) {
            attributes.insert(kept.to_string(), value.clone());
        }
    }
    Ok(Wanted {
        user_name,
        email,
        name,
        active,
        external_id,
        attributes: Value::Object(attributes),
    })
}

/// A user as a SCIM User document.
async fn document(state: &AppState, user: &User, known: Option<&ScimUser>) -> ScimResult<Value> {
    let groups = state.store.groups_of_user(user.org_id, user.id).await?;
    let attributes = known.map(|k| k.attributes.clone()).unwrap_or_else(|| json!({}));
    // The email is Vitrine's: an administrator may have changed it since.
    let mut emails =
        attributes.get("emails").and_then(Value::as_array).cloned().unwrap_or_default();
    let primary = emails
        .iter()
        .position(|e| e.get("primary").and_then(boolean) == Some(true))
        .or(if emails.is_empty() { None } else { Some(0) });
    match primary {
        Some(index) => emails[index]["value"] = json!(user.email),
        None => emails.push(json!({ "value": user.email, "type": "work", "primary": true })),
    }
    let mut doc = json!({
        "schemas": [USER_SCHEMA],
        "id": user.id.to_string(),
        "userName": known.map_or(user.email.as_str(), |k| k.user_name.as_str()),
        "emails": emails,
        "groups": groups.iter().map(|g| json!({
            "value": g.id.to_string(),
            "display": g.name,
            "$ref": location(state, "Groups", g.id),
        })).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "User",
            "created": crate::api::json::time(user.created_at),
            "lastModified": crate::api::json::time(user.updated_at),
            "location": location(state, "Users", user.id),
        },
    });
    // What the provider sent is answered as sent, and what it removed stays removed; a user
    // it never sent shows Vitrine's own name. Blocked is always said.
    match known {
        Some(_) => {
            for kept in ["name", "displayName"] {
                if let Some(value) = attributes.get(kept) {
                    doc[kept] = value.clone();
                }
            }
            if user.blocked || attributes.get("active").is_some() {
                doc["active"] = json!(!user.blocked);
            }
        }
        None => {
            doc["name"] = json!({ "formatted": user.name });
            doc["displayName"] = json!(user.name);
            doc["active"] = json!(!user.blocked);
        }
    }
    if let Some(external_id) = known.and_then(|k| k.external_id.as_deref()) {
        doc["externalId"] = json!(external_id);
    }
    Ok(doc)
}

/// The organization's user `id` (not a display's) and what SCIM knows of it.
async fn find(
    state: &AppState,
    caller: &ScimCaller,
    id: &str,
) -> ScimResult<(User, Option<ScimUser>)> {
    let missing = || ScimError::not_found(format!("No user {id}."));
    let id: UserId = id.parse().map_err(|_| missing())?;
    let user = match state.store.get_user(caller.scope.org_id(), id).await {
        Ok(user) if !user.display => user,
        Ok(_) | Err(StoreError::NotFound) => return Err(missing()),
        Err(error) => return Err(error.into()),
    };
    let known = state.store.scim_user(caller.scope.org_id(), id).await?;
    Ok((user, known))
}

async fn ensure_user_name_free(
    state: &AppState,
    caller: &ScimCaller,
    name: &str,
    owner: Option<UserId>,
) -> ScimResult<()> {
    let taken = state
        .store
        .scim_user_named(caller.scope.org_id(), name)
        .await?
        .is_some_and(|k| Some(k.user_id) != owner);
    if taken {
        return Err(ScimError::new(
            StatusCode::CONFLICT,
            Some("uniqueness"),
            format!("userName {name} is taken"),
        ));
    }
    Ok(())
}

async fn remember(
    state: &AppState,
    caller: &ScimCaller,
    user: UserId,
    wanted: Wanted,
) -> ScimResult<()> {
    let known = ScimUser {
        user_id: user,
        user_name: wanted.user_name,
        external_id: wanted.external_id,
        attributes: wanted.attributes,
    };
    state.store.set_scim_user(caller.scope.org_id(), &known).await.map_err(|error| match error {
        StoreError::Conflict { .. } => {
            ScimError::new(StatusCode::CONFLICT, Some("uniqueness"), "userName is taken")
        }
        other => other.into(),
    })
}

/// `POST …/.search`: a list asked for in a body.
pub async fn search(state: ScimState, caller: ScimCaller, body: Bytes) -> ScimResult {
    let query = ListQuery::from_search(&body_object(&body)?);
    list(state, caller, Query(query)).await
}

/// The attributes a filter may name.
pub const FILTERS: [&str; 4] = ["username", "externalid", "emails.value", "id"];

/// Counts every resource `filter` keeps into `page`, with the documents of those on it.
pub async fn matching(
    state: &AppState,
    caller: &ScimCaller,
    filter: Option<&super::Filter>,
    page: &mut super::Page,
) -> ScimResult<()> {
    let org = caller.scope.org_id();
    let known = state.store.scim_users(org).await?;
    for user in state.store.list_users(org).await?.into_iter().filter(|u| !u.display) {
        let scim = known.iter().find(|k| k.user_id == user.id);
        let keep = match filter {
            None => true,
            Some(f) => {
                let value = f.value.as_str();
                match f.attribute.as_str() {
                    "username" => scim
                        .map_or(user.email.as_str(), |k| k.user_name.as_str())
                        .eq_ignore_ascii_case(value),
                    "externalid" => scim.and_then(|k| k.external_id.as_deref()) == Some(value),
                    "emails.value" => user.email.eq_ignore_ascii_case(value),
                    _ => user.id.to_string() == value,
                }
            }
        };
        if keep && page.wants() {
            page.resources.push(document(state, &user, scim).await?);
        }
    }
    Ok(())
}

pub async fn list(
    state: ScimState,
    caller: ScimCaller,
    Query(query): Query<ListQuery>,
) -> ScimResult {
    let filter = query.filter(&FILTERS)?;
    let mut page = query.empty_page();
    matching(&state, &caller, filter.as_ref(), &mut page).await?;
    Ok(list_response(&query, page))
}

pub async fn show(
    state: ScimState,
    caller: ScimCaller,
    Path(id): Path<String>,
    Query(projection): Query<Projection>,
) -> ScimResult {
    let (user, known) = find(&state, &caller, &id).await?;
    let doc = document(&state, &user, known.as_ref()).await?;
    Ok(scim_json(StatusCode::OK, &projection.apply(doc)))
}

pub async fn create(state: ScimState, caller: ScimCaller, body: Bytes) -> ScimResult {
    let wanted = read(&body_object(&body)?)?;
    ensure_user_name_free(&state, &caller, &wanted.user_name, None).await?;
    // The role of new accounts the organization's single sign-on names, else Viewer.
    let role = state
        .store
        .sso_provider(caller.scope.org_id())
        .await?
        .map_or(vitrine_core::Role::Viewer, |p| p.settings.default_role);
    let input = Fields::from_value(json!({
        "email": wanted.email,
        "name": wanted.name,
        "role": role.as_str(),
        "blocked": !wanted.active,
    }))
    .map_err(crate::error::ApiError::from)?;
    let user = services::users::create(&state, &caller.scope, &caller.caller, &input).await?;
    if let Err(error) = remember(&state, &caller, user.id, wanted).await {
        // Two provisions raced for one userName: the user made here goes again.
        let _ = services::users::delete(&state, &caller.scope, &caller.caller, user.id).await;
        return Err(error);
    }
    let (user, known) = find(&state, &caller, &user.id.to_string()).await?;
    Ok(scim_json(StatusCode::CREATED, &document(&state, &user, known.as_ref()).await?))
}

/// Saves a whole User document over the user `id`.
async fn save(state: &AppState, caller: &ScimCaller, user: User, doc: &Value) -> ScimResult {
    let wanted = read(doc)?;
    ensure_user_name_free(state, caller, &wanted.user_name, Some(user.id)).await?;
    let mut change = Map::new();
    if wanted.email != user.email {
        change.insert("email".into(), json!(wanted.email));
    }
    if wanted.name != user.name {
        change.insert("name".into(), json!(wanted.name));
    }
    if wanted.active == user.blocked {
        change.insert("blocked".into(), json!(!wanted.active));
    }
    if !change.is_empty() {
        let input = Fields::from_map(change);
        services::users::update(state, &caller.scope, &caller.caller, user.id, &input).await?;
    }
    remember(state, caller, user.id, wanted).await?;
    let (user, known) = find(state, caller, &user.id.to_string()).await?;
    Ok(scim_json(StatusCode::OK, &document(state, &user, known.as_ref()).await?))
}

pub async fn replace(
    state: ScimState,
    caller: ScimCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let doc = body_object(&body)?;
    let (user, _) = find(&state, &caller, &id).await?;
    save(&state, &caller, user, &doc).await
}

pub async fn patch(
    state: ScimState,
    caller: ScimCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let request = body_object(&body)?;
    let (user, known) = find(&state, &caller, &id).await?;
    let Value::Object(mut doc) = document(&state, &user, known.as_ref()).await? else {
        return Err(ScimError::invalid_value("unreadable user"));
    };
    apply_patch(&mut doc, &request)?;
    save(&state, &caller, user, &Value::Object(doc)).await
}

pub async fn delete(state: ScimState, caller: ScimCaller, Path(id): Path<String>) -> ScimResult {
    let (user, _) = find(&state, &caller, &id).await?;
    services::users::delete(&state, &caller.scope, &caller.caller, user.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
