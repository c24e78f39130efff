// The `vitrine` binary: serve, demo, migrate, healthcheck.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;
use vitrine_core::SystemClock;
use vitrine_server::cluster::{Change, ChangeFeed, node_name};
use vitrine_server::config::{ConfigLayer, LogFormat, ServerConfig};
use vitrine_server::tokens::key_ring::create_key;
use vitrine_server::tokens::master_key::MasterKey;
use vitrine_server::{AppState, demo};
use vitrine_store::Actor;

#[derive(Parser)]
#[command(name = "vitrine", version, about = "Vitrine: embedded analytics that stay on screen.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Run a ready demo: two organizations, groups, reports and an account for every role.
    Demo(DemoArgs),
    /// Apply database migrations and exit.
    Migrate(ServeArgs),
    /// First run without a browser: create the first organization and its administrator, the
    /// installation's first operator. The password is read from standard input or
    /// VITRINE_SETUP_ADMIN_PASSWORD. Running it again with the same values changes nothing;
    /// it refuses once the installation was set up otherwise.
    Setup(SetupArgs),
    /// Manage the installation's operators (they manage organizations).
    Operators {
        #[command(subcommand)]
        action: OperatorsAction,
    },
    /// Manage datasets from the command line.
    Datasets {
        #[command(subcommand)]
        action: DatasetsAction,
    },
    /// Manage the keys embed tokens are signed with.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Move the installation's database into another, empty one (SQLite to PostgreSQL, or
    /// back): keys, sessions and audit included. The data directory and master key stay.
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
    /// Write a consistent backup of the database and the dataset files into a new directory,
    /// while servers run. The master key is not in it: keep that apart.
    Backup {
        /// The directory to write (new, or empty).
        #[arg(long)]
        to: PathBuf,
        #[command(flatten)]
        server: ServeArgs,
    },
    /// Restore a backup into an empty database and the data directory.
    Restore {
        /// The backup's directory.
        #[arg(long)]
        from: PathBuf,
        #[command(flatten)]
        server: ServeArgs,
    },
    /// Exit 0 when the server at --url answers /healthz.
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
    },
}

#[derive(Subcommand)]
enum StoreAction {
    /// Copy everything from one database URL into another, which must be empty.
    Copy {
        /// sqlite://path or postgres://…
        #[arg(long)]
        from: String,
        /// sqlite://path or postgres://…; must hold no installation yet.
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand)]
enum DatasetsAction {
    /// Register a CSV or Parquet file where it lies; the server reads it from that path.
    Add {
        /// The organization, by name or id.
        #[arg(long)]
        org: String,
        /// The dataset's name in the Admin Portal.
        #[arg(long)]
        name: String,
        /// The .csv or .parquet file.
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        server: ServeArgs,
    },
}

#[derive(Args)]
struct SetupArgs {
    /// The first organization's name.
    #[arg(long)]
    org: String,
    /// The first administrator's email; they sign in with it.
    #[arg(long)]
    admin_email: String,
    /// The administrator's display name (default: the email's local part).
    #[arg(long)]
    admin_name: Option<String>,
    #[command(flatten)]
    server: ServeArgs,
}

#[derive(Subcommand)]
enum OperatorsAction {
    /// Give an existing account the operator role.
    Add {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        server: ServeArgs,
    },
    /// Take the operator role back (the last operator stays).
    Remove {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        server: ServeArgs,
    },
    /// List the operators.
    List(ServeArgs),
}

#[derive(Subcommand)]
enum KeysAction {
    /// Make a new signing key. Running servers sign with it within seconds; tokens signed by
    /// older keys keep working until they expire.
    Rotate(ServeArgs),
}

#[derive(Args, Clone, Default)]
struct ServeArgs {
    /// TOML configuration file (also VITRINE_CONFIG).
    #[arg(long, env = "VITRINE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 0.0.0.0:8080.
    #[arg(long)]
    listen: Option<String>,
    /// The URL users reach Vitrine at; https makes cookies Secure.
    #[arg(long)]
    public_url: Option<String>,
    /// Directory for the embedded database and keys.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Database URL; default sqlite://<data-dir>/vitrine.db.
    #[arg(long)]
    database: Option<String>,
}

#[derive(Args)]
struct DemoArgs {
    /// Password for every demo account; a random one is printed when omitted.
    #[arg(long)]
    password: Option<String>,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Keep data here between runs instead of a fresh temporary directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Rows of the generated sales dataset.
    #[arg(long, default_value_t = demo::DEMO_ROWS)]
    rows: usize,
    /// A TOML configuration file as for `serve` (its `[limits]`, say); the port and the data
    /// directory come from the flags above.
    #[arg(long)]
    config: Option<PathBuf>,
}

fn load_config(args: ServeArgs) -> anyhow::Result<ServerConfig> {
    let mut layer = ConfigLayer::default();
    if let Some(path) = &args.config {
        layer = layer.overlay(ConfigLayer::from_toml_file(path)?);
    }
    let (env_layer, unknown) = ConfigLayer::from_env(std::env::vars());
    for name in unknown {
        eprintln!("warning: ignoring unknown environment variable {name}");
    }
    let flags = ConfigLayer {
        listen: args.listen,
        public_url: args.public_url,
        data_dir: args.data_dir,
        dataset_storage: None,
        powerbi_api_url: None,
        entra_url: None,
        arm_url: None,
        powerbi_client: None,
        database: args.database,
        log_format: None,
        master_key: None,
        smtp: None,
        limits: None,
        displays: None,
    };
    Ok(ServerConfig::resolve(layer.overlay(env_layer).overlay(flags))?)
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("VITRINE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn open_store(config: &ServerConfig) -> anyhow::Result<Arc<dyn vitrine_store::Store>> {
    if config.database.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    }
    vitrine_server::database::open(&config.database).await.context("opening the database")
}

/// `limits.metrics_listen`: `/metrics` on an address of its own, for Prometheus.
async fn serve_metrics(state: &AppState) -> anyhow::Result<()> {
    let Some(address) = state.config.limits.metrics_listen else {
        return Ok(());
    };
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen for metrics on {address}"))?;
    tracing::info!(%address, "serving /metrics");
    let app = vitrine_server::app::metrics_router(std::sync::Arc::clone(&state.metrics));
    let limits = state.config.limits.clone();
    tokio::spawn(async move {
        vitrine_server::app::serve_router(listener, app, &limits, std::future::pending()).await;
    });
    Ok(())
}

async fn run_server(
    config: ServerConfig,
    state_ready: impl FnOnce(&AppState, std::net::SocketAddr),
) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    let mut config = config;
    if config.public_url.ends_with(":0") {
        // The default public URL names the listen address; with port 0 the real port is known
        // only now.
        config.public_url = format!("http://{address}");
    }
    let clock = server_clock();
    let state = AppState::start(config, store, clock.shared()).await?;
    #[cfg(feature = "test-clock")]
    {
        state.set_test_clock(clock.manual);
    }
    announce_setup(&state).await?;
    start_capacities_and_data(&state).await;
    serve_metrics(&state).await?;
    state_ready(&state, address);
    vitrine_server::serve(listener, state.clone(), shutdown_signal()).await?;
    // Another node takes the scheduler at once rather than when the lease expires.
    state.leadership.resign(&*state.store).await;
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(args)?;
    init_logging(config.log_format);
    run_server(config, |state, address| {
        tracing::info!(%address, public_url = %state.config.public_url, "Vitrine is listening");
    })
    .await
}

/// On an empty installation, makes the one-time set-up code and says where to use it.
async fn announce_setup(state: &AppState) -> anyhow::Result<()> {
    if let Some(code) = state.setup.arm(state).await? {
        tracing::warn!(
            setup_url = %format!("{}/setup", state.config.public_url),
            %code,
            "this installation is empty: open the set-up page and enter this one-time code \
             (or run `vitrine setup`)"
        );
    }
    Ok(())
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    init_logging(LogFormat::Text);
    let temp = match &args.data_dir {
        Some(_) => None,
        None => Some(tempfile::Builder::new().prefix("vitrine-demo-").tempdir()?),
    };
    let data_dir = args.data_dir.clone().or_else(|| temp.as_ref().map(|t| t.path().to_path_buf()));
    let file = match &args.config {
        Some(path) => ConfigLayer::from_toml_file(path)?,
        None => ConfigLayer::default(),
    };
    let config = ServerConfig::resolve(file.overlay(ConfigLayer {
        listen: Some(format!("127.0.0.1:{}", args.port)),
        data_dir,
        ..Default::default()
    }))?;
    let password = args.password.clone().unwrap_or_else(|| {
        vitrine_server::auth::random_secret()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(16)
            .collect()
    });
    if password.chars().count() < vitrine_core::validate::PASSWORD_MIN_CHARS {
        bail!(
            "--password must be at least {} characters",
            vitrine_core::validate::PASSWORD_MIN_CHARS
        );
    }
    let store = open_store(&config).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}; choose another --port", config.listen))?;
    let address = listener.local_addr()?;
    let config = ServerConfig { public_url: format!("http://{address}"), ..config };
    let data_dir = config.data_dir.clone();
    let clock = server_clock();
    let state = AppState::start(config, store, clock.shared()).await?;
    #[cfg(feature = "test-clock")]
    {
        state.set_test_clock(clock.manual);
    }
    let setup = demo::DemoSetup {
        passwords: &state.passwords,
        data_dir: &data_dir,
        password: &password,
        rows: args.rows,
    };
    demo::seed(&*state.store, &setup, &Actor::system(state.clock.now())).await?;
    start_capacities_and_data(&state).await;

    let mut out = std::io::stdout().lock();
    writeln!(out, "Vitrine demo is running at http://{address}/")?;
    let kept =
        if temp.is_some() { "a fresh directory, deleted on exit" } else { "kept between runs" };
    writeln!(out, "  Data: {} ({kept})", data_dir.display())?;
    writeln!(out, "  Accounts, all with the password {password}")?;
    for (email, role, org) in demo::ACCOUNTS {
        writeln!(out, "    {email:<26} {:<12} {org}", role.as_str())?;
    }
    writeln!(
        out,
        "  admin@example.com also operates the installation (Installation in the top bar)."
    )?;
    writeln!(out, "Press Ctrl+C to stop.")?;
    out.flush()?;
    drop(out);
    vitrine_server::serve(listener, state.clone(), shutdown_signal()).await?;
    state.leadership.resign(&*state.store).await;
    drop(temp);
    Ok(())
}

/// The server's clock: the system's, or in `test-clock` builds started with
/// `VITRINE_TEST_CLOCK=1`, one that browser tests move by hand.
#[derive(Clone)]
struct ServerClock {
    clock: Arc<dyn vitrine_core::Clock>,
    #[cfg(feature = "test-clock")]
    manual: Option<Arc<vitrine_core::ManualClock>>,
}

impl ServerClock {
    fn shared(&self) -> Arc<dyn vitrine_core::Clock> {
        Arc::clone(&self.clock)
    }
}

fn server_clock() -> ServerClock {
    #[cfg(feature = "test-clock")]
    {
        let manual = (std::env::var("VITRINE_TEST_CLOCK").as_deref() == Ok("1"))
            .then(|| Arc::new(vitrine_core::ManualClock::new(chrono::Utc::now())));
        let clock: Arc<dyn vitrine_core::Clock> = match &manual {
            Some(manual) => manual.clone(),
            None => Arc::new(SystemClock),
        };
        ServerClock { clock, manual }
    }
    #[cfg(not(feature = "test-clock"))]
    ServerClock { clock: Arc::new(SystemClock) }
}

/// The services, for a command that changes the database without serving.
async fn offline_state(args: ServeArgs) -> anyhow::Result<AppState> {
    let config = load_config(args)?;
    init_logging(config.log_format);
    let store = open_store(&config).await?;
    Ok(AppState::start(config, store, Arc::new(SystemClock)).await?)
}

/// The set-up password: from VITRINE_SETUP_ADMIN_PASSWORD, else the first line of stdin.
fn setup_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("VITRINE_SETUP_ADMIN_PASSWORD") {
        return Ok(password);
    }
    let mut line = String::new();
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprint!("Password for the administrator: ");
    }
    std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("no password: pipe it on standard input or set VITRINE_SETUP_ADMIN_PASSWORD");
    }
    Ok(password)
}

async fn setup(args: SetupArgs) -> anyhow::Result<()> {
    let state = offline_state(args.server).await?;
    let email = args.admin_email.trim().to_ascii_lowercase();
    if state.store.is_set_up().await? {
        // Idempotent: the same set-up again is not an error; another one is refused.
        let same = state.store.list_operators().await?.into_iter().find(|u| u.email == email);
        let org = match &same {
            Some(user) => Some(state.store.get_organization(user.org_id).await?),
            None => None,
        };
        state.store.close().await;
        if let Some(org) = org.filter(|o| o.name == args.org.trim()) {
            println!("Already set up: {} is an operator and administrator of {}.", email, org.name);
            return Ok(());
        }
        bail!(
            "this installation is set up already; operators add organizations in Installation › Organizations"
        );
    }
    let password = setup_password()?;
    let done = vitrine_server::services::installation::set_up(
        &state,
        None,
        &vitrine_server::services::installation::Setup {
            org_name: &args.org,
            admin_email: &email,
            admin_name: args.admin_name.as_deref(),
            password: &password,
        },
    )
    .await;
    state.store.close().await;
    let (org, admin) = done.map_err(|e| anyhow::anyhow!(e.message))?;
    println!(
        "Set up: organization {} with administrator {} (also the installation's operator). Sign in at {}/.",
        org.name, admin.email, state.config.public_url
    );
    Ok(())
}

async fn operators(action: OperatorsAction) -> anyhow::Result<()> {
    let (server, email) = match &action {
        OperatorsAction::Add { email, server } | OperatorsAction::Remove { email, server } => {
            (server.clone(), Some(email.trim().to_ascii_lowercase()))
        }
        OperatorsAction::List(server) => (server.clone(), None),
    };
    let state = offline_state(server).await?;
    let actor = Actor { id: "cli".into(), label: "command line".into(), at: chrono::Utc::now() };
    let result = async {
        let user = match &email {
            Some(email) => Some(
                state
                    .store
                    .find_login(email)
                    .await?
                    .with_context(|| {
                        format!(
                            "no account with the email {email}: create it in an organization first"
                        )
                    })?
                    .user,
            ),
            None => None,
        };
        match (&action, user) {
            (OperatorsAction::Add { .. }, Some(user)) => {
                state.store.grant_operator(&actor, user.id).await?;
                println!("{} is an operator.", user.email);
            }
            (OperatorsAction::Remove { .. }, Some(user)) => {
                match state.store.revoke_operator(&actor, user.id).await {
                    Err(vitrine_store::StoreError::Conflict { .. }) => {
                        bail!("{} is the last operator; add another first", user.email)
                    }
                    Err(vitrine_store::StoreError::NotFound) => {
                        bail!("{} is not an operator", user.email)
                    }
                    other => other?,
                }
                println!("{} is no longer an operator.", user.email);
            }
            _ => {
                for operator in state.store.list_operators().await? {
                    println!("{}", operator.email);
                }
            }
        }
        Ok(())
    }
    .await;
    state.store.close().await;
    result
}

async fn migrate(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(args)?;
    init_logging(config.log_format);
    if config.database.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)?;
    }
    // Opening the store applies pending migrations.
    let store =
        vitrine_server::database::open(&config.database).await.context("opening the database")?;
    store.close().await;
    println!("Database {} is up to date.", config.database);
    Ok(())
}

async fn add_dataset(
    args: ServeArgs,
    org: &str,
    name: &str,
    file: &std::path::Path,
) -> anyhow::Result<()> {
    let config = load_config(args)?;
    init_logging(config.log_format);
    let store = open_store(&config).await?;
    let organizations = store.list_organizations().await?;
    let organization = organizations
        .iter()
        .find(|o| o.name == org || o.id.to_string() == org)
        .with_context(|| format!("no organization named {org:?}"))?;
    let engine = vitrine_engine::Engine::new();
    let dataset = vitrine_server::services::datasets::register_path(
        &*store,
        &engine,
        organization.id,
        name,
        file,
    )
    .await
    .map_err(anyhow::Error::msg)?;
    store.close().await;
    println!(
        "Dataset {} ({} rows, {} columns) registered as {} in {}.",
        dataset.name,
        dataset.row_count,
        dataset.columns.as_array().map(Vec::len).unwrap_or(0),
        dataset.id,
        organization.name
    );
    Ok(())
}

/// Follows the other nodes' changes, takes the installation's lease when free, and runs the
/// schedulers (they act while this node leads). On becoming leader a node finishes capacity
/// transitions a dead or restarted leader left under way and takes the scheduler's first
/// decisions — a capacity that went idle while no node ran pauses now — and sweeps what a
/// crash or a replaced version left in the datasets directory. No dataset is loaded: each
/// opens on its first query, so the server is ready at once.
async fn start_capacities_and_data(state: &AppState) {
    vitrine_server::cluster::spawn_follower(state.clone());
    vitrine_server::cluster::spawn_lease(state.clone(), |state: AppState| async move {
        if let Err(error) = state.capacities.recover().await {
            tracing::error!(%error, "could not recover capacity transitions");
        }
        if let Err(error) = state.capacities.tick().await {
            tracing::error!(%error, "capacity scheduler pass on becoming leader");
        }
        vitrine_server::services::datasets::sweep(&state).await;
    })
    .await;
    vitrine_server::services::sources::spawn_schedule(
        state.clone(),
        std::time::Duration::from_secs(30),
    );
    state
        .capacities
        .spawn_scheduler(std::time::Duration::from_secs(15), Arc::clone(&state.leadership));
    vitrine_server::services::displays::spawn_watch(
        state.clone(),
        std::time::Duration::from_secs(30),
    );
}

async fn store_copy(from: &str, to: &str) -> anyhow::Result<()> {
    init_logging(LogFormat::Text);
    let source = vitrine_server::database::open(from).await.context("opening --from")?;
    let target = vitrine_server::database::open(to).await.context("opening --to")?;
    let rows = vitrine_server::backup::copy(&*source, &*target).await?;
    source.close().await;
    target.close().await;
    println!(
        "Copied {rows} rows. Point every node at the new database with the same data directory and master key."
    );
    Ok(())
}

fn dataset_files(config: &ServerConfig) -> anyhow::Result<vitrine_server::files::DatasetFiles> {
    Ok(vitrine_server::files::DatasetFiles::open(
        &config.data_dir,
        config.dataset_storage.as_deref(),
    )?)
}

async fn backup(args: ServeArgs, to: &std::path::Path) -> anyhow::Result<()> {
    let config = load_config(args)?;
    init_logging(config.log_format);
    let store = open_store(&config).await?;
    let files = dataset_files(&config)?;
    let manifest = vitrine_server::backup::backup(&*store, &files, to).await?;
    store.close().await;
    println!(
        "Backed up {} rows and {} dataset files into {}. Keep the master key apart from it.",
        manifest.rows,
        manifest.files.len(),
        to.display()
    );
    Ok(())
}

async fn restore(args: ServeArgs, from: &std::path::Path) -> anyhow::Result<()> {
    let config = load_config(args)?;
    init_logging(config.log_format);
    let store = open_store(&config).await?;
    let files = dataset_files(&config)?;
    let manifest = vitrine_server::backup::restore(&*store, &files, from).await?;
    store.close().await;
    println!(
        "Restored {} rows and {} dataset files from the backup of {}. Start the servers with the installation's master key.",
        manifest.rows,
        manifest.files.len(),
        manifest.made_at.to_rfc3339()
    );
    Ok(())
}

async fn rotate_keys(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(args)?;
    init_logging(config.log_format);
    let store = open_store(&config).await?;
    let master =
        MasterKey::open(config.master_key.as_ref().map(|k| k.expose()), &config.data_dir, &*store)
            .await?;
    let kid = create_key(&*store, &master, chrono::Utc::now()).await?;
    // Running nodes reload their keys on reading this, within a second.
    let feed = ChangeFeed::open(Arc::clone(&store), node_name()).await?;
    feed.publish(&Change::Keys).await?;
    store.close().await;
    println!("New signing key {kid}: running servers sign with it within a second.");
    Ok(())
}

/// A plain HTTP/1.1 GET, so the check needs nothing but the standard library.
fn healthcheck(url: &str) -> anyhow::Result<()> {
    let rest = url.strip_prefix("http://").context("--url must start with http://")?;
    let (authority, path) =
        rest.split_once('/').map(|(a, p)| (a, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let path = if path.ends_with("/healthz") {
        path
    } else {
        format!("{}/healthz", path.trim_end_matches('/'))
    };
    let address = authority.to_socket_addrs()?.next().context("--url names no address")?;
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 64];
    let read = stream.read(&mut head)?;
    let status_line = String::from_utf8_lossy(&head[..read]);
    if status_line.starts_with("HTTP/1.1 200") || status_line.starts_with("HTTP/1.0 200") {
        println!("healthy: {url}");
        Ok(())
    } else {
        bail!("unhealthy: {}", status_line.lines().next().unwrap_or_default())
    }
}

/// Argon2 allocates 19 MiB per hash. After the first such block is freed, glibc raises its mmap
/// threshold and keeps every later block in a per-thread arena, so each hashing thread would
/// hold ~20 MiB for good. A fixed threshold of 16 MiB hands those blocks back to the system after
/// use. It must stay well above the buffers of report queries (pages of a Parquet column, a
/// batch's arrays, up to a few MiB): at 128 KiB every one of them was an mmap and a fresh set of
/// page faults, and a scan of ten million rows took twice as long. Fixing the mmap threshold also
/// fixes the trim threshold, which is raised for the same reason: freed query buffers are
/// reused, not returned and faulted in again.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_allocations_to_the_system() {
    // SAFETY: mallopt only tunes the allocator; it runs before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 16 * 1024 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_allocations_to_the_system() {}

fn main() -> anyhow::Result<()> {
    return_large_allocations_to_the_system();
    let cli = Cli::parse();
    if let Command::Healthcheck { url } = &cli.command {
        return healthcheck(url);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Demo(args) => demo(args).await,
            Command::Migrate(args) => migrate(args).await,
            Command::Setup(args) => setup(args).await,
            Command::Operators { action } => operators(action).await,
            Command::Keys { action: KeysAction::Rotate(args) } => rotate_keys(args).await,
            Command::Datasets { action: DatasetsAction::Add { org, name, file, server } } => {
                add_dataset(server, &org, &name, &file).await
            }
            Command::Store { action: StoreAction::Copy { from, to } } => {
                store_copy(&from, &to).await
            }
            Command::Backup { to, server } => backup(server, &to).await,
            Command::Restore { from, server } => restore(server, &from).await,
            Command::Healthcheck { .. } => Ok(()),
        }
    })
}
