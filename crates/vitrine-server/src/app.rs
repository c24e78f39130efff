//! The application: shared state, the router (a table of contents of everything served) and
//! the launch function that tests and the binary both use.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use vitrine_core::Clock;
use vitrine_engine::Engine;
use vitrine_store::Store;

use crate::auth::links::LinkKeys;
use crate::auth::password::PasswordHasher;
use crate::capacity::{AzureProvider, CapacityController, LocalProvider};
use crate::config::ServerConfig;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::services::installation::SetupGate;
use crate::tokens::master_key::{MasterKey, MasterKeyError};
use crate::tokens::{TokenService, TokenSetupError};
use crate::{api, metrics, portal};

/// Request bodies larger than this are refused before they are read.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The running server's services, shared by every request through one `Arc`: a request (and
/// each middleware) clones one pointer, not one per service.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

pub struct Services {
    pub store: Arc<dyn Store>,
    pub passwords: PasswordHasher,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<ServerConfig>,
    pub metrics: Arc<Metrics>,
    pub tokens: Arc<TokenService>,
    /// The built-in report engine, its open datasets and its result cache.
    pub engine: Arc<Engine>,
    /// The report every visual query reads, its definition parsed, kept for a second.
    pub reads: crate::reads::QueryReads,
    /// Entra ID access tokens for organizations' Power BI tenants.
    pub powerbi: crate::services::powerbi::AccessTokens,
    /// OpenID providers' discovery documents and keys, for single sign-on.
    pub sso: crate::auth::oidc::Providers,
    /// Where dataset files live.
    pub files: Arc<crate::files::DatasetFiles>,
    /// Serializes opening datasets, so that an open and a capacity's pause never cross.
    pub dataset_loading: Arc<tokio::sync::Mutex<()>>,
    /// The pools of the organizations' connections, and the imports under way.
    pub sources: crate::services::sources::SourcePools,
    /// Seals what is kept secret at rest besides the signing keys (connection passwords).
    pub secrets: MasterKey,
    /// Starts and stops capacities; its scheduler is started by the binary.
    pub capacities: Arc<CapacityController>,
    /// Sends invitations and password resets, when SMTP is configured.
    pub mailer: Mailer,
    /// Seals and checks the links in those emails.
    pub links: LinkKeys,
    /// The one-time code of first-run set-up.
    pub setup: Arc<SetupGate>,
    /// Sign-in allowances per client address, the lockout and unknown emails' locks.
    pub guards: Arc<crate::auth::throttle::Guards>,
    /// The bound on open live channels (`/api/v1/embed/live`).
    pub live: crate::api::live::LiveChannels,
    /// What open reports are told besides revocations (capacity, definition, settings).
    pub notices: Arc<crate::notices::Notices>,
    /// What this node changed, for the other nodes, and what they changed, for this one.
    pub feed: Arc<crate::cluster::ChangeFeed>,
    /// Whether this node runs the once-per-installation jobs now.
    pub leadership: Arc<crate::cluster::Leadership>,
    /// Host apps' users recorded lately (a mint writes each at most once a minute).
    pub identities: crate::services::embed_tokens::RecentIdentities,
    /// Screens waiting to be paired (this node's memory only).
    pub pairings: crate::pairing::Pairings,
    /// Calls out (the displays' alert webhook), with a timeout.
    pub http: reqwest::Client,
    /// The hand-moved clock of browser tests (see the `test-clock` feature).
    #[cfg(feature = "test-clock")]
    pub test_clock: std::sync::OnceLock<Arc<vitrine_core::ManualClock>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error(transparent)]
    Tokens(#[from] TokenSetupError),
    #[error("smtp: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("database: {0}")]
    Store(#[from] vitrine_store::StoreError),
    #[error(transparent)]
    Files(#[from] crate::files::FilesError),
}

impl From<Arc<Services>> for AppState {
    fn from(services: Arc<Services>) -> Self {
        Self(services)
    }
}

impl AppState {
    /// Wires the services: loads the master key, the signing keys and the revocations.
    pub async fn start(
        config: ServerConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        // Opened before anything it keeps up to date is loaded (see `ChangeFeed::open`).
        let node = crate::cluster::node_name();
        let feed = crate::cluster::ChangeFeed::open(Arc::clone(&store), node.clone()).await?;
        let engine = Arc::new(engine_within(&config.limits));
        let metrics = Arc::new(Metrics::with_engine(Arc::clone(&engine)));
        let master = MasterKey::open(
            config.master_key.as_ref().map(|k| k.expose()),
            &config.data_dir,
            &*store,
        )
        .await?;
        let links = LinkKeys::new(master.derive("account links v1"));
        let secrets = master.clone();
        let mailer = Mailer::start(config.smtp.as_ref())?;
        let tokens = TokenService::start(
            Arc::clone(&store),
            Arc::clone(&clock),
            Arc::clone(&metrics),
            master,
            config.public_url.clone(),
            Arc::clone(&feed),
        )
        .await?;
        let files = Arc::new(crate::files::DatasetFiles::open(
            &config.data_dir,
            config.dataset_storage.as_deref(),
        )?);
        files.register_with(&engine);
        let dataset_loading = Arc::new(tokio::sync::Mutex::new(()));
        let local = Arc::new(LocalProvider::new(
            Arc::clone(&store),
            Arc::clone(&engine),
            Arc::clone(&files),
            Arc::clone(&dataset_loading),
        ));
        let notices = Arc::new(crate::notices::Notices::with_feed(Arc::clone(&feed)));
        let capacities = Arc::new(
            CapacityController::new(Arc::clone(&store), Arc::clone(&clock), local)
                .with_metrics(Arc::clone(&metrics))
                .with_notices(Arc::clone(&notices)),
        );
        let guards = Arc::new(crate::auth::throttle::Guards::new(&config.limits));
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        // Azure capacities are switched with the services themselves (the organization's
        // principal, its tokens, the clouds' addresses): the provider holds them weakly.
        Ok(Self(Arc::new_cyclic(|services| {
            capacities.set_azure(Arc::new(AzureProvider::new(services.clone())));
            Services {
                store,
                passwords: PasswordHasher::start(workers, 256),
                clock,
                config: Arc::new(config),
                metrics,
                tokens: Arc::new(tokens),
                engine: Arc::clone(&engine),
                reads: Default::default(),
                files,
                powerbi: Default::default(),
                sso: Default::default(),
                dataset_loading,
                sources: Default::default(),
                secrets,
                capacities,
                mailer,
                links,
                setup: Arc::new(SetupGate::default()),
                guards,
                live: Default::default(),
                notices,
                feed,
                leadership: Arc::new(crate::cluster::Leadership::new(node)),
                identities: Default::default(),
                pairings: Default::default(),
                http,
                #[cfg(feature = "test-clock")]
                test_clock: std::sync::OnceLock::new(),
            }
        })))
    }

    /// Hands the test clock to `/__test__/clock`, once.
    #[cfg(feature = "test-clock")]
    pub fn set_test_clock(&self, clock: Option<Arc<vitrine_core::ManualClock>>) -> bool {
        clock.is_none_or(|clock| self.test_clock.set(clock).is_ok())
    }
}

/// The engine within the memory budget: the result cache and the column cache (at most half
/// the budget) take their shares, queries' working memory the rest.
fn engine_within(limits: &crate::config::Limits) -> Engine {
    let cache_bytes = limits.result_cache_megabytes.saturating_mul(1024 * 1024);
    let column_bytes =
        limits.column_cache_megabytes.saturating_mul(1024 * 1024).min(limits.memory_bytes / 2);
    let query_bytes = limits
        .memory_bytes
        .saturating_sub(cache_bytes)
        .saturating_sub(column_bytes)
        .max(64 * 1024 * 1024);
    let engine = Engine::with_query_memory(usize::try_from(query_bytes).ok())
        .with_column_cache(usize::try_from(column_bytes).unwrap_or(usize::MAX));
    if limits.result_cache_seconds == 0 || cache_bytes == 0 {
        return engine;
    }
    engine
        .with_result_cache(std::time::Duration::from_secs(limits.result_cache_seconds), cache_bytes)
}

pub fn router(state: AppState) -> Router {
    let routes = Router::new();
    #[cfg(feature = "test-clock")]
    let routes = routes.route("/__test__/clock", axum::routing::post(advance_test_clock));
    routes
        .merge(portal::router())
        .nest("/api/v1", api::router())
        .nest("/scim/v2", crate::scim::router())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/.well-known/jwks.json", get(jwks))
        .layer(catch_panics())
        .layer(axum::middleware::from_fn_with_state(state.clone(), request_deadline))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track_requests))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::refuse_cross_site))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::throttle::resolve_client,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(axum::middleware::map_response(frame_policy))
        .with_state(state)
}

/// A handler that panics (a bug: in a query plan, a library) answers 500 with the usual
/// error body instead of closing the connection without an answer; what the panic said goes
/// to the log, never to the client.
fn catch_panics() -> tower_http::catch_panic::CatchPanicLayer<
    fn(Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response,
> {
    fn answer(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
        let said = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        tracing::error!(panic = said, "a request's handler panicked");
        crate::error::ApiError::internal().into_response()
    }
    tower_http::catch_panic::CatchPanicLayer::custom(answer as fn(_) -> _)
}

/// Every answer gets the default content security policy and `X-Frame-Options: DENY`, unless
/// its handler chose its own policy: the embed page names the origins that may frame it, and
/// `X-Frame-Options` (which cannot name them) would contradict that.
async fn frame_policy(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(crate::portal::embed::DEFAULT_CSP),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, axum::Json(serde_json::json!({ "status": "ok" }))),
        Err(error) => {
            tracing::error!(%error, "health check: store unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({ "status": "unavailable" })),
            )
        }
    }
}

/// Moves the test clock forward: `{"advanceSeconds": n}`, then runs one capacity scheduler pass,
/// as the timer would soon after a real clock got there. Exists only in `test-clock` builds,
/// and answers 404 unless the server was started with a test clock.
#[cfg(feature = "test-clock")]
async fn advance_test_clock(
    State(state): State<AppState>,
    body: axum::Json<serde_json::Value>,
) -> impl IntoResponse {
    let Some(clock) = state.test_clock.get() else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({ "error": "no test clock" })),
        );
    };
    let seconds = body.get("advanceSeconds").and_then(serde_json::Value::as_i64).unwrap_or(0);
    clock.advance(chrono::Duration::seconds(seconds));
    if let Err(error) = state.capacities.tick().await {
        tracing::warn!(%error, "capacity scheduler pass after moving the test clock");
    }
    (StatusCode::OK, axum::Json(serde_json::json!({ "now": crate::api::json::time(clock.now()) })))
}

/// The public keys embed tokens can be verified with.
async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=60")],
        axum::Json(state.tokens.keys.current().jwks.clone()),
    )
}

/// `/metrics` on the main listener: only with `Authorization: Bearer <limits.metrics_token>`.
/// Without a token configured it is not served here (see `limits.metrics_listen`).
async fn metrics_text(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    let Some(expected) = &state.config.limits.metrics_token else {
        return crate::error::ApiError::new(
            crate::error::ErrorCode::NotFound,
            "Metrics are served with limits.metrics_token (as a bearer token) or on limits.metrics_listen.",
        )
        .into_response();
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        presented.as_bytes(),
        expected.expose().as_bytes(),
    )) {
        return crate::error::ApiError::new(
            crate::error::ErrorCode::Unauthenticated,
            "Send the metrics token as Authorization: Bearer.",
        )
        .into_response();
    }
    metrics_answer(&state.metrics).into_response()
}

fn metrics_answer(metrics: &Metrics) -> impl IntoResponse + use<> {
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        metrics.render(),
    )
}

/// The router of `limits.metrics_listen`: `/metrics` without a token, nothing else.
pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let metrics = Arc::clone(&metrics);
            async move { metrics_answer(&metrics) }
        }),
    )
}

/// Serves until `shutdown` completes, then lets in-flight requests finish (for at most
/// `limits.shutdown_grace_seconds`) and closes the store, so that no acknowledged write is lost.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let store = Arc::clone(&state.store);
    let tokens = Arc::clone(&state.tokens);
    let limits = state.config.limits.clone();
    serve_router(listener, router(state), &limits, shutdown).await;
    tokens.audit.flush().await;
    store.close().await;
    Ok(())
}

/// The HTTP/1.1 server loop: at most `max_connections` connections at once (more wait in the
/// listen backlog), each closed when its request headers take longer than the header-read
/// timeout (idle keep-alive connections included), and a shutdown that waits a bounded time.
pub async fn serve_router(
    listener: TcpListener,
    app: Router,
    limits: &crate::config::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(std::time::Duration::from_secs(limits.header_read_timeout_seconds))
        .max_headers(100);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, usually: wait instead of spinning.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        notice_vanished_peers(&stream);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: axum::http::Request<_>| {
            request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            app.clone().oneshot(request.map(axum::body::Body::new))
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    let grace = std::time::Duration::from_secs(limits.shutdown_grace_seconds);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(
            seconds = grace.as_secs(),
            "shutdown grace over: closing the connections left"
        );
    }
}

/// A peer that vanished without closing its connection (a screen's power cut, a network gone)
/// is noticed within about a minute instead of the kernel's quarter of an hour of
/// retransmissions: its open live channels end, and the capacities they kept on count it gone.
/// Idle connections are probed (keep-alive), and unacknowledged data — the live channel's
/// comment every 20 seconds — ends the connection after a minute.
fn notice_vanished_peers(stream: &tokio::net::TcpStream) {
    let socket = socket2::SockRef::from(stream);
    let probes = socket2::TcpKeepalive::new()
        .with_time(std::time::Duration::from_secs(30))
        .with_interval(std::time::Duration::from_secs(10));
    if let Err(error) = socket.set_tcp_keepalive(&probes) {
        tracing::debug!(%error, "could not set TCP keep-alive");
    }
    #[cfg(target_os = "linux")]
    if let Err(error) = socket.set_tcp_user_timeout(Some(std::time::Duration::from_secs(60))) {
        tracing::debug!(%error, "could not set the TCP user timeout");
    }
}

/// Middleware: a request that takes longer than `limits.request_timeout_seconds` is stopped
/// with 408. Uploads (multipart) are bounded by their transfer rate instead, and the live
/// channel is meant to stay open.
pub async fn request_deadline(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let upload = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"));
    let streaming = request.uri().path() == "/api/v1/embed/live";
    if upload || streaming {
        return next.run(request).await;
    }
    let seconds = state.config.limits.request_timeout_seconds;
    match tokio::time::timeout(std::time::Duration::from_secs(seconds), next.run(request)).await {
        Ok(response) => response,
        Err(_) => crate::error::ApiError::new(
            crate::error::ErrorCode::RequestTimeout,
            format!("The request took longer than {seconds} seconds and was stopped."),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_handler_that_panics_answers_500_with_the_error_body_and_not_what_it_said() {
        use tower::ServiceExt;
        let routes = axum::Router::new()
            .route(
                "/boom",
                axum::routing::get(|| async {
                    if std::hint::black_box(true) {
                        panic!("secret detail of the failure");
                    }
                    "unreachable"
                }),
            )
            .layer(super::catch_panics());
        let request = axum::http::Request::get("/boom").body(axum::body::Body::empty()).unwrap();
        let response = routes.oneshot(request).await.unwrap();
        assert_eq!(response.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "Internal", "{body}");
        assert!(!body.to_string().contains("secret detail"), "{body}");
    }

    #[tokio::test]
    async fn accepted_connections_are_probed_and_dropped_a_minute_after_their_peer_vanished() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(address).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        let socket = socket2::SockRef::from(&accepted);
        assert!(!socket.keepalive().unwrap(), "the kernel's default: no probes");
        super::notice_vanished_peers(&accepted);
        assert!(socket.keepalive().unwrap());
        assert_eq!(socket.tcp_keepalive_time().unwrap(), std::time::Duration::from_secs(30));
        #[cfg(target_os = "linux")]
        assert_eq!(socket.tcp_user_timeout().unwrap(), Some(std::time::Duration::from_secs(60)));
    }
}
