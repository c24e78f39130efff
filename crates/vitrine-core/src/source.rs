//! The vocabulary of live data sources: which database a connection speaks, how it uses
//! TLS, and how a dataset reads it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Postgres,
    Mysql,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Postgres => "postgres",
            SourceKind::Mysql => "mysql",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "postgres" => Some(SourceKind::Postgres),
            "mysql" => Some(SourceKind::Mysql),
            _ => None,
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            SourceKind::Postgres => 5432,
            SourceKind::Mysql => 3306,
        }
    }
}

/// How the connection uses TLS: `disable`, `prefer` (TLS when the server offers it),
/// `require` (TLS, certificate not checked) or `verify-full` (TLS with the server's
/// certificate and host name checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TlsMode {
    #[serde(rename = "disable")]
    Disable,
    #[serde(rename = "prefer")]
    Prefer,
    #[serde(rename = "require")]
    Require,
    #[serde(rename = "verify-full")]
    VerifyFull,
}

impl TlsMode {
    pub const ALL: [&'static str; 4] = ["disable", "prefer", "require", "verify-full"];

    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "disable" => Some(TlsMode::Disable),
            "prefer" => Some(TlsMode::Prefer),
            "require" => Some(TlsMode::Require),
            "verify-full" => Some(TlsMode::VerifyFull),
            _ => None,
        }
    }
}

/// How a dataset of a connection is read: `direct` (every visual is a query at the source)
/// or `imported` (copied into a dataset file on a schedule or on demand).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceMode {
    Direct,
    Imported,
}

impl SourceMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceMode::Direct => "direct",
            SourceMode::Imported => "imported",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "direct" => Some(SourceMode::Direct),
            "imported" => Some(SourceMode::Imported),
            _ => None,
        }
    }
}

/// What started a refresh of an imported dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefreshTrigger {
    /// Its first import, when it was created.
    Created,
    /// Someone asked (the portal's button, `POST …/refresh`).
    Manual,
    /// Its schedule.
    Schedule,
}

impl RefreshTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshTrigger::Created => "created",
            RefreshTrigger::Manual => "manual",
            RefreshTrigger::Schedule => "schedule",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "created" => Some(RefreshTrigger::Created),
            "manual" => Some(RefreshTrigger::Manual),
            "schedule" => Some(RefreshTrigger::Schedule),
            _ => None,
        }
    }
}
