//! PostgreSQL: logical dumps, physical base backups with WAL archiving,
//! and the scratch servers that prove them.

pub(crate) mod catalog;
pub(crate) mod logical;
pub(crate) mod physical;
pub(crate) mod scratch;
pub mod wal;
