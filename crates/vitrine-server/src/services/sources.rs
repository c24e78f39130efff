//! Live sources: an organization's connections to its PostgreSQL and MySQL/MariaDB
//! databases (the password sealed with the master key, never answered back, never logged),
//! and the datasets that read them — **direct** (each visual one query at the source) or
//! **imported** (copied into a dataset file on a schedule or on demand, with a history; a
//! failed import keeps the last good version).

use crate::cluster::Change;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use vitrine_core::capacity::{self, WeeklySchedule, WeeklyWindow};
use vitrine_core::source::{RefreshTrigger, SourceKind, SourceMode, TlsMode};
use vitrine_core::{AdminScope, ConnectionId, ContentScope, DatasetId, Fields, OrgId, validate};
use vitrine_engine::{ColumnInfo, ColumnKind, DatasetInfo};
use vitrine_sources::{ConnectionSpec, Relation, Source, SourceError, SourceTable, TableName};
use vitrine_store::{Actor, Connection, Dataset, DatasetSource, RefreshOutcome};

use super::datasets::{self, ConvertedUpload};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};

pub const CONNECTION_FIELDS: [&str; 10] = [
    "name",
    "kind",
    "host",
    "port",
    "database",
    "user",
    "password",
    "tls",
    "maxConnections",
    "queryTimeoutSeconds",
];
pub const SOURCE_DATASET_FIELDS: [&str; 8] = [
    "name",
    "connection",
    "table",
    "sql",
    "mode",
    "refreshEveryMinutes",
    "refreshWindows",
    "timeZone",
];
pub const DATASET_SETTINGS_FIELDS: [&str; 4] =
    ["name", "refreshEveryMinutes", "refreshWindows", "timeZone"];

/// Connections a pool opens at most, by default and at most.
const DEFAULT_POOL: u32 = 4;
const MAX_POOL: i64 = 50;
/// Seconds a visual's query may run at the source, by default and at most.
const DEFAULT_QUERY_TIMEOUT: u32 = 10;
const MAX_QUERY_TIMEOUT: i64 = 60;
/// Imported datasets refresh at most this often (minutes), and at least once in 31 days.
const MIN_REFRESH_MINUTES: i64 = 5;
const MAX_REFRESH_MINUTES: i64 = 31 * 24 * 60;
const MAX_TEXT: usize = 255;
/// An organization has at most this many connections.
const MAX_CONNECTIONS_PER_ORG: usize = 100;

/// The pools of the connections in use, rebuilt when a connection changes, and the imports
/// under way (one per dataset at a time).
/// A connection's pool, with the version of the connection it was built from.
type Pooled = (DateTime<Utc>, Arc<Source>);

#[derive(Default)]
pub struct SourcePools {
    pools: Mutex<HashMap<ConnectionId, Pooled>>,
    importing: Mutex<HashSet<DatasetId>>,
}

impl SourcePools {
    pub fn forget(&self, id: ConnectionId) {
        let removed = self.pools.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        if let Some((_, source)) = removed {
            tokio::spawn(async move { source.close().await });
        }
    }

    /// Whether an import of `id` runs; marks it running when not.
    fn begin_import(&self, id: DatasetId) -> bool {
        self.importing.lock().unwrap_or_else(|p| p.into_inner()).insert(id)
    }

    fn end_import(&self, id: DatasetId) {
        self.importing.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }

    pub fn is_importing(&self, id: DatasetId) -> bool {
        self.importing.lock().unwrap_or_else(|p| p.into_inner()).contains(&id)
    }
}

fn seal_label(id: ConnectionId) -> String {
    format!("connection password {id}")
}

/// The pool of a connection, opened (lazily) with its password unsealed.
pub fn source_of(state: &AppState, connection: &Connection) -> ApiResult<Arc<Source>> {
    let mut pools = state.sources.pools.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((at, source)) = pools.get(&connection.id)
        && *at == connection.updated_at
    {
        return Ok(Arc::clone(source));
    }
    let password = state
        .secrets
        .unseal(&seal_label(connection.id), &connection.password_sealed)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            tracing::error!(connection = %connection.id, "a connection's password could not be unsealed");
            ApiError::internal()
        })?;
    let spec = ConnectionSpec {
        kind: connection.kind,
        host: connection.host.clone(),
        port: connection.port,
        database: connection.database.clone(),
        user: connection.user.clone(),
        password,
        tls: connection.tls,
        max_connections: connection.max_connections,
        query_timeout: Duration::from_secs(u64::from(connection.query_timeout_seconds)),
    };
    let source = Source::connect(&spec);
    if let Some((_, old)) =
        pools.insert(connection.id, (connection.updated_at, Arc::clone(&source)))
    {
        tokio::spawn(async move { old.close().await });
    }
    Ok(source)
}

fn text_field(input: &Fields, name: &str, required: bool) -> ApiResult<Option<String>> {
    let value = input.optional_str(name)?.map(str::trim).filter(|v| !v.is_empty());
    match value {
        None if required => Err(ApiError::invalid(name, "is required")),
        None => Ok(None),
        Some(value) if value.chars().count() > MAX_TEXT => {
            Err(ApiError::invalid(name, format!("must be at most {MAX_TEXT} characters")))
        }
        Some(value) if value.chars().any(char::is_control) => {
            Err(ApiError::invalid(name, "must not contain control characters"))
        }
        Some(value) => Ok(Some(value.to_string())),
    }
}

/// A connection from a request: all of it (`base` is `None`) or the fields given over `base`.
fn connection_from(
    state: &AppState,
    org: OrgId,
    input: &Fields,
    base: Option<&Connection>,
) -> ApiResult<Connection> {
    input.allow_only(&CONNECTION_FIELDS)?;
    let creating = base.is_none();
    let name = match input.optional_str("name")? {
        Some(name) => validate::name("name", name)?,
        None if creating => return Err(ApiError::invalid("name", "is required")),
        None => base.map(|b| b.name.clone()).unwrap_or_default(),
    };
    let kind = match input.optional_str("kind")? {
        Some(kind) => SourceKind::parse(kind)
            .ok_or_else(|| ApiError::invalid("kind", "must be postgres or mysql"))?,
        None => base.map(|b| b.kind).ok_or_else(|| ApiError::invalid("kind", "is required"))?,
    };
    let host = match text_field(input, "host", creating)? {
        Some(host) => host,
        None => base.map(|b| b.host.clone()).unwrap_or_default(),
    };
    let port = match input.optional_int_in("port", 1, 65_535)? {
        Some(port) => port as u16,
        None => base.map(|b| b.port).unwrap_or_else(|| kind.default_port()),
    };
    let database = match text_field(input, "database", creating)? {
        Some(database) => database,
        None => base.map(|b| b.database.clone()).unwrap_or_default(),
    };
    let user = match text_field(input, "user", creating)? {
        Some(user) => user,
        None => base.map(|b| b.user.clone()).unwrap_or_default(),
    };
    let tls = match input.optional_str("tls")? {
        Some(tls) => TlsMode::parse(tls).ok_or_else(|| {
            ApiError::invalid("tls", format!("must be one of {}", TlsMode::ALL.join(", ")))
        })?,
        None => base.map(|b| b.tls).unwrap_or(TlsMode::Prefer),
    };
    let max_connections = match input.optional_int_in("maxConnections", 1, MAX_POOL)? {
        Some(n) => n as u32,
        None => base.map(|b| b.max_connections).unwrap_or(DEFAULT_POOL),
    };
    let query_timeout_seconds =
        match input.optional_int_in("queryTimeoutSeconds", 1, MAX_QUERY_TIMEOUT)? {
            Some(n) => n as u32,
            None => base.map(|b| b.query_timeout_seconds).unwrap_or(DEFAULT_QUERY_TIMEOUT),
        };
    let id = base.map(|b| b.id).unwrap_or_else(ConnectionId::generate);
    let password = match input.optional_str("password")? {
        // A password may be empty (trust authentication) but is always given when creating.
        Some(password) if password.len() > 1_024 => {
            return Err(ApiError::invalid("password", "must be at most 1024 bytes"));
        }
        Some(password) => Some(password.to_string()),
        None if creating => {
            return Err(ApiError::invalid("password", "is required (it may be empty)"));
        }
        None => None,
    };
    let password_sealed = match password {
        Some(password) => state
            .secrets
            .seal(&seal_label(id), password.as_bytes())
            .map_err(|_| ApiError::internal())?,
        None => base.map(|b| b.password_sealed.clone()).unwrap_or_default(),
    };
    let now = state.clock.now();
    Ok(Connection {
        id,
        org_id: org,
        name,
        kind,
        host,
        port,
        database,
        user,
        password_sealed,
        tls,
        max_connections,
        query_timeout_seconds,
        created_at: base.map(|b| b.created_at).unwrap_or(now),
        updated_at: now,
    })
}

pub async fn create_connection(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    input: &Fields,
) -> ApiResult<Connection> {
    let connection = connection_from(state, scope.org_id(), input, None)?;
    if state.store.list_connections(scope.org_id()).await?.len() >= MAX_CONNECTIONS_PER_ORG {
        return Err(ApiError::new(
            ErrorCode::LimitReached,
            format!("An organization has at most {MAX_CONNECTIONS_PER_ORG} connections."),
        ));
    }
    let actor = caller.actor(state.clock.now());
    Ok(state.store.create_connection(scope.org_id(), &actor, &connection).await?)
}

/// Changes the fields given; a new password replaces the old one, none keeps it. Open
/// direct datasets reconnect with the new settings.
pub async fn update_connection(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    id: ConnectionId,
    input: &Fields,
) -> ApiResult<Connection> {
    let old = state.store.get_connection(scope.org_id(), id).await?;
    let connection = connection_from(state, scope.org_id(), input, Some(&old))?;
    let actor = caller.actor(state.clock.now());
    let updated = state.store.update_connection(scope.org_id(), &actor, &connection).await?;
    state.sources.forget(id);
    state.feed.announce(Change::Connection { connection: id });
    // Direct datasets of the connection reopen on their next query, with the new pool.
    for dataset in state.store.list_datasets(scope.org_id()).await? {
        if dataset.source.as_ref().is_some_and(|s| s.connection_id == id) {
            state.engine.close(&dataset.id.to_string());
            state.feed.announce(Change::Dataset { dataset: dataset.id });
            datasets::announce_new_data(state, scope.org_id(), dataset.id).await;
        }
    }
    Ok(updated)
}

pub async fn delete_connection(
    state: &AppState,
    scope: &AdminScope,
    caller: &Caller,
    id: ConnectionId,
) -> ApiResult<()> {
    let actor = caller.actor(state.clock.now());
    state.store.delete_connection(scope.org_id(), &actor, id).await.map_err(
        |error| match error {
            vitrine_store::StoreError::Conflict { .. } => {
                ApiError::invalid("connection", "datasets read this connection; delete them first")
                    .with_status(axum::http::StatusCode::CONFLICT)
            }
            other => other.into(),
        },
    )?;
    state.sources.forget(id);
    state.feed.announce(Change::Connection { connection: id });
    Ok(())
}

/// What "Test connection" found.
pub struct TestOutcome {
    pub ok: bool,
    /// The server's version when it answered; what went wrong, in plain words, when not.
    pub message: String,
}

pub async fn test_connection(
    state: &AppState,
    scope: &AdminScope,
    id: ConnectionId,
) -> ApiResult<TestOutcome> {
    let connection = state.store.get_connection(scope.org_id(), id).await?;
    let source = source_of(state, &connection)?;
    Ok(match source.test().await {
        Ok(version) => TestOutcome { ok: true, message: version },
        Err(error) => TestOutcome { ok: false, message: explain(&error) },
    })
}

/// A source's error in words for whoever set the connection up.
fn explain(error: &SourceError) -> String {
    match error {
        SourceError::Unreachable(detail) => format!(
            "Could not connect ({detail}). Check the host, the port, the TLS mode and that the database accepts connections from this server."
        ),
        SourceError::Refused(detail) => format!("The database refused: {detail}."),
        SourceError::TimedOut(seconds) => {
            format!("The database did not answer within {seconds} seconds.")
        }
        other => other.to_string(),
    }
}

/// The relation a dataset reads.
fn relation_of(kind: SourceKind, source: &DatasetSource) -> Result<Relation, String> {
    match (&source.table, &source.sql) {
        (Some(table), _) => TableName::parse(table).map(Relation::Table),
        (None, Some(sql)) => Relation::query(kind, sql),
        (None, None) => Err("the dataset names neither a table nor a query".into()),
    }
}

/// A dataset's columns as the engine types them (a source's columns are read in these types).
fn schema_of(info: &[ColumnInfo]) -> SchemaRef {
    let fields: Vec<Field> = info
        .iter()
        .map(|column| {
            let data_type = match column.kind {
                ColumnKind::Integer => DataType::Int64,
                ColumnKind::Decimal => DataType::Float64,
                ColumnKind::Date => DataType::Date32,
                ColumnKind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
                ColumnKind::Boolean => DataType::Boolean,
                ColumnKind::Text | ColumnKind::Other => DataType::Utf8,
            };
            Field::new(&column.name, data_type, true)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// A new dataset of a connection: its columns are read from the source at once; an imported
/// one starts its first import in the background.
pub async fn create_dataset(
    state: &AppState,
    scope: &ContentScope,
    caller: &Caller,
    input: &Fields,
) -> ApiResult<Dataset> {
    input.allow_only(&SOURCE_DATASET_FIELDS)?;
    let org = scope.org_id();
    let name = validate::name("name", input.required_str("name")?)?;
    let connection_id: ConnectionId = input
        .required_str("connection")?
        .parse()
        .map_err(|_| ApiError::invalid("connection", "is not a connection id"))?;
    let connection =
        state.store.get_connection(org, connection_id).await.map_err(|_| {
            ApiError::invalid("connection", "no such connection in this organization")
        })?;
    let table = input.optional_str("table")?.map(|t| t.trim().to_string());
    let sql = input.optional_str("sql")?.map(|s| s.trim().to_string());
    let (field, relation) = match (&table, &sql) {
        (Some(table), None) => ("table", TableName::parse(table).map(Relation::Table)),
        (None, Some(sql)) => ("sql", Relation::query(connection.kind, sql)),
        _ => return Err(ApiError::invalid("table", "give either table or sql, not both")),
    };
    let relation = relation.map_err(|message| ApiError::invalid(field, message))?;
    let mode = SourceMode::parse(input.required_str("mode")?)
        .ok_or_else(|| ApiError::invalid("mode", "must be direct or imported"))?;
    let org_time_zone = state.store.get_organization(org).await?.settings.time_zone;
    let refresh = RefreshSettings::default().changed(input, mode, &org_time_zone)?;
    let source = source_of(state, &connection)?;
    let schema = source.describe(&relation).await.map_err(|error| match error {
        SourceError::Unreachable(_) | SourceError::TimedOut(_) => {
            ApiError::invalid("connection", explain(&error))
        }
        other => ApiError::invalid(field, explain(&other)),
    })?;
    let info = DatasetInfo::from_schema(&schema, 0);
    let now = state.clock.now();
    let dataset = Dataset {
        id: DatasetId::generate(),
        org_id: org,
        name,
        format: "source".into(),
        location: String::new(),
        columns: serde_json::to_value(&info.columns).unwrap_or_default(),
        row_count: 0,
        created_at: now,
        version: 1,
        updated_at: now,
        source: Some(DatasetSource {
            connection_id,
            table: (field == "table").then(|| table.clone()).flatten(),
            sql: match &relation {
                Relation::Query(text) => Some(text.clone()),
                Relation::Table(_) => None,
            },
            mode,
            refresh_every_minutes: refresh.every,
            refresh_windows: refresh.windows,
            refresh_time_zone: refresh.time_zone,
        }),
    };
    let created = state.store.create_dataset(org, &caller.actor(now), &dataset).await?;
    if mode == SourceMode::Imported {
        start_refresh(state, &created, RefreshTrigger::Created, caller.actor(now))?;
    }
    Ok(created)
}

/// How an imported dataset refreshes by itself.
#[derive(Default)]
struct RefreshSettings {
    every: Option<u32>,
    windows: Vec<WeeklyWindow>,
    time_zone: Option<String>,
}

impl RefreshSettings {
    fn of(source: &DatasetSource) -> Self {
        Self {
            every: source.refresh_every_minutes,
            windows: source.refresh_windows.clone(),
            time_zone: source.refresh_time_zone.clone(),
        }
    }

    /// These settings with the changes `input` names (`refreshEveryMinutes`, `null` to clear;
    /// `refreshWindows`, `null` or `[]` to clear; `timeZone`, by default the organization's).
    fn changed(mut self, input: &Fields, mode: SourceMode, org_time_zone: &str) -> ApiResult<Self> {
        let named = ["refreshEveryMinutes", "refreshWindows", "timeZone"]
            .into_iter()
            .find(|field| input.get(field).is_some_and(|v| !v.is_null()));
        if let Some(field) = named
            && mode == SourceMode::Direct
        {
            return Err(ApiError::invalid(
                field,
                "only imported datasets are refreshed; a direct one is always current",
            ));
        }
        if let Some(every) = input.nullable_int_in(
            "refreshEveryMinutes",
            MIN_REFRESH_MINUTES,
            MAX_REFRESH_MINUTES,
        )? {
            self.every = every.map(|m| m as u32);
        }
        match input.get("refreshWindows") {
            None => {}
            Some(serde_json::Value::Null) => self.windows.clear(),
            Some(value) => self.windows = capacity::parse_schedule("refreshWindows", value)?,
        }
        if let Some(zone) = input.optional_str("timeZone")? {
            WeeklySchedule::zone("timeZone", zone)?;
            self.time_zone = Some(zone.to_string());
        }
        if self.windows.is_empty() {
            self.time_zone = None;
        } else if self.time_zone.is_none() {
            self.time_zone = Some(org_time_zone.to_string());
        }
        Ok(self)
    }
}

/// Renames a dataset and, for an imported one, changes how it refreshes.
pub async fn update_dataset(
    state: &AppState,
    scope: &ContentScope,
    caller: &Caller,
    id: DatasetId,
    input: &Fields,
) -> ApiResult<Dataset> {
    input.allow_only(&DATASET_SETTINGS_FIELDS)?;
    let org = scope.org_id();
    let mut dataset = state.store.get_dataset(org, id).await?;
    if let Some(name) = input.optional_str("name")? {
        dataset.name = validate::name("name", name)?;
    }
    let org_time_zone = state.store.get_organization(org).await?.settings.time_zone;
    match &mut dataset.source {
        Some(source) => {
            let refresh =
                RefreshSettings::of(source).changed(input, source.mode, &org_time_zone)?;
            source.refresh_every_minutes = refresh.every;
            source.refresh_windows = refresh.windows;
            source.refresh_time_zone = refresh.time_zone;
        }
        None => {
            if let Some(field) = DATASET_SETTINGS_FIELDS[1..].iter().find(|f| input.contains(f)) {
                return Err(ApiError::invalid(
                    *field,
                    "only datasets imported from a connection refresh; give a file new data instead",
                ));
            }
        }
    }
    let actor = caller.actor(state.clock.now());
    Ok(state.store.update_dataset(org, &actor, &dataset).await?)
}

/// Opens a direct dataset: its visuals become queries of its connection.
pub async fn open_direct(
    state: &AppState,
    dataset: &Dataset,
    source: &DatasetSource,
) -> ApiResult<DatasetInfo> {
    let connection = state.store.get_connection(dataset.org_id, source.connection_id).await?;
    let relation = relation_of(connection.kind, source).map_err(|message| {
        tracing::error!(dataset = %dataset.id, %message, "a stored source dataset does not parse");
        ApiError::internal()
    })?;
    let pool = source_of(state, &connection)?;
    let columns: Vec<ColumnInfo> =
        serde_json::from_value(dataset.columns.clone()).map_err(|_| ApiError::internal())?;
    let table = Arc::new(SourceTable::new(pool, relation));
    let id = dataset.id.to_string();
    Ok(state.engine.open_remote(&id, table, schema_of(&columns), dataset.version))
}

/// Starts an import of an imported dataset in the background; refused while one runs.
pub fn start_refresh(
    state: &AppState,
    dataset: &Dataset,
    trigger: RefreshTrigger,
    actor: Actor,
) -> ApiResult<()> {
    if dataset.source.as_ref().is_none_or(|s| s.mode != SourceMode::Imported) {
        return Err(ApiError::invalid(
            "dataset",
            "only imported datasets are refreshed: upload new data to a file dataset; a direct one is always current",
        ));
    }
    if !state.sources.begin_import(dataset.id) {
        return Err(ApiError::invalid("dataset", "a refresh of this dataset is already running")
            .with_status(axum::http::StatusCode::CONFLICT));
    }
    let state = state.clone();
    let dataset = dataset.clone();
    tokio::spawn(async move {
        run_refresh(&state, &dataset, trigger, &actor).await;
        state.sources.end_import(dataset.id);
    });
    Ok(())
}

/// One import, recorded in the history whatever its outcome.
async fn run_refresh(state: &AppState, dataset: &Dataset, trigger: RefreshTrigger, actor: &Actor) {
    let org = dataset.org_id;
    let refresh = match state.store.start_refresh(org, dataset.id, trigger, state.clock.now()).await
    {
        Ok(refresh) => refresh,
        Err(error) => {
            tracing::error!(dataset = %dataset.id, %error, "could not record a refresh");
            return;
        }
    };
    let outcome = match import(state, dataset.id, org, actor).await {
        Ok(imported) => {
            tracing::info!(dataset = %imported.id, rows = imported.row_count, version = imported.version, "dataset imported");
            RefreshOutcome::Succeeded { row_count: imported.row_count, version: imported.version }
        }
        Err(error) => {
            tracing::warn!(dataset = %dataset.id, %error, "an import failed; the last good version stays");
            RefreshOutcome::Failed { error }
        }
    };
    if let Err(error) = state.store.finish_refresh(org, refresh, state.clock.now(), &outcome).await
    {
        tracing::error!(dataset = %dataset.id, %error, "could not record the end of a refresh");
    }
}

/// Copies the source's rows into the dataset's next version; the error is for the history.
async fn import(
    state: &AppState,
    id: DatasetId,
    org: OrgId,
    actor: &Actor,
) -> Result<Dataset, String> {
    // Read afresh: the dataset may have been refreshed or changed since the import was asked.
    let dataset = state.store.get_dataset(org, id).await.map_err(|e| e.to_string())?;
    let source = dataset.source.clone().ok_or("the dataset has no source")?;
    let connection =
        state.store.get_connection(org, source.connection_id).await.map_err(|e| e.to_string())?;
    let relation = relation_of(connection.kind, &source)?;
    let pool = source_of(state, &connection).map_err(|e| e.message)?;
    let schema = pool.describe(&relation).await.map_err(|e| explain(&e))?;
    let columns = DatasetInfo::from_schema(&schema, 0);
    datasets::check_readers(state, org, id, &columns, "columns").await.map_err(|e| e.message)?;
    let place = state.files.scratch_file();
    if let Some(parent) = place.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|e| e.to_string())?;
    }
    let info = match pool.import(&relation, schema, &place).await {
        Ok(info) => info,
        Err(error) => {
            let _ = tokio::fs::remove_file(&place).await;
            return Err(explain(&error));
        }
    };
    let converted = ConvertedUpload { path: place, info };
    let size = tokio::fs::metadata(&converted.path).await.map(|m| m.len()).unwrap_or(0);
    let replaced = if dataset.format == "source" {
        None
    } else {
        Some(state.files.size(&dataset.location).await)
    };
    datasets::within_limits(state, org, size, replaced).await.map_err(|e| e.message)?;
    let location = datasets::location_of(id, dataset.version + 1);
    let info = converted.settle(&state.files, &location).await.map_err(|e| e.message)?;
    datasets::switch_version(state, org, actor, &dataset, location, &info)
        .await
        .map_err(|e| e.message)
}

/// Starts the imports whose schedule is due, every `every`.
pub fn spawn_schedule(state: AppState, every: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if !state.leadership.is_leader() {
                continue;
            }
            if let Err(error) = refresh_due(&state).await {
                tracing::warn!(error = %error.message, "import schedule pass failed");
            }
        }
    });
}

/// Starts every import its schedule makes due (every N minutes, at a window's start, every N
/// minutes inside windows), counted from the last refresh whatever started it.
pub async fn refresh_due(state: &AppState) -> ApiResult<()> {
    let now = state.clock.now();
    let last_starts: HashMap<DatasetId, DateTime<Utc>> =
        state.store.last_refresh_starts().await?.into_iter().collect();
    for dataset in state.store.all_datasets().await? {
        let Some(plan) = dataset.source.as_ref().and_then(DatasetSource::refresh_plan) else {
            continue;
        };
        if state.sources.is_importing(dataset.id) {
            continue;
        }
        if plan.is_due(last_starts.get(&dataset.id).copied(), now) {
            let actor = Actor { id: "schedule".into(), label: "import schedule".into(), at: now };
            let _ = start_refresh(state, &dataset, RefreshTrigger::Schedule, actor);
        }
    }
    Ok(())
}
