//! Pure rules of the product: no database, network or clock access here.
//!
//! Functions take "now" and the data they need as arguments so every rule
//! can be read and tested alone. The vocabulary enums derive diesel's
//! `AsExpression`/`FromSqlRow` markers so they can be stored as TEXT; their
//! SQL conversions live in `crate::db::types`.

/// Declares an enum stored as TEXT under its snake_case variant names
/// (`SickLeave` is `sick_leave` in the database, JSON and logs).
macro_rules! stored_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            serde::Serialize, serde::Deserialize,
            strum::EnumString, strum::IntoStaticStr, strum::Display, strum::VariantArray,
            diesel::AsExpression, diesel::FromSqlRow,
        )]
        #[strum(serialize_all = "snake_case")]
        #[serde(rename_all = "snake_case")]
        #[diesel(sql_type = diesel::sql_types::Text)]
        $vis enum $name { $($body)* }
    };
}

pub mod admin;
pub mod availability;
pub mod booking;
pub mod broadcast;
pub mod callback;
pub mod delivery;
pub mod ics;
pub mod inbound;
pub mod nudges;
pub mod owner_meetings;
pub mod period;
pub mod profile;
pub mod registration;
pub mod schedule;
pub mod settings;
pub mod slots;
pub mod user;
