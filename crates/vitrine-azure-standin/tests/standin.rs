//! The stand-in answers as Entra ID, Power BI and Azure Resource Manager document: field
//! names, status codes, headers, and state that changes over time.

use std::sync::Arc;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use vitrine_azure_standin::{Settings, World};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const POWER_BI: &str = "https://analysis.windows.net/powerbi/api/.default";
const ARM: &str = "https://management.azure.com/.default";
const SALES_REPORT: &str = "5b218778-e7a5-4d73-8187-f10824047715";
const REGIONAL_REPORT: &str = "6c329889-f8b6-4e84-9298-0a1935158826";
const REGIONAL_DATASET: &str = "4a6b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d";
const WORKSPACE: &str = "f089354e-8366-4e18-aea3-4cb4a3a50b48";
const EMBEDDED: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/analytics/providers/Microsoft.PowerBIDedicated/capacities/contosoembedded";
const FABRIC: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/analytics/providers/Microsoft.Fabric/capacities/contosofabric";

struct StandIn {
    base: String,
    client: Client,
}

impl StandIn {
    async fn start(settings: Settings) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(vitrine_azure_standin::serve(listener, Arc::new(World::demo(settings))));
        Self { base, client: Client::new() }
    }

    async fn token_response(&self, tenant: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}/{tenant}/oauth2/v2.0/token", self.base))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn token(&self, scope: &str) -> String {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("client_secret", "secret"),
            ("scope", scope),
        ];
        let answer = self.token_response(TENANT, &form).await;
        assert_eq!(answer.status(), StatusCode::OK);
        answer.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string()
    }

    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn control(&self, path: &str, body: Value) {
        let answer = self
            .client
            .post(format!("{}/__standin/{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    }
}

async fn error_of(answer: reqwest::Response) -> Value {
    answer.json::<Value>().await.unwrap()
}

#[tokio::test]
async fn the_token_endpoint_grants_client_credentials_and_refuses_as_entra_does() {
    let standin =
        StandIn::start(Settings { client_secret: Some("right".into()), ..Default::default() })
            .await;
    let form = |secret: &'static str, scope: &'static str, grant: &'static str| {
        [("grant_type", grant), ("client_id", "app"), ("client_secret", secret), ("scope", scope)]
    };
    let granted =
        standin.token_response(TENANT, &form("right", POWER_BI, "client_credentials")).await;
    assert_eq!(granted.status(), StatusCode::OK);
    let body: Value = granted.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() > 40));

    let wrong =
        standin.token_response(TENANT, &form("wrong", POWER_BI, "client_credentials")).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let body = error_of(wrong).await;
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"], json!([7000215]));
    assert!(body["error_description"].as_str().unwrap().starts_with("AADSTS7000215: "));
    for key in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[key].is_string(), "{key}");
    }

    let scope = standin
        .token_response(TENANT, &form("right", "https://example.com/x", "client_credentials"))
        .await;
    assert_eq!(scope.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_of(scope).await["error"], "invalid_scope");
    let grant = standin.token_response(TENANT, &form("right", POWER_BI, "password")).await;
    assert_eq!(grant.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_of(grant).await["error"], "unsupported_grant_type");
    let tenant =
        standin.token_response("nobody", &form("right", POWER_BI, "client_credentials")).await;
    assert_eq!(tenant.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_of(tenant).await["error_codes"], json!([90002]));
}

#[tokio::test]
async fn workspaces_and_reports_are_listed_with_power_bis_fields_for_a_power_bi_token_only() {
    let standin = StandIn::start(Settings::default()).await;
    let none = standin.get("/v1.0/myorg/groups", None).await;
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert!(none.headers().contains_key("www-authenticate"));
    let arm = standin.token(ARM).await;
    assert_eq!(
        standin.get("/v1.0/myorg/groups", Some(&arm)).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let token = standin.token(POWER_BI).await;
    let groups: Value = standin.get("/v1.0/myorg/groups", Some(&token)).await.json().await.unwrap();
    assert!(groups["@odata.context"].as_str().unwrap().ends_with("$metadata#groups"));
    let workspace = &groups["value"][0];
    assert_eq!(workspace["id"], WORKSPACE);
    assert_eq!(workspace["isOnDedicatedCapacity"], true);
    assert!(workspace["capacityId"].is_string() && workspace["name"].is_string());

    let path = format!("/v1.0/myorg/groups/{WORKSPACE}/reports");
    let reports: Value = standin.get(&path, Some(&token)).await.json().await.unwrap();
    let reports = reports["value"].as_array().unwrap();
    assert_eq!(reports.len(), 2);
    for report in reports {
        assert_eq!(report["reportType"], "PowerBIReport");
        let embed = report["embedUrl"].as_str().unwrap();
        assert!(embed.starts_with("https://app.powerbi.com/reportEmbed?reportId="), "{embed}");
        assert!(report["datasetId"].is_string() && report["webUrl"].is_string());
    }
    let one = standin.get(&format!("{path}/{SALES_REPORT}"), Some(&token)).await;
    assert_eq!(one.json::<Value>().await.unwrap()["name"], "Sales Overview");
    let datasets = format!("/v1.0/myorg/groups/{WORKSPACE}/datasets");
    let regional = standin.get(&format!("{datasets}/{REGIONAL_DATASET}"), Some(&token)).await;
    let regional: Value = regional.json().await.unwrap();
    assert_eq!(regional["isEffectiveIdentityRequired"], true);
    assert_eq!(regional["isEffectiveIdentityRolesRequired"], true);
    let sales_dataset = reports[0]["datasetId"].as_str().unwrap();
    let sales = standin.get(&format!("{datasets}/{sales_dataset}"), Some(&token)).await;
    assert_eq!(sales.json::<Value>().await.unwrap()["isEffectiveIdentityRequired"], false);
    let unknown = standin
        .get("/v1.0/myorg/groups/00000000-0000-0000-0000-00000000beef/reports", Some(&token))
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_of(unknown).await["error"]["code"], "PowerBIEntityNotFound");
}

#[tokio::test]
async fn generate_token_shortens_never_extends_and_wants_an_identity_exactly_for_rls_datasets() {
    let standin = StandIn::start(Settings::default()).await;
    let token = standin.token(POWER_BI).await;
    let generate = |body: Value| standin.post("/v1.0/myorg/GenerateToken", &token, body);
    let expiration = |body: &Value| {
        chrono::DateTime::parse_from_rfc3339(body["expiration"].as_str().unwrap()).unwrap().to_utc()
    };
    let now = chrono::Utc::now();

    let plain: Value =
        generate(json!({ "reports": [{ "id": SALES_REPORT }] })).await.json().await.unwrap();
    assert!(plain["token"].is_string() && plain["tokenId"].is_string());
    let full = expiration(&plain) - now;
    assert!(
        full > chrono::Duration::minutes(59) && full <= chrono::Duration::minutes(60),
        "{full}"
    );
    let short: Value =
        generate(json!({ "reports": [{ "id": SALES_REPORT }], "lifetimeInMinutes": 10 }))
            .await
            .json()
            .await
            .unwrap();
    let lived = expiration(&short) - now;
    assert!(
        lived > chrono::Duration::minutes(9) && lived <= chrono::Duration::minutes(10),
        "{lived}"
    );
    let long: Value =
        generate(json!({ "reports": [{ "id": SALES_REPORT }], "lifetimeInMinutes": 600 }))
            .await
            .json()
            .await
            .unwrap();
    assert!(
        expiration(&long) <= expiration(&plain) + chrono::Duration::seconds(1),
        "never extended"
    );

    let missing = generate(json!({ "reports": [{ "id": REGIONAL_REPORT }] })).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let message = error_of(missing).await["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("requires effective identity"), "{message}");
    let identity = json!([{ "username": "ada@example.com", "roles": ["North"], "datasets": [REGIONAL_DATASET] }]);
    let regional =
        generate(json!({ "reports": [{ "id": REGIONAL_REPORT }], "identities": identity })).await;
    assert_eq!(regional.status(), StatusCode::OK);
    let wrong = generate(json!({ "reports": [{ "id": SALES_REPORT }, { "id": REGIONAL_REPORT }],
        "identities": [{ "username": "ada", "roles": [], "datasets": [REGIONAL_DATASET, "cfafbeb1-8037-4d0c-896e-a46fb27ff229"] }] }))
    .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let message = error_of(wrong).await["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("shouldn't have effective identity"), "{message}");

    let v1 = standin
        .post(
            &format!("/v1.0/myorg/groups/{WORKSPACE}/reports/{SALES_REPORT}/GenerateToken"),
            &token,
            json!({ "accessLevel": "View" }),
        )
        .await;
    assert_eq!(v1.status(), StatusCode::OK);
    let recorded: Value = standin.get("/__standin/embed-tokens", None).await.json().await.unwrap();
    assert_eq!(recorded.as_array().unwrap().len(), 5);
    assert_eq!(recorded[3]["identities"][0]["username"], "ada@example.com");
}

#[tokio::test]
async fn an_access_token_past_its_hour_is_refused_with_token_expired() {
    let standin = StandIn::start(Settings::default()).await;
    let token = standin.token(POWER_BI).await;
    standin.control("clock", json!({ "seconds": 3600 })).await;
    let late = standin.get("/v1.0/myorg/groups", Some(&token)).await;
    assert_eq!(late.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_of(late).await["error"]["code"], "TokenExpired");
}

#[tokio::test]
async fn suspend_and_resume_answer_202_with_location_and_retry_after_and_the_state_follows_in_time()
{
    let standin = StandIn::start(Settings {
        transition: chrono::Duration::seconds(60),
        ..Default::default()
    })
    .await;
    let token = standin.token(ARM).await;
    let state = |path: &'static str| {
        let (standin, token) = (&standin, token.clone());
        async move {
            let answer = standin.get(&format!("{path}?api-version=2021-01-01"), Some(&token)).await;
            assert_eq!(answer.status(), StatusCode::OK);
            answer.json::<Value>().await.unwrap()["properties"]["state"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(state(EMBEDDED).await, "Succeeded");
    assert_eq!(state(FABRIC).await, "Active");

    let suspended = standin
        .post(&format!("{EMBEDDED}/suspend?api-version=2021-01-01"), &token, json!({}))
        .await;
    assert_eq!(suspended.status(), StatusCode::ACCEPTED);
    assert_eq!(suspended.headers()["retry-after"], "2");
    let location = suspended.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("/operationresults/"), "{location}");
    let operation =
        location.split_once("/subscriptions/").map(|(_, p)| format!("/subscriptions/{p}")).unwrap();
    assert_eq!(state(EMBEDDED).await, "Pausing");
    assert_eq!(standin.get(&operation, Some(&token)).await.status(), StatusCode::ACCEPTED);

    standin.control("clock", json!({ "seconds": 61 })).await;
    assert_eq!(state(EMBEDDED).await, "Paused");
    assert_eq!(standin.get(&operation, Some(&token)).await.status(), StatusCode::OK);
    let resumed =
        standin.post(&format!("{EMBEDDED}/resume?api-version=2021-01-01"), &token, json!({})).await;
    assert_eq!(resumed.status(), StatusCode::ACCEPTED);
    assert_eq!(state(EMBEDDED).await, "Resuming");
    standin.control("clock", json!({ "seconds": 61 })).await;
    assert_eq!(state(EMBEDDED).await, "Succeeded");

    let no_version = standin.get(FABRIC, Some(&token)).await;
    assert_eq!(no_version.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_of(no_version).await["error"]["code"], "MissingApiVersionParameter");
    let power_bi = standin.token(POWER_BI).await;
    let wrong_audience =
        standin.get(&format!("{FABRIC}?api-version=2023-11-01"), Some(&power_bi)).await;
    assert_eq!(wrong_audience.status(), StatusCode::UNAUTHORIZED);
    let missing = standin
        .get("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/analytics/providers/Microsoft.Fabric/capacities/nothere?api-version=2023-11-01", Some(&token))
        .await;
    assert_eq!(error_of(missing).await["error"]["code"], "ResourceNotFound");
}

#[tokio::test]
async fn asked_for_faults_answer_429_with_retry_after_or_403_then_calls_go_through_and_all_are_recorded()
 {
    let standin = StandIn::start(Settings::default()).await;
    let token = standin.token(ARM).await;
    standin.control("faults", json!({ "status": 429, "retryAfter": 7, "times": 2 })).await;
    standin.control("faults", json!({ "status": 403 })).await;
    let path = format!("{FABRIC}?api-version=2023-11-01");
    for _ in 0..2 {
        let throttled = standin.get(&path, Some(&token)).await;
        assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(throttled.headers()["retry-after"], "7");
        assert_eq!(error_of(throttled).await["error"]["code"], "TooManyRequests");
    }
    let forbidden = standin.get(&path, Some(&token)).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_of(forbidden).await["error"]["code"], "AuthorizationFailed");
    assert_eq!(standin.get(&path, Some(&token)).await.status(), StatusCode::OK);

    let paused = standin
        .client
        .put(format!("{}/__standin/capacities/contosofabric/state", standin.base))
        .json(&json!({ "state": "Paused" }))
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), StatusCode::NO_CONTENT);
    let read: Value = standin.get(&path, Some(&token)).await.json().await.unwrap();
    assert_eq!(read["properties"]["state"], "Paused", "paused in the portal, read as paused");

    let calls: Value = standin.get("/__standin/calls", None).await.json().await.unwrap();
    let statuses: Vec<u64> =
        calls.as_array().unwrap().iter().map(|c| c["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [429, 429, 403, 200, 200]);
}
