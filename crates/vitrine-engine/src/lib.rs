//! Vitrine's built-in report engine on Apache DataFusion: datasets loaded from CSV or Parquet
//! into memory, reports defined as JSON and validated against their dataset, visual queries
//! built with DataFusion's expression API (never by pasting request text into SQL), and
//! row-level security applied to every query.

pub mod dataset;
pub mod definition;
pub mod demo_data;
pub mod engine;
mod json_rows;
pub mod query;
pub mod rls;

pub use dataset::{ColumnInfo, ColumnKind, DataFormat, DatasetInfo};
pub use definition::{DefinitionError, ReportDefinition};
pub use engine::{Engine, EngineError};
pub use query::{QueryRequest, QueryResult, ValueFilter};
pub use rls::RlsError;
