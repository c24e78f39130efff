//! Server configuration, layered: defaults < TOML file < `VITRINE_*` environment < flags.
//! Every layer is parsed into the same partial shape and merged; the result is validated once,
//! with errors naming the setting at fault.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Environment variables Vitrine reads; any other `VITRINE_*` variable draws a warning.
pub const KNOWN_ENV: &[&str] = &[
    "VITRINE_CONFIG",
    "VITRINE_LISTEN",
    "VITRINE_PUBLIC_URL",
    "VITRINE_DATA_DIR",
    "VITRINE_DATASET_STORAGE",
    "VITRINE_POWERBI_API_URL",
    "VITRINE_ENTRA_URL",
    "VITRINE_ARM_URL",
    "VITRINE_POWERBI_CLIENT",
    "VITRINE_DATABASE",
    "VITRINE_LOG",
    "VITRINE_LOG_FORMAT",
    "VITRINE_MASTER_KEY",
    "VITRINE_SMTP_HOST",
    "VITRINE_SMTP_PORT",
    "VITRINE_SMTP_TLS",
    "VITRINE_SMTP_USER",
    "VITRINE_SMTP_PASSWORD",
    "VITRINE_SMTP_FROM",
    "VITRINE_SETUP_ADMIN_PASSWORD",
    "VITRINE_TRUSTED_PROXIES",
    "VITRINE_METRICS_TOKEN",
    "VITRINE_METRICS_LISTEN",
    "VITRINE_MEMORY_MB",
    "VITRINE_RESULT_CACHE_SECONDS",
    "VITRINE_COLUMN_CACHE_MB",
    "VITRINE_DISPLAY_ALERT_WEBHOOK",
];

/// One layer of settings; `None` means "not set here".
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigLayer {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// Where dataset files live when not in the data directory: an object store's URL.
    pub dataset_storage: Option<String>,
    /// The Power BI REST API, Entra ID and Azure Resource Manager (public cloud by default;
    /// set for a sovereign cloud, or a stand-in in tests).
    pub powerbi_api_url: Option<String>,
    pub entra_url: Option<String>,
    pub arm_url: Option<String>,
    /// The file `dist/powerbi.min.js` of the npm package `powerbi-client`, which the viewer
    /// embeds Power BI reports with (see docs/powerbi.md); without it they cannot be shown.
    pub powerbi_client: Option<PathBuf>,
    pub database: Option<String>,
    pub log_format: Option<String>,
    /// Only from the environment (`VITRINE_MASTER_KEY`): never written in a file.
    #[serde(skip)]
    pub master_key: Option<String>,
    /// The `[smtp]` table: the server invitations and password resets are sent through.
    pub smtp: Option<SmtpLayer>,
    /// The `[limits]` table: throttles, timeouts and memory budgets.
    pub limits: Option<LimitsLayer>,
    /// The `[displays]` table: the alert when a paired screen stays offline.
    pub displays: Option<DisplaysLayer>,
}

/// The `[displays]` settings of one layer; `None` means "not set here".
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DisplaysLayer {
    /// Where a JSON `POST` goes when a display has been offline for `offline_alert_minutes`,
    /// and again when it is back. Set by the installation's operators only (a file or the
    /// environment), so no organization can make the server call an address of its choosing.
    pub alert_webhook: Option<String>,
    pub offline_alert_minutes: Option<u32>,
}

/// When and where a display that stays offline is reported.
#[derive(Debug, Clone, PartialEq)]
pub struct DisplaysConfig {
    pub alert_webhook: Option<String>,
    pub offline_alert_minutes: u32,
}

impl DisplaysConfig {
    fn resolve(layer: DisplaysLayer) -> Result<DisplaysConfig, ConfigError> {
        let minutes = layer.offline_alert_minutes.unwrap_or(15);
        if !(3..=10_080).contains(&minutes) {
            return Err(ConfigError::new(
                "displays.offline_alert_minutes",
                "must be from 3 to 10080 (a week)",
            ));
        }
        let alert_webhook = layer
            .alert_webhook
            .map(|raw| match reqwest::Url::parse(raw.trim()) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                    Ok(url.to_string())
                }
                _ => Err(ConfigError::new(
                    "displays.alert_webhook",
                    format!("{raw:?} is not an http(s) address"),
                )),
            })
            .transpose()?;
        Ok(DisplaysConfig { alert_webhook, offline_alert_minutes: minutes })
    }
}

/// Declares the `[limits]` settings once: the layer (every field optional), its overlay, the
/// resolved settings and their defaults.
macro_rules! limits {
    ($($(#[doc = $doc:literal])* $name:ident: $ty:ty = $default:expr;)*) => {
        /// The `[limits]` settings of one layer; `None` means "not set here".
        #[derive(Debug, Clone, Default, Deserialize, PartialEq)]
        #[serde(deny_unknown_fields)]
        pub struct LimitsLayer {
            $(pub $name: Option<$ty>,)*
            /// `/metrics` requires `Authorization: Bearer <this>`; only from the environment
            /// (`VITRINE_METRICS_TOKEN`) or a file readable by the server alone.
            pub metrics_token: Option<String>,
            /// Serves `/metrics` on this address of its own, without a token.
            pub metrics_listen: Option<String>,
            /// Addresses (or `a.b.c.d/n` networks) of proxies whose `X-Forwarded-For` is believed.
            pub trusted_proxies: Option<Vec<String>>,
            /// The process-wide memory budget of report queries and their result cache, in MB
            /// (default: half the RAM).
            pub memory_megabytes: Option<u64>,
        }

        impl LimitsLayer {
            fn overlay(self, over: LimitsLayer) -> LimitsLayer {
                LimitsLayer {
                    $($name: over.$name.or(self.$name),)*
                    metrics_token: over.metrics_token.or(self.metrics_token),
                    metrics_listen: over.metrics_listen.or(self.metrics_listen),
                    trusted_proxies: over.trusted_proxies.or(self.trusted_proxies),
                    memory_megabytes: over.memory_megabytes.or(self.memory_megabytes),
                }
            }
        }

        /// Throttles, timeouts and budgets (docs/operations.md, "Limits and hardening").
        #[derive(Debug, Clone)]
        pub struct Limits {
            $($(#[doc = $doc])* pub $name: $ty,)*
            pub metrics_token: Option<Secret>,
            pub metrics_listen: Option<SocketAddr>,
            pub trusted_proxies: Vec<ipnet::IpNet>,
            /// Bytes report queries (their working memory and the result cache) may take.
            pub memory_bytes: u64,
        }

        impl Limits {
            fn resolve_fields(layer: &LimitsLayer) -> Limits {
                Limits {
                    $($name: layer.$name.unwrap_or($default),)*
                    metrics_token: None,
                    metrics_listen: None,
                    trusted_proxies: Vec::new(),
                    memory_bytes: 0,
                }
            }
        }
    };
}

limits! {
    /// Sign-in attempts per minute from one client address.
    sign_in_per_minute: u32 = 20;
    /// Requests per minute from one client address that fail authentication (bad tokens,
    /// keys or sessions) before the address is answered 429.
    failed_auth_per_minute: u32 = 120;
    /// Seconds a client has to send a request's headers, counted from the connection's start
    /// or from the end of the previous answer: idle keep-alive connections close after it too.
    header_read_timeout_seconds: u64 = 10;
    /// Seconds a request (other than an upload) may take.
    request_timeout_seconds: u64 = 30;
    /// Uploads may take as long as they need, as long as they send this much per second.
    upload_min_bytes_per_second: u64 = 16 * 1024;
    /// Connections served at once; more wait to be accepted.
    max_connections: usize = 4096;
    /// Seconds in-flight requests get to finish at shutdown.
    shutdown_grace_seconds: u64 = 20;
    /// Seconds identical visual queries (same data version, visual, filters and row-level
    /// security) share one answer; 0 turns the result cache off.
    result_cache_seconds: u64 = 30;
    /// Megabytes the result cache may hold (taken from `memory_megabytes`).
    result_cache_megabytes: u64 = 64;
    /// Megabytes of decoded Parquet column chunks kept for later scans (taken from
    /// `memory_megabytes`, at most half of it); 0 decodes every scan afresh.
    column_cache_megabytes: u64 = 512;
}

impl Limits {
    fn resolve(layer: LimitsLayer) -> Result<Limits, ConfigError> {
        let mut limits = Limits::resolve_fields(&layer);
        let positive = [
            ("limits.sign_in_per_minute", u64::from(limits.sign_in_per_minute)),
            ("limits.failed_auth_per_minute", u64::from(limits.failed_auth_per_minute)),
            ("limits.header_read_timeout_seconds", limits.header_read_timeout_seconds),
            ("limits.request_timeout_seconds", limits.request_timeout_seconds),
            ("limits.max_connections", limits.max_connections as u64),
        ];
        if let Some((setting, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(ConfigError::new(setting, "must be greater than 0"));
        }
        limits.metrics_token = match layer.metrics_token {
            Some(token) if token.len() < 16 => {
                return Err(ConfigError::new(
                    "limits.metrics_token",
                    "must be at least 16 characters",
                ));
            }
            token => token.map(Secret),
        };
        limits.metrics_listen = layer
            .metrics_listen
            .map(|raw| {
                raw.parse().map_err(|_| {
                    ConfigError::new(
                        "limits.metrics_listen",
                        format!("{raw:?} is not an address such as 127.0.0.1:9464"),
                    )
                })
            })
            .transpose()?;
        for raw in layer.trusted_proxies.unwrap_or_default() {
            let raw = raw.trim();
            let net = raw
                .parse::<ipnet::IpNet>()
                .or_else(|_| raw.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError::new(
                        "limits.trusted_proxies",
                        format!("{raw:?} is not an address or a network such as 10.0.0.0/8"),
                    )
                })?;
            limits.trusted_proxies.push(net);
        }
        limits.memory_bytes = match layer.memory_megabytes {
            Some(0) => {
                return Err(ConfigError::new("limits.memory_megabytes", "must be greater than 0"));
            }
            Some(megabytes) => megabytes.saturating_mul(1024 * 1024),
            None => default_memory_bytes(),
        };
        Ok(limits)
    }
}

/// Half the machine's memory (or 1 GB when it cannot be read).
fn default_memory_bytes() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|info| {
        info.lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    });
    total.map(|bytes| bytes / 2).unwrap_or(1024 * 1024 * 1024)
}

/// The `[smtp]` settings of one layer; `None` means "not set here".
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmtpLayer {
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `starttls` (the default), `tls` (implicit TLS, as on port 465) or `none`.
    pub tls: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// The sender address, e.g. `bi@example.com` or `Vitrine <bi@example.com>`.
    pub from: Option<String>,
    /// `VITRINE_SMTP_PORT` when it is not a port number, refused when resolving.
    #[serde(skip)]
    pub unreadable_port: Option<String>,
}

impl SmtpLayer {
    fn overlay(self, over: SmtpLayer) -> SmtpLayer {
        SmtpLayer {
            host: over.host.or(self.host),
            port: over.port.or(self.port),
            tls: over.tls.or(self.tls),
            user: over.user.or(self.user),
            password: over.password.or(self.password),
            from: over.from.or(self.from),
            unreadable_port: over.unreadable_port.or(self.unreadable_port),
        }
    }
}

impl ConfigLayer {
    /// Values set in `over` replace those of `self`.
    pub fn overlay(self, over: ConfigLayer) -> ConfigLayer {
        ConfigLayer {
            listen: over.listen.or(self.listen),
            public_url: over.public_url.or(self.public_url),
            data_dir: over.data_dir.or(self.data_dir),
            dataset_storage: over.dataset_storage.or(self.dataset_storage),
            powerbi_api_url: over.powerbi_api_url.or(self.powerbi_api_url),
            entra_url: over.entra_url.or(self.entra_url),
            arm_url: over.arm_url.or(self.arm_url),
            powerbi_client: over.powerbi_client.or(self.powerbi_client),
            database: over.database.or(self.database),
            log_format: over.log_format.or(self.log_format),
            master_key: over.master_key.or(self.master_key),
            smtp: match (self.smtp, over.smtp) {
                (Some(base), Some(over)) => Some(base.overlay(over)),
                (base, over) => over.or(base),
            },
            limits: match (self.limits, over.limits) {
                (Some(base), Some(over)) => Some(base.overlay(over)),
                (base, over) => over.or(base),
            },
            displays: match (self.displays, over.displays) {
                (Some(base), Some(over)) => Some(DisplaysLayer {
                    alert_webhook: over.alert_webhook.or(base.alert_webhook),
                    offline_alert_minutes: over
                        .offline_alert_minutes
                        .or(base.offline_alert_minutes),
                }),
                (base, over) => over.or(base),
            },
        }
    }

    pub fn from_toml_file(path: &Path) -> Result<ConfigLayer, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new("config", format!("cannot read {}: {e}", path.display()))
        })?;
        toml::from_str(&text)
            .map_err(|e| ConfigError::new("config", format!("{}: {}", path.display(), e.message())))
    }

    /// Reads `VITRINE_*` variables from `vars` (the process environment in production).
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> (ConfigLayer, Vec<String>) {
        let mut layer = ConfigLayer::default();
        let mut unknown = Vec::new();
        let mut smtp = SmtpLayer::default();
        let mut limits = LimitsLayer::default();
        for (key, value) in vars {
            match key.as_str() {
                "VITRINE_SMTP_HOST" => smtp.host = Some(value),
                "VITRINE_SMTP_PORT" => match value.parse() {
                    Ok(port) => smtp.port = Some(port),
                    Err(_) => smtp.unreadable_port = Some(value),
                },
                "VITRINE_SMTP_TLS" => smtp.tls = Some(value),
                "VITRINE_SMTP_USER" => smtp.user = Some(value),
                "VITRINE_SMTP_PASSWORD" => smtp.password = Some(value),
                "VITRINE_SMTP_FROM" => smtp.from = Some(value),
                "VITRINE_TRUSTED_PROXIES" => {
                    limits.trusted_proxies = Some(value.split(',').map(str::to_string).collect());
                }
                "VITRINE_METRICS_TOKEN" => limits.metrics_token = Some(value),
                "VITRINE_METRICS_LISTEN" => limits.metrics_listen = Some(value),
                // Unreadable numbers are kept as 0 and refused when resolving.
                "VITRINE_MEMORY_MB" => limits.memory_megabytes = Some(value.parse().unwrap_or(0)),
                "VITRINE_RESULT_CACHE_SECONDS" => {
                    limits.result_cache_seconds = Some(value.parse().unwrap_or(0))
                }
                "VITRINE_COLUMN_CACHE_MB" => {
                    limits.column_cache_megabytes = Some(value.parse().unwrap_or(0))
                }
                "VITRINE_LISTEN" => layer.listen = Some(value),
                "VITRINE_PUBLIC_URL" => layer.public_url = Some(value),
                "VITRINE_DATA_DIR" => layer.data_dir = Some(value.into()),
                "VITRINE_DATASET_STORAGE" => layer.dataset_storage = Some(value),
                "VITRINE_POWERBI_API_URL" => layer.powerbi_api_url = Some(value),
                "VITRINE_ENTRA_URL" => layer.entra_url = Some(value),
                "VITRINE_ARM_URL" => layer.arm_url = Some(value),
                "VITRINE_POWERBI_CLIENT" => layer.powerbi_client = Some(value.into()),
                "VITRINE_DATABASE" => layer.database = Some(value),
                "VITRINE_LOG_FORMAT" => layer.log_format = Some(value),
                "VITRINE_MASTER_KEY" => layer.master_key = Some(value),
                "VITRINE_DISPLAY_ALERT_WEBHOOK" => {
                    layer.displays.get_or_insert_with(Default::default).alert_webhook = Some(value)
                }
                k if k.starts_with("VITRINE_") && !KNOWN_ENV.contains(&k) => unknown.push(key),
                _ => {}
            }
        }
        if smtp != SmtpLayer::default() {
            layer.smtp = Some(smtp);
        }
        if limits != LimitsLayer::default() {
            layer.limits = Some(limits);
        }
        (layer, unknown)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A secret setting: never printed.
#[derive(Clone, PartialEq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The longest public URL (the issuer of every token).
pub const MAX_PUBLIC_URL_BYTES: usize = vitrine_core::token::MAX_ISSUER_BYTES;

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The address users reach Vitrine at; an `https` URL makes cookies `Secure`.
    pub public_url: String,
    pub data_dir: PathBuf,
    /// Dataset files in an object store (`s3://bucket/prefix`, `file:///path`) rather than
    /// in the data directory.
    pub dataset_storage: Option<String>,
    /// Where Power BI, Entra ID and Azure Resource Manager are reached.
    pub cloud: CloudUrls,
    /// powerbi-client's `powerbi.min.js`, served to viewers of Power BI reports.
    pub powerbi_client: Option<PathBuf>,
    pub database: String,
    pub log_format: LogFormat,
    /// Seals the token signing keys; when absent, a key file in the data directory is used.
    pub master_key: Option<Secret>,
    /// Where emails go; without it, administrators copy invitation links by hand.
    pub smtp: Option<SmtpConfig>,
    pub limits: Limits,
    pub displays: DisplaysConfig,
}

/// The largest powerbi-client script served (the library is about 250 kB minified).
pub const MAX_POWERBI_CLIENT_BYTES: u64 = 8 << 20;

/// The hosts of Microsoft's clouds Vitrine calls, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudUrls {
    pub powerbi_api: String,
    pub entra: String,
    pub arm: String,
}

fn cloud_url(field: &str, value: Option<String>, default: &str) -> Result<String, ConfigError> {
    let url = value.unwrap_or_else(|| default.to_string()).trim().trim_end_matches('/').to_string();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ConfigError::new(
            field,
            "must start with https:// (or http:// for a stand-in)",
        ));
    }
    Ok(url)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP upgraded with STARTTLS, which is required.
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption: only for a relay on the same host or network.
    None,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub from: String,
}

impl SmtpConfig {
    fn resolve(layer: SmtpLayer) -> Result<Option<SmtpConfig>, ConfigError> {
        let Some(host) = layer.host.filter(|h| !h.trim().is_empty()) else {
            if layer.from.is_some() || layer.user.is_some() {
                return Err(ConfigError::new("smtp.host", "is required when [smtp] is configured"));
            }
            return Ok(None);
        };
        if let Some(port) = layer.unreadable_port {
            return Err(ConfigError::new("smtp.port", format!("{port:?} is not a port number")));
        }
        let tls = match layer.tls.as_deref().unwrap_or("starttls") {
            "starttls" => SmtpTls::StartTls,
            "tls" => SmtpTls::Tls,
            "none" => SmtpTls::None,
            other => {
                return Err(ConfigError::new(
                    "smtp.tls",
                    format!("{other:?}: use starttls, tls or none"),
                ));
            }
        };
        let port = layer.port.unwrap_or(match tls {
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        });
        let from = layer.from.filter(|f| f.contains('@')).ok_or_else(|| {
            ConfigError::new("smtp.from", "must be the sender's address, e.g. bi@example.com")
        })?;
        if layer.password.is_some() && layer.user.is_none() {
            return Err(ConfigError::new("smtp.user", "is required with smtp.password"));
        }
        Ok(Some(SmtpConfig {
            host: host.trim().to_string(),
            port,
            tls,
            user: layer.user,
            password: layer.password.map(Secret),
            from,
        }))
    }
}

impl ServerConfig {
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    pub fn resolve(layer: ConfigLayer) -> Result<ServerConfig, ConfigError> {
        let listen_raw = layer.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_raw.parse().map_err(|_| {
            ConfigError::new(
                "listen",
                format!("{listen_raw:?} is not an address such as 127.0.0.1:8080"),
            )
        })?;
        let public_url = layer
            .public_url
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError::new("public_url", "must start with http:// or https://"));
        }
        let data_dir = layer.data_dir.unwrap_or_else(|| PathBuf::from("vitrine-data"));
        let database = layer
            .database
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("vitrine.db").display()));
        let log_format = match layer.log_format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(ConfigError::new("log_format", format!("{other:?}: use text or json")));
            }
        };
        let master_key = layer.master_key.map(Secret);
        if public_url.len() > MAX_PUBLIC_URL_BYTES {
            // It is every token's issuer: a longer one would crowd out the identity.
            return Err(ConfigError::new(
                "public_url",
                format!("must be at most {MAX_PUBLIC_URL_BYTES} bytes"),
            ));
        }
        let cloud = CloudUrls {
            powerbi_api: cloud_url(
                "powerbi_api_url",
                layer.powerbi_api_url,
                "https://api.powerbi.com",
            )?,
            entra: cloud_url("entra_url", layer.entra_url, "https://login.microsoftonline.com")?,
            arm: cloud_url("arm_url", layer.arm_url, "https://management.azure.com")?,
        };
        if let Some(path) = &layer.powerbi_client {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            if size == 0 || size > MAX_POWERBI_CLIENT_BYTES {
                return Err(ConfigError::new(
                    "powerbi_client",
                    format!(
                        "must name powerbi-client's dist/powerbi.min.js (a readable file of at most {} MB); {} is not",
                        MAX_POWERBI_CLIENT_BYTES >> 20,
                        path.display()
                    ),
                ));
            }
        }
        let smtp = layer.smtp.map(SmtpConfig::resolve).transpose()?.flatten();
        let limits = Limits::resolve(layer.limits.unwrap_or_default())?;
        let displays = DisplaysConfig::resolve(layer.displays.unwrap_or_default())?;
        Ok(ServerConfig {
            listen,
            public_url,
            data_dir,
            dataset_storage: layer.dataset_storage,
            cloud,
            powerbi_client: layer.powerbi_client,
            database,
            log_format,
            master_key,
            smtp,
            limits,
            displays,
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration setting `{setting}`: {message}")]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

impl ConfigError {
    fn new(setting: &str, message: impl Into<String>) -> Self {
        Self { setting: setting.into(), message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_powerbi_client_that_is_not_a_readable_script_is_refused_naming_the_setting() {
        let (layer, _) = ConfigLayer::from_env(env(&[(
            "VITRINE_POWERBI_CLIENT",
            "/nonexistent/powerbi-client/dist/powerbi.min.js",
        )]));
        let error = ServerConfig::resolve(layer).unwrap_err();
        assert_eq!(error.setting, "powerbi_client");
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("powerbi.min.js");
        std::fs::write(&script, "window.powerbi = {};").unwrap();
        let layer = ConfigLayer { powerbi_client: Some(script.clone()), ..Default::default() };
        assert_eq!(ServerConfig::resolve(layer).unwrap().powerbi_client, Some(script));
    }

    #[test]
    fn later_layers_override_earlier_ones_field_by_field() {
        let file: ConfigLayer =
            toml::from_str("listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/vitrine\"").unwrap();
        let (env_layer, unknown) = ConfigLayer::from_env(env(&[
            ("VITRINE_LISTEN", "127.0.0.1:9100"),
            ("VITRINE_LISTN", "x"),
        ]));
        let flags = ConfigLayer {
            public_url: Some("https://bi.example.com/".into()),
            ..Default::default()
        };
        let config = ServerConfig::resolve(
            ConfigLayer::default().overlay(file).overlay(env_layer).overlay(flags),
        )
        .unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:9100");
        assert_eq!(config.data_dir, PathBuf::from("/srv/vitrine"));
        assert_eq!(config.database, "sqlite:///srv/vitrine/vitrine.db");
        assert_eq!(config.public_url, "https://bi.example.com");
        assert!(config.secure_cookies());
        assert_eq!(unknown, vec!["VITRINE_LISTN".to_string()]);
    }

    #[test]
    fn defaults_listen_on_loopback_with_plain_http_cookies() {
        let config = ServerConfig::resolve(ConfigLayer::default()).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert!(!config.secure_cookies());
    }

    #[test]
    fn bad_values_name_the_setting() {
        let bad = ConfigLayer { listen: Some("localhost".into()), ..Default::default() };
        assert_eq!(ServerConfig::resolve(bad).unwrap_err().setting, "listen");
        let bad = ConfigLayer { public_url: Some("ftp://x".into()), ..Default::default() };
        assert_eq!(ServerConfig::resolve(bad).unwrap_err().setting, "public_url");
        assert!(
            toml::from_str::<ConfigLayer>("lisen = \"x\"").is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn the_displays_alert_is_read_from_the_file_or_the_environment_and_bad_values_name_it() {
        let file: ConfigLayer = toml::from_str(
            "[displays]\nalert_webhook = \"https://hooks.example.com/vitrine\"\noffline_alert_minutes = 30",
        )
        .unwrap();
        let config = ServerConfig::resolve(file).unwrap();
        assert_eq!(
            config.displays.alert_webhook.as_deref(),
            Some("https://hooks.example.com/vitrine")
        );
        assert_eq!(config.displays.offline_alert_minutes, 30);
        let defaults = ServerConfig::resolve(ConfigLayer::default()).unwrap().displays;
        assert_eq!((defaults.alert_webhook, defaults.offline_alert_minutes), (None, 15));
        let (env, unknown) = ConfigLayer::from_env([(
            "VITRINE_DISPLAY_ALERT_WEBHOOK".to_string(),
            "http://alerts.internal:9000/hook".to_string(),
        )]);
        assert!(unknown.is_empty());
        let config = ServerConfig::resolve(env).unwrap();
        assert_eq!(
            config.displays.alert_webhook.as_deref(),
            Some("http://alerts.internal:9000/hook")
        );
        for (toml, setting) in [
            ("[displays]\nalert_webhook = \"ftp://x\"", "displays.alert_webhook"),
            ("[displays]\noffline_alert_minutes = 1", "displays.offline_alert_minutes"),
        ] {
            let layer: ConfigLayer = toml::from_str(toml).unwrap();
            assert_eq!(ServerConfig::resolve(layer).unwrap_err().setting, setting);
        }
    }

    #[test]
    fn smtp_is_read_from_the_file_and_the_environment_with_defaults_by_tls_mode() {
        let file: ConfigLayer = toml::from_str(
            "[smtp]\nhost = \"mail.example.com\"\nfrom = \"bi@example.com\"\nuser = \"bi\"",
        )
        .unwrap();
        let (env_layer, unknown) = ConfigLayer::from_env(env(&[
            ("VITRINE_SMTP_PASSWORD", "s3cret"),
            ("VITRINE_SMTP_TLS", "tls"),
        ]));
        assert!(unknown.is_empty());
        let config = ServerConfig::resolve(file.overlay(env_layer)).unwrap();
        let smtp = config.smtp.expect("smtp configured");
        assert_eq!(smtp.host, "mail.example.com");
        assert_eq!(smtp.tls, SmtpTls::Tls);
        assert_eq!(smtp.port, 465);
        assert_eq!(smtp.password.as_ref().map(Secret::expose), Some("s3cret"));
        assert!(!format!("{smtp:?}").contains("s3cret"), "the password is never printed");
        assert!(ServerConfig::resolve(ConfigLayer::default()).unwrap().smtp.is_none());
    }

    #[test]
    fn bad_smtp_settings_name_the_setting() {
        let layer = |smtp: SmtpLayer| ConfigLayer { smtp: Some(smtp), ..Default::default() };
        let host = || Some("mail.example.com".to_string());
        let from = || Some("bi@example.com".to_string());
        let cases = [
            (SmtpLayer { from: from(), ..Default::default() }, "smtp.host"),
            (SmtpLayer { host: host(), ..Default::default() }, "smtp.from"),
            (
                SmtpLayer {
                    host: host(),
                    from: from(),
                    tls: Some("ssl".into()),
                    ..Default::default()
                },
                "smtp.tls",
            ),
            (
                SmtpLayer {
                    host: host(),
                    from: from(),
                    password: Some("x".into()),
                    ..Default::default()
                },
                "smtp.user",
            ),
        ];
        for (smtp, setting) in cases {
            assert_eq!(ServerConfig::resolve(layer(smtp)).unwrap_err().setting, setting);
        }
        let (env_layer, _) = ConfigLayer::from_env(env(&[
            ("VITRINE_SMTP_HOST", "mail.example.com"),
            ("VITRINE_SMTP_FROM", "bi@example.com"),
            ("VITRINE_SMTP_PORT", "twenty-five"),
        ]));
        assert_eq!(ServerConfig::resolve(env_layer).unwrap_err().setting, "smtp.port");
    }
}
