//! Vitrine's server: the portals, the JSON API and the wiring of the services behind them.

pub mod api;
pub mod app;
pub mod auth;
pub mod backup;
pub mod capacity;
pub mod cluster;
pub mod config;
pub mod database;
pub mod demo;
pub mod error;
pub mod files;
pub mod mail;
pub mod metrics;
pub mod notices;
pub mod pairing;
pub mod portal;
pub mod reads;
pub mod scim;
pub mod services;
pub mod timed;
pub mod tokens;

pub use app::{AppState, router, serve};
pub use config::ServerConfig;
