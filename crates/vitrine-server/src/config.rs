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
    "VITRINE_DATABASE",
    "VITRINE_LOG",
    "VITRINE_LOG_FORMAT",
    "VITRINE_MASTER_KEY",
];

/// One layer of settings; `None` means "not set here".
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigLayer {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database: Option<String>,
    pub log_format: Option<String>,
    /// Only from the environment (`VITRINE_MASTER_KEY`): never written in a file.
    #[serde(skip)]
    pub master_key: Option<String>,
}

impl ConfigLayer {
    /// Values set in `over` replace those of `self`.
    pub fn overlay(self, over: ConfigLayer) -> ConfigLayer {
        ConfigLayer {
            listen: over.listen.or(self.listen),
            public_url: over.public_url.or(self.public_url),
            data_dir: over.data_dir.or(self.data_dir),
            database: over.database.or(self.database),
            log_format: over.log_format.or(self.log_format),
            master_key: over.master_key.or(self.master_key),
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
        for (key, value) in vars {
            match key.as_str() {
                "VITRINE_LISTEN" => layer.listen = Some(value),
                "VITRINE_PUBLIC_URL" => layer.public_url = Some(value),
                "VITRINE_DATA_DIR" => layer.data_dir = Some(value.into()),
                "VITRINE_DATABASE" => layer.database = Some(value),
                "VITRINE_LOG_FORMAT" => layer.log_format = Some(value),
                "VITRINE_MASTER_KEY" => layer.master_key = Some(value),
                k if k.starts_with("VITRINE_") && !KNOWN_ENV.contains(&k) => unknown.push(key),
                _ => {}
            }
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

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The address users reach Vitrine at; an `https` URL makes cookies `Secure`.
    pub public_url: String,
    pub data_dir: PathBuf,
    pub database: String,
    pub log_format: LogFormat,
    /// Seals the token signing keys; when absent, a key file in the data directory is used.
    pub master_key: Option<Secret>,
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
        Ok(ServerConfig { listen, public_url, data_dir, database, log_format, master_key })
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
}
