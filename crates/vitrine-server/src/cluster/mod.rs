//! Several nodes on one database. Each node keeps some of the database in memory (the
//! revocation index, the signing keys, open datasets, connection pools) and tells open viewers
//! about changes; [`ChangeFeed`] carries every such change to the other nodes, in order, within
//! a second, and [`Leadership`] lets one node at a time run what must happen once per
//! installation (the capacity scheduler's decisions, scheduled imports, display alerts).
//!
//! Nothing here asks which database it runs on: on SQLite the one node reads its own feed and
//! always leads; on PostgreSQL announcements arrive by `LISTEN/NOTIFY`.

mod feed;
mod leadership;

pub use feed::{CATCH_UP, Change, ChangeFeed, spawn_follower};
pub use leadership::{LEASE, Leadership, spawn_lease};

/// This process's name among the nodes: unique per start, readable in logs and the feed.
pub fn node_name() -> String {
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty() && h.len() <= 64);
    let id = uuid::Uuid::now_v7().simple().to_string();
    format!("{}-{}-{}", host.as_deref().unwrap_or("node"), std::process::id(), &id[id.len() - 6..])
}
