//! The OpenAPI 3.1 document of the JSON API, generated from the handlers' `#[utoipa::path]`
//! attributes and the typed shapes in [`super::json`] and [`super::requests`]. The router in
//! [`super::router`] registers each handler together with its description, so an endpoint
//! cannot exist undocumented. What every operation shares — how callers authenticate, the
//! error answers — is added here once.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    Content, HttpMethod, OpenApi, Ref, RefOr, Response, ResponseBuilder, SecurityRequirement,
};

/// The document's fixed parts; the paths come from the router.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Vitrine API",
        description = "The JSON API of a Vitrine installation. The guide, with the rules behind \
            each answer, is docs/api.md; this document is generated from the server's code.",
        license(name = "See the installation's licence"),
    ),
    servers((url = "/api/v1")),
    components(schemas(crate::error::ErrorBody, super::permissions::PermissionName)),
    tags(
        (name = "Account", description = "Sign-in, the caller's own account and sessions, emailed links"),
        (name = "Installation", description = "First run, and the operators' management of organizations"),
        (name = "Reports", description = "Reports, their definitions and who may open them"),
        (name = "Embed", description = "Embed tokens and what they open (Authorization: Bearer)"),
        (name = "Datasets", description = "The data reports read: files, and tables or queries of connections"),
        (name = "Connections", description = "The organization's databases that datasets read"),
        (name = "Power BI", description = "The organization's Power BI tenant and its reports"),
        (name = "Capacities", description = "Compute that pauses when nobody looks"),
        (name = "Users", description = "Users of the organization"),
        (name = "Groups", description = "Groups, their members and row-level security"),
        (name = "Permissions", description = "Named permissions such as capacity.turnOn"),
        (name = "Settings", description = "The organization's settings"),
        (name = "Single sign-on", description = "The organization's OpenID Connect provider"),
        (name = "Audit", description = "The audit of changes and of tokens"),
        (name = "API keys", description = "Keys for scripts and back ends"),
        (name = "Displays", description = "Screens paired by a code, and what they show"),
        (name = "Display screen", description = "What a paired screen asks, with its display credential (Authorization: Bearer)"),
    ),
)]
pub struct ApiDoc;

pub const SESSION: &str = "session";
pub const CSRF: &str = "csrf";
pub const API_KEY: &str = "apiKey";
pub const EMBED_TOKEN: &str = "embedToken";
pub const DISPLAY: &str = "display";

/// Operations anyone may call: they authenticate by what they carry (a password, a link's
/// token, the set-up code), or read nothing private.
const PUBLIC: [&str; 7] = [
    "/auth/login",
    "/auth/password-reset",
    "/auth/password-reset/complete",
    "/auth/invitation/accept",
    "/setup",
    "/display/pairings",
    "/display/pairings/claim",
];

/// Adds what every operation shares to the document the router collected.
pub fn complete(mut doc: OpenApi) -> OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        SESSION,
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            crate::auth::SESSION_COOKIE,
            "The session cookie set by POST /auth/login.",
        ))),
    );
    components.add_security_scheme(
        CSRF,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-CSRF-Token",
            "The csrfToken answered at sign-in; required with the session cookie on POST, \
             PUT, PATCH and DELETE.",
        ))),
    );
    components.add_security_scheme(
        API_KEY,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-API-Key",
            "An organization API key (vtr_…). Scope admin acts as an administrator; read \
             may only read; embed may only mint embed tokens (403 Forbidden otherwise).",
        ))),
    );
    components.add_security_scheme(
        EMBED_TOKEN,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("An embed token from POST /reports/{id}/token; never in a URL."))
                .build(),
        ),
    );
    components.add_security_scheme(
        DISPLAY,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "A paired screen's display credential, kept in its browser's storage; never in a URL.",
                ))
                .build(),
        ),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, operation) in operations(item) {
            let unsafe_method = !matches!(method, HttpMethod::Get | HttpMethod::Head);
            if operation.security.is_none() {
                operation.security = Some(if PUBLIC.contains(&path.as_str()) {
                    Vec::new()
                } else if path.starts_with("/embed/") {
                    vec![SecurityRequirement::new(EMBED_TOKEN, Vec::<String>::new())]
                } else if path.starts_with("/display/") {
                    vec![SecurityRequirement::new(DISPLAY, Vec::<String>::new())]
                } else {
                    let session = if unsafe_method {
                        SecurityRequirement::new(SESSION, Vec::<String>::new())
                            .add(CSRF, Vec::<String>::new())
                    } else {
                        SecurityRequirement::new(SESSION, Vec::<String>::new())
                    };
                    vec![session, SecurityRequirement::new(API_KEY, Vec::<String>::new())]
                });
            }
            add_errors(operation);
        }
    }
    doc
}

fn operations(item: &mut PathItem) -> Vec<(HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Put, item.put.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
        (HttpMethod::Delete, item.delete.as_mut()),
        (HttpMethod::Patch, item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|op| (method, op)))
    .collect()
}

fn error_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))))
        .into()
}

/// Every operation may answer an error of the common kinds; an operation's own attribute names
/// the errors particular to it (a conflict, a lock, a gone link).
fn add_errors(operation: &mut Operation) {
    let common = [
        ("4XX", "Refused; `error.code` says why (docs/api.md › Errors). Nothing was changed."),
        ("500", "A server fault; the details are in the server's log."),
        ("503", "Unavailable for a moment (a paused capacity, a change of access); ask again."),
    ];
    for (status, description) in common {
        if !operation.responses.responses.contains_key(status) {
            operation.responses.responses.insert(status.to_string(), error_response(description));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::requests;
    use utoipa::PartialSchema;
    use utoipa::openapi::schema::Schema;

    fn properties<T: PartialSchema>() -> Vec<String> {
        match T::schema() {
            RefOr::T(Schema::Object(object)) => object.properties.keys().cloned().collect(),
            _ => panic!("not an object schema"),
        }
    }

    fn sorted(fields: &[&str]) -> Vec<String> {
        let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        fields.sort();
        fields
    }

    fn assert_same(mut documented: Vec<String>, accepted: &[&str], what: &str) {
        documented.sort();
        assert_eq!(documented, sorted(accepted), "{what}: the document and the code differ");
    }

    #[test]
    fn documented_request_fields_are_the_fields_the_services_accept() {
        use crate::services::{accounts, capacities, displays, installation, users};
        assert_same(properties::<requests::UserNew>(), &users::FIELDS, "UserNew");
        assert_same(properties::<requests::UserChange>(), &users::FIELDS, "UserChange");
        assert_same(properties::<requests::MeChange>(), &accounts::ME_FIELDS, "MeChange");
        assert_same(properties::<requests::DisplayPair>(), &displays::PAIR_FIELDS, "DisplayPair");
        assert_same(
            properties::<requests::DisplayChange>(),
            &displays::CHANGE_FIELDS,
            "DisplayChange",
        );
        assert_same(
            properties::<requests::OrganizationNew>(),
            &installation::CREATE_FIELDS,
            "OrganizationNew",
        );
        assert_same(
            properties::<requests::OrganizationChange>(),
            &installation::UPDATE_FIELDS,
            "OrganizationChange",
        );
        let mut capacity = capacities::FIELDS.to_vec();
        capacity.extend(capacities::CREATE_ONLY);
        assert_same(properties::<requests::CapacitySettings>(), &capacity, "CapacitySettings");
        assert_same(
            properties::<requests::SettingsChange>(),
            &vitrine_core::OrgSettings::FIELDS,
            "SettingsChange",
        );
        assert_same(properties::<requests::Login>(), &accounts::LOGIN_FIELDS, "Login");
        assert_same(properties::<requests::ResetRequest>(), &accounts::RESET_FIELDS, "Reset");
        assert_same(properties::<requests::LinkRedemption>(), &accounts::LINK_FIELDS, "Link");
        assert_same(properties::<requests::Setup>(), &installation::SETUP_FIELDS, "Setup");
        assert_same(
            properties::<requests::ReportNew>(),
            &crate::services::reports::CREATE_FIELDS,
            "ReportNew",
        );
        assert_same(
            properties::<requests::ReportChange>(),
            &crate::services::reports::UPDATE_FIELDS,
            "ReportChange",
        );
        assert_same(
            properties::<requests::GroupNew>(),
            &crate::services::groups::FIELDS,
            "GroupNew",
        );
        assert_same(properties::<requests::RlsInput>(), &crate::services::rls::FIELDS, "Rls");
        assert_same(
            properties::<requests::ApiKeyNew>(),
            &crate::auth::api_key::FIELDS,
            "ApiKeyNew",
        );
        assert_same(
            properties::<requests::EmbedTokenRequest>(),
            &crate::services::embed_tokens::FIELDS,
            "EmbedTokenRequest",
        );
        assert_same(
            properties::<requests::EmbedIdentity>(),
            &crate::services::embed_tokens::IDENTITY_FIELDS,
            "EmbedIdentity",
        );
    }

    #[test]
    fn every_operation_says_how_it_is_authenticated_and_what_it_answers() {
        let doc = crate::api::openapi_document();
        let mut count = 0;
        for (path, item) in doc.paths.paths.iter() {
            let mut item = item.clone();
            for (_, operation) in operations(&mut item) {
                count += 1;
                let what = format!("{} {path}", operation.operation_id.clone().unwrap_or_default());
                assert!(operation.operation_id.is_some(), "{what} has no operation id");
                assert!(operation.security.is_some(), "{what} says nothing of authentication");
                assert!(operation.responses.responses.contains_key("4XX"), "{what}: no errors");
                assert!(
                    operation.responses.responses.keys().any(|status| status.starts_with('2')),
                    "{what} documents no success"
                );
            }
        }
        assert!(count >= 60, "only {count} operations are documented");
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(json["openapi"], "3.1.0");
    }
}
