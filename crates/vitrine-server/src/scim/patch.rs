//! PATCH (RFC 7644 §3.5.2) applied to a resource's SCIM document: the operations change the
//! document, and the changed document is then saved like a PUT, with the same checks.
//!
//! Paths: `attr`, `attr.sub`, `attr[sub eq "value"]` and `attr[sub eq "value"].sub`, with or
//! without the schema's URN before them; attribute names in any case, as SCIM wants. `op` in
//! any case too (`Replace` is what Entra ID sends), and Entra ID's `"False"` for a boolean.

use serde_json::{Map, Value};

use super::{PATCH_SCHEMA, ScimError, ScimResult};

/// The attribute names Vitrine's resources have, in their canonical case.
const NAMES: [&str; 14] = [
    "userName",
    "name",
    "displayName",
    "emails",
    "active",
    "externalId",
    "members",
    "givenName",
    "familyName",
    "formatted",
    "value",
    "type",
    "primary",
    "display",
];

fn canonical(name: &str) -> String {
    NAMES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_string(), |n| n.to_string())
}

fn invalid_path(path: &str) -> ScimError {
    ScimError::new(
        axum::http::StatusCode::BAD_REQUEST,
        Some("invalidPath"),
        format!("The path `{path}` is not one Vitrine knows."),
    )
}

/// A path: an attribute, perhaps a filter on its values, perhaps a sub-attribute.
#[derive(Debug, PartialEq)]
struct Path {
    attribute: String,
    filter: Option<(String, Value)>,
    sub: Option<String>,
}

fn parse_path(raw: &str) -> ScimResult<Path> {
    let mut text = raw.trim();
    for schema in [super::USER_SCHEMA, super::GROUP_SCHEMA] {
        if let Some(rest) = text.strip_prefix(schema).and_then(|r| r.strip_prefix(':')) {
            text = rest;
        }
    }
    let (head, filter, tail) = match text.find('[') {
        Some(open) => {
            let close = text.rfind(']').filter(|c| *c > open).ok_or_else(|| invalid_path(raw))?;
            (&text[..open], Some(&text[open + 1..close]), &text[close + 1..])
        }
        None => (text, None, ""),
    };
    let (attribute, mut sub) = match head.split_once('.') {
        Some((attribute, sub)) => (attribute, Some(sub)),
        None => (head, None),
    };
    if let Some(rest) = tail.strip_prefix('.') {
        sub = Some(rest);
    } else if !tail.is_empty() {
        return Err(invalid_path(raw));
    }
    let filter = match filter {
        None => None,
        Some(inner) => {
            let mut parts = inner.trim().splitn(3, char::is_whitespace);
            let (Some(name), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(invalid_path(raw));
            };
            if !op.eq_ignore_ascii_case("eq") {
                return Err(invalid_path(raw));
            }
            let value: Value = serde_json::from_str(value.trim()).map_err(|_| invalid_path(raw))?;
            Some((canonical(name), value))
        }
    };
    let valid = |name: &str| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '$')
    };
    if !valid(attribute) || sub.is_some_and(|s| !valid(s)) {
        return Err(invalid_path(raw));
    }
    Ok(Path { attribute: canonical(attribute), filter, sub: sub.map(canonical) })
}

fn matches(item: &Value, filter: &(String, Value)) -> bool {
    match (item.get(&filter.0), &filter.1) {
        (Some(Value::String(a)), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (Some(a), b) => a == b,
        (None, _) => false,
    }
}

/// A value with every object's keys in their canonical case.
fn canonical_value(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter().map(|(k, v)| (canonical(k), canonical_value(v))).collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(canonical_value).collect()),
        other => other.clone(),
    }
}

fn as_items(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// Applies one operation to `doc`, a resource's document.
fn apply(
    doc: &mut Map<String, Value>,
    op: &str,
    path: Option<&str>,
    value: Option<&Value>,
) -> ScimResult<()> {
    let value = value.map(canonical_value);
    let Some(path) = path.filter(|p| !p.trim().is_empty()) else {
        // No path: the value is an object of attributes to add or replace.
        let Some(Value::Object(fields)) = &value else {
            return Err(ScimError::invalid_value(
                "An operation without a path needs an object as its value.",
            ));
        };
        for (name, field) in fields {
            if name.contains('.') || name.contains('[') || name.contains(':') {
                apply(doc, op, Some(name), Some(field))?;
                continue;
            }
            match (op, doc.get_mut(name)) {
                ("add", Some(Value::Array(items))) => items.extend(as_items(field)),
                _ => {
                    doc.insert(name.clone(), field.clone());
                }
            }
        }
        return Ok(());
    };
    let path = parse_path(path)?;
    match (&path.filter, &path.sub) {
        (None, None) => match op {
            "remove" => match (&value, doc.get_mut(&path.attribute)) {
                // Remove these values of a list (Entra ID removes members so).
                (Some(value), Some(Value::Array(items))) => {
                    let gone = as_items(value);
                    items.retain(|item| {
                        !gone
                            .iter()
                            .any(|g| g.get("value").is_some_and(|v| Some(v) == item.get("value")))
                    });
                }
                _ => {
                    doc.remove(&path.attribute);
                }
            },
            "add" => {
                let value = value.ok_or_else(|| ScimError::invalid_value("add needs a value"))?;
                match doc.get_mut(&path.attribute) {
                    Some(Value::Array(items)) => items.extend(as_items(&value)),
                    _ => {
                        doc.insert(path.attribute.clone(), value);
                    }
                }
            }
            _ => {
                let value =
                    value.ok_or_else(|| ScimError::invalid_value("replace needs a value"))?;
                doc.insert(path.attribute.clone(), value);
            }
        },
        (None, Some(sub)) => {
            let parent =
                doc.entry(path.attribute.clone()).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(parent) = parent else { return Err(invalid_path(&path.attribute)) };
            match (op, value) {
                ("remove", _) => {
                    parent.remove(sub);
                }
                (_, Some(value)) => {
                    parent.insert(sub.clone(), value);
                }
                (_, None) => return Err(ScimError::invalid_value("the operation needs a value")),
            }
        }
        (Some(filter), sub) => {
            let items =
                doc.entry(path.attribute.clone()).or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = items else { return Err(invalid_path(&path.attribute)) };
            match (op, sub) {
                ("remove", None) => items.retain(|item| !matches(item, filter)),
                ("remove", Some(sub)) => {
                    for item in items.iter_mut().filter(|item| matches(item, filter)) {
                        if let Value::Object(item) = item {
                            item.remove(sub);
                        }
                    }
                }
                (_, sub) => {
                    let value = value
                        .ok_or_else(|| ScimError::invalid_value("the operation needs a value"))?;
                    let mut found = false;
                    for item in items.iter_mut().filter(|item| matches(item, filter)) {
                        found = true;
                        match (sub, &mut *item) {
                            (Some(sub), Value::Object(fields)) => {
                                fields.insert(sub.clone(), value.clone());
                            }
                            _ => *item = value.clone(),
                        }
                    }
                    if !found {
                        // `emails[type eq "work"].value` on a user without one adds it.
                        let mut item = Map::new();
                        item.insert(filter.0.clone(), filter.1.clone());
                        match (sub, &value) {
                            (Some(sub), _) => {
                                item.insert(sub.clone(), value.clone());
                            }
                            (None, Value::Object(fields)) => item.extend(fields.clone()),
                            (None, _) => {
                                return Err(ScimError::invalid_value(
                                    "the operation needs an object",
                                ));
                            }
                        }
                        items.push(Value::Object(item));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Applies a PatchOp request's operations, in order, to `doc`.
pub fn apply_patch(doc: &mut Map<String, Value>, request: &Value) -> ScimResult<()> {
    let schemas_ok = request
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(PATCH_SCHEMA)));
    let Some(operations) =
        request.get("Operations").and_then(Value::as_array).filter(|_| schemas_ok)
    else {
        return Err(ScimError::new(
            axum::http::StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            format!("A PATCH is {{\"schemas\":[\"{PATCH_SCHEMA}\"],\"Operations\":[…]}}."),
        ));
    };
    if operations.len() > 1_000 {
        return Err(ScimError::invalid_value("At most 1000 operations in one PATCH."));
    }
    for operation in operations {
        let op = operation.get("op").and_then(Value::as_str).map(str::to_ascii_lowercase);
        let op = match op.as_deref() {
            Some(op @ ("add" | "replace" | "remove")) => op.to_string(),
            _ => {
                return Err(ScimError::invalid_value(
                    "Each operation's op is add, replace or remove.",
                ));
            }
        };
        let path = operation.get("path").and_then(Value::as_str);
        apply(doc, &op, path, operation.get("value"))?;
    }
    Ok(())
}

/// A boolean as SCIM sends it: `true`, or Entra ID's `"True"`.
pub fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patched(doc: Value, operations: Value) -> Value {
        let mut doc = doc.as_object().unwrap().clone();
        apply_patch(&mut doc, &json!({ "schemas": [PATCH_SCHEMA], "Operations": operations }))
            .unwrap();
        Value::Object(doc)
    }

    #[test]
    fn paths_read_attributes_filters_and_sub_attributes_in_any_case() {
        assert_eq!(
            parse_path(r#"emails[type eq "work"].value"#).unwrap(),
            Path {
                attribute: "emails".into(),
                filter: Some(("type".into(), json!("work"))),
                sub: Some("value".into())
            }
        );
        assert_eq!(parse_path("NAME.GivenName").unwrap().sub.as_deref(), Some("givenName"));
        let urn = format!("{}:userName", super::super::USER_SCHEMA);
        assert_eq!(parse_path(&urn).unwrap().attribute, "userName");
        for wrong in ["emails[type", "emails[type gt 1]", "a b", "emails[type eq \"w\"]x", ""] {
            assert!(parse_path(wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn operations_replace_add_and_remove_as_providers_send_them() {
        let doc = json!({ "userName": "ada", "active": true, "emails": [{ "value": "a@x.com", "type": "work", "primary": true }] });
        // Entra ID: op in capitals, no path, a string boolean.
        let off =
            patched(doc.clone(), json!([{ "op": "Replace", "value": { "active": "False" } }]));
        assert_eq!(boolean(&off["active"]), Some(false));
        let email = patched(
            doc.clone(),
            json!([{ "op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@x.com" }]),
        );
        assert_eq!(email["emails"][0]["value"], "b@x.com");
        let added = patched(
            doc.clone(),
            json!([{ "op": "add", "path": "emails[type eq \"home\"].value", "value": "h@x.com" }]),
        );
        assert_eq!(added["emails"][1], json!({ "type": "home", "value": "h@x.com" }));
        let named = patched(
            doc.clone(),
            json!([{ "op": "add", "path": "name.givenName", "value": "Ada" }]),
        );
        assert_eq!(named["name"], json!({ "givenName": "Ada" }));
        let gone = patched(doc, json!([{ "op": "remove", "path": "emails[type eq \"work\"]" }]));
        assert_eq!(gone["emails"], json!([]));

        let group =
            json!({ "displayName": "Sales", "members": [{ "value": "u1" }, { "value": "u2" }] });
        let joined = patched(
            group.clone(),
            json!([{ "op": "add", "path": "members", "value": [{ "value": "u3" }] }]),
        );
        assert_eq!(joined["members"].as_array().unwrap().len(), 3);
        let left =
            patched(group.clone(), json!([{ "op": "remove", "path": "members[value eq \"u1\"]" }]));
        assert_eq!(left["members"], json!([{ "value": "u2" }]));
        let entra = patched(
            group,
            json!([{ "op": "Remove", "path": "members", "value": [{ "value": "u2" }] }]),
        );
        assert_eq!(entra["members"], json!([{ "value": "u1" }]));
    }

    #[test]
    fn a_patch_without_its_schema_or_with_an_unknown_op_is_refused() {
        let mut doc = Map::new();
        assert!(apply_patch(&mut doc, &json!({ "Operations": [] })).is_err());
        let unknown =
            json!({ "schemas": [PATCH_SCHEMA], "Operations": [{ "op": "move", "path": "a" }] });
        assert!(apply_patch(&mut doc, &unknown).is_err());
    }
}
