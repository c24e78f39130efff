//! Vitrine's built-in report engine on Apache DataFusion: datasets kept as Parquet files on
//! disk and scanned (their hot column chunks kept decoded in a bounded cache), never held
//! whole in memory, or tables of outside sources queried in place; reports defined as JSON
//! and validated against their dataset; visual queries built with DataFusion's expression API
//! (never by pasting request text into SQL), planned once and run again while their dataset
//! stays the same; row-level security applied to every query.

pub mod column_cache;
mod compact;
pub mod dataset;
pub mod definition;
pub mod demo_data;
pub mod dictionary_groups;
pub mod engine;
pub mod grain;
mod json_rows;
pub mod plans;
pub mod query;
pub mod results;
pub mod rls;
pub mod storage;

pub use dataset::{ColumnInfo, ColumnKind, DataFormat, DatasetInfo};
pub use definition::{DefinitionError, ReportDefinition};
pub use engine::{DataFile, Engine, EngineError, RemoteTable};
pub use query::{QueryRequest, QueryResult, ValueFilter};
pub use rls::RlsError;
