//! Pure rules of the product: no database, network or clock access here.
//!
//! Functions take "now" and the data they need as arguments so every rule
//! can be read and tested alone. The vocabulary enums derive diesel's
//! `AsExpression`/`FromSqlRow` markers so they can be stored as TEXT; their
//! SQL conversions live in `crate::db::types`.

pub mod settings;
pub mod user;
