//! What the service provider says of itself (RFC 7643 §5–7): its configuration, its two
//! resource types and their schemas — only the attributes Vitrine keeps, so that a provider
//! (or a conformance checker) sends nothing it would not read back.

use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{GROUP_SCHEMA, ScimCaller, ScimError, ScimResult, ScimState, USER_SCHEMA, scim_json};

fn attribute(name: &str, kind: &str, required: bool, mutability: &str, uniqueness: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": name,
        "required": required,
        "caseExact": false,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": uniqueness,
    })
}

/// A Vitrine user signs in with an email address: one is required.
fn required(mut attribute: Value) -> Value {
    attribute["required"] = json!(true);
    attribute
}

fn read_only(mut attribute: Value) -> Value {
    attribute["mutability"] = json!("readOnly");
    attribute
}

fn reference(name: &str, types: &[&str]) -> Value {
    let mut value = attribute(name, "reference", false, "immutable", "none");
    value["referenceTypes"] = json!(types);
    value
}

fn complex(name: &str, multi: bool, mutability: &str, subs: Vec<Value>) -> Value {
    let mut value = attribute(name, "complex", false, mutability, "none");
    value["multiValued"] = json!(multi);
    value["subAttributes"] = json!(subs);
    value
}

fn user_schema() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A person of the organization; their email is how they sign in.",
        "attributes": [
            attribute("userName", "string", true, "readWrite", "server"),
            complex("name", false, "readWrite", vec![
                attribute("formatted", "string", false, "readWrite", "none"),
                attribute("familyName", "string", false, "readWrite", "none"),
                attribute("givenName", "string", false, "readWrite", "none"),
            ]),
            attribute("displayName", "string", false, "readWrite", "none"),
            required(complex("emails", true, "readWrite", vec![
                attribute("value", "string", true, "readWrite", "none"),
                attribute("type", "string", false, "readWrite", "none"),
                attribute("primary", "boolean", false, "readWrite", "none"),
            ])),
            attribute("active", "boolean", false, "readWrite", "none"),
            complex("groups", true, "readOnly", vec![
                attribute("value", "string", false, "readOnly", "none"),
                read_only(reference("$ref", &["Group"])),
                attribute("display", "string", false, "readOnly", "none"),
            ]),
        ],
        "meta": { "resourceType": "Schema", "location": format!("/scim/v2/Schemas/{USER_SCHEMA}") },
    })
}

fn group_schema() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "A group of the organization's users: report access, row-level security and capacity permissions follow it.",
        "attributes": [
            attribute("displayName", "string", true, "readWrite", "server"),
            complex("members", true, "readWrite", vec![
                attribute("value", "string", false, "immutable", "none"),
                reference("$ref", &["User"]),
            ]),
        ],
        "meta": { "resourceType": "Schema", "location": format!("/scim/v2/Schemas/{GROUP_SCHEMA}") },
    })
}

fn resource_type_of(name: &str) -> Option<Value> {
    let (endpoint, schema, description) = match name {
        "User" => ("/Users", USER_SCHEMA, "The organization's users"),
        "Group" => ("/Groups", GROUP_SCHEMA, "The organization's groups"),
        _ => return None,
    };
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": name,
        "name": name,
        "endpoint": endpoint,
        "description": description,
        "schema": schema,
        "schemaExtensions": [],
        "meta": { "resourceType": "ResourceType", "location": format!("/scim/v2/ResourceTypes/{name}") },
    }))
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [super::LIST_SCHEMA],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

pub async fn service_provider_config(state: ScimState, _caller: ScimCaller) -> ScimResult {
    Ok(scim_json(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": format!("{}/api/v1/reference", state.config.public_url),
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": super::MAX_COUNT },
            "changePassword": { "supported": false },
            "sort": { "supported": false },
            "etag": { "supported": false },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer API key",
                "description": "An API key of scope scim, made in Admin › API keys, sent as Authorization: Bearer <key>.",
                "primary": true,
            }],
            "meta": { "resourceType": "ServiceProviderConfig", "location": "/scim/v2/ServiceProviderConfig" },
        }),
    ))
}

pub async fn resource_types(_caller: ScimCaller) -> ScimResult {
    let all = ["User", "Group"].into_iter().filter_map(resource_type_of).collect();
    Ok(scim_json(StatusCode::OK, &list(all)))
}

pub async fn resource_type(_caller: ScimCaller, Path(id): Path<String>) -> ScimResult {
    let found = resource_type_of(&id)
        .ok_or_else(|| ScimError::not_found(format!("No resource type {id}.")))?;
    Ok(scim_json(StatusCode::OK, &found))
}

pub async fn schemas(_caller: ScimCaller) -> ScimResult {
    Ok(scim_json(StatusCode::OK, &list(vec![user_schema(), group_schema()])))
}

pub async fn schema(_caller: ScimCaller, Path(id): Path<String>) -> ScimResult {
    let found = match id.as_str() {
        USER_SCHEMA => user_schema(),
        GROUP_SCHEMA => group_schema(),
        _ => return Err(ScimError::not_found(format!("No schema {id}."))),
    };
    Ok(scim_json(StatusCode::OK, &found))
}
