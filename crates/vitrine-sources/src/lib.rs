//! Live data sources: an organization's PostgreSQL or MySQL/MariaDB database, read where it
//! lives. A dataset is a table, a view or a read-only query of a source, used in one of two
//! ways: **direct**, where every visual's whole plan (filters, row-level security, grouping,
//! aggregates, order, limit) is turned into one SQL query by DataFusion's unparser and run by
//! the source; or **imported**, where the rows are copied into a dataset file.
//!
//! Connections are pools with a bound on their size, a query timeout set in the session, and
//! sessions that cannot write. Errors never carry a password.

mod connection;
mod decode;
mod dialect;
mod import;
mod relation;
mod table;

pub use connection::{ConnectionSpec, Source, SourceError, SourceKind, TlsMode};
pub use relation::{Relation, TableName};
pub use table::SourceTable;
