//! `/api/v1/reference`: the OpenAPI document as a readable page — every operation by tag, with
//! its parameters, body and answers, then every shape with its fields. Rendered once from the
//! same document `/api/v1/openapi.json` serves, so the two always agree.

use maud::{Markup, html};
use serde_json::Value;

use crate::portal::layout::{Area, page_in};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

pub fn page(doc: &utoipa::openapi::OpenApi) -> String {
    let doc = serde_json::to_value(doc).unwrap_or_default();
    let tags: Vec<(String, String)> = list(&doc["tags"])
        .iter()
        .map(|tag| (text(&tag["name"]), text(&tag["description"])))
        .collect();
    let content = html! {
        h1 { "Vitrine API reference" }
        p.lead {
            "Generated from the server's code; the same document is at "
            a href="/api/v1/openapi.json" { code { "/api/v1/openapi.json" } }
            " (OpenAPI " (text(&doc["openapi"])) "). Paths are under "
            code { "/api/v1" } ". The guide, with authentication and every error code, is "
            code { "docs/api.md" } "."
        }
        nav.reference-toc aria-label="Tags" {
            @for (name, _) in &tags { a href={ "#tag-" (anchor(name)) } { (name) } }
            a href="#shapes" { "Shapes" }
        }
        @for (name, description) in &tags {
            section.reference-tag id={ "tag-" (anchor(name)) } {
                h2 { (name) }
                p { (description) }
                @for (path, method, operation) in operations(&doc, name) {
                    (render_operation(&path, method, operation))
                }
            }
        }
        section id="shapes" {
            h2 { "Shapes" }
            @if let Some(schemas) = doc["components"]["schemas"].as_object() {
                @for (name, schema) in schemas { (render_schema(name, schema)) }
            }
        }
    };
    page_in(Area::Reports, None, "API reference", None, content).into_string()
}

/// Descriptions are written with `code` in backticks, as in the docs.
fn inline(description: &str) -> Markup {
    html! {
        @for (i, part) in description.split('`').enumerate() {
            @if i % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}

fn list(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn anchor(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect()
}

fn operations<'a>(doc: &'a Value, tag: &str) -> Vec<(String, &'static str, &'a Value)> {
    let mut found = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in METHODS {
                let operation = &item[method];
                let tagged = list(&operation["tags"]).iter().any(|t| t.as_str() == Some(tag));
                if operation.is_object() && tagged {
                    found.push((path.clone(), method, operation));
                }
            }
        }
    }
    found
}

fn render_operation(path: &str, method: &str, operation: &Value) -> Markup {
    let security: Vec<String> = list(&operation["security"])
        .iter()
        .filter_map(|requirement| requirement.as_object())
        .map(|requirement| requirement.keys().cloned().collect::<Vec<_>>().join(" + "))
        .collect();
    html! {
        article.reference-op id=(text(&operation["operationId"])) {
            h3 { span.method { (method.to_uppercase()) } " " code { (path) } }
            @if let Some(summary) = operation["summary"].as_str() { p { (inline(summary)) } }
            @if let Some(description) = operation["description"].as_str() { p { (inline(description)) } }
            p.auth {
                "Authentication: "
                @if security.is_empty() { "none" } @else { (security.join(", or ")) }
            }
            @let parameters = list(&operation["parameters"]);
            @if !parameters.is_empty() {
                table {
                    thead { tr { th { "Parameter" } th { "In" } th { "Type" } th { "" } } }
                    tbody {
                        @for parameter in &parameters {
                            tr {
                                td { code { (text(&parameter["name"])) } }
                                td { (text(&parameter["in"])) }
                                td { (describe(&parameter["schema"])) }
                                td { (inline(&text(&parameter["description"]))) }
                            }
                        }
                    }
                }
            }
            @if let Some(content) = operation["requestBody"]["content"].as_object() {
                @for (media, body) in content {
                    p { "Body (" (media) "): " (describe(&body["schema"])) }
                }
            }
            table {
                thead { tr { th { "Answer" } th { "Body" } th { "" } } }
                tbody {
                    @if let Some(responses) = operation["responses"].as_object() {
                        @for (status, response) in responses {
                            tr {
                                td { (status) }
                                td {
                                    @if let Some(content) = response["content"].as_object() {
                                        @for (media, body) in content {
                                            (describe(&body["schema"])) " " small { (media) } br;
                                        }
                                    }
                                }
                                td { (inline(&text(&response["description"]))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn render_schema(name: &str, schema: &Value) -> Markup {
    let required: Vec<String> = list(&schema["required"]).iter().map(text).collect();
    let properties = all_properties(schema);
    html! {
        article.reference-schema id={ "schema-" (name) } {
            h3 { code { (name) } }
            @if let Some(description) = schema["description"].as_str() { p { (inline(description)) } }
            @if properties.is_empty() {
                p { (describe(schema)) }
            } @else {
                table {
                    thead { tr { th { "Field" } th { "Type" } th { "" } } }
                    tbody {
                        @for (field, property) in &properties {
                            tr {
                                td {
                                    code { (field) }
                                    @if required.contains(field) { " " small { "required" } }
                                }
                                td { (describe(property)) }
                                td { (inline(&text(&property["description"]))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The fields of an object, with those of the shapes it flattens in (`allOf`).
fn all_properties(schema: &Value) -> Vec<(String, Value)> {
    let mut fields: Vec<(String, Value)> = schema["properties"]
        .as_object()
        .map(|map| map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    for part in list(&schema["allOf"]) {
        fields.extend(all_properties(&part));
    }
    fields
}

/// A schema in a few words: a link to a named shape, `array of …`, a type with its format.
fn describe(schema: &Value) -> Markup {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return html! { a href={ "#schema-" (name) } { (name) } };
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        let parts = list(&schema[combinator]);
        if !parts.is_empty() {
            let joiner = if combinator == "allOf" { " and " } else { " or " };
            return html! {
                @for (i, part) in parts.iter().enumerate() {
                    @if i > 0 { (joiner) }
                    (describe(part))
                }
            };
        }
    }
    let types: Vec<String> = match &schema["type"] {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many.iter().map(text).collect(),
        _ => Vec::new(),
    };
    let nullable = types.iter().any(|t| t == "null");
    let main: Vec<&String> = types.iter().filter(|t| *t != "null").collect();
    html! {
        @if main.iter().any(|t| *t == "array") {
            "array of " (describe(&schema["items"]))
        } @else if main.is_empty() {
            "any"
        } @else {
            @for (i, kind) in main.iter().enumerate() { @if i > 0 { " or " } (kind) }
        }
        @if let Some(format) = schema["format"].as_str() { " (" (format) ")" }
        @if let Some(values) = schema["enum"].as_array() {
            ": " @for (i, v) in values.iter().enumerate() {
                @if i > 0 { ", " } code { (v.as_str().map(str::to_string).unwrap_or(v.to_string())) }
            }
        }
        @if nullable { ", or null" }
    }
}
