//! Column types portable across both backends: UTC instants, TEXT enums and
//! id newtypes.
//!
//! Instants are `timestamptz` on PostgreSQL and fixed-width UTC text
//! (`2026-11-25T09:00:00.000000Z`, so text order is time order) on SQLite,
//! both truncated to microseconds so a value reads back exactly as written.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::Queryable;
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{HasSqlType, Nullable, Text, Timestamptz};
use diesel::sqlite::Sqlite;
use diesel::{AsExpression, FromSqlRow};
use diesel_derive_newtype::DieselNewType;
use serde::{Deserialize, Serialize};

use super::pool::MultiBackend;

/// SQL type of an instant: `timestamptz` on PostgreSQL, UTC text on SQLite.
#[derive(
    Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
)]
#[diesel(postgres_type(oid = 1184, array_oid = 1185))]
#[diesel(sqlite_type(name = "Text"))]
pub struct UtcInstant;

/// An instant as stored: a `DateTime<Utc>` with microsecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = UtcInstant)]
pub struct UtcTime(pub DateTime<Utc>);

const SQLITE_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

impl UtcTime {
    /// The instant as stored (truncated to microseconds).
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(at.trunc_subsecs(6))
    }

    /// The text SQLite holds for this instant.
    pub fn to_sqlite_text(self) -> String {
        self.0.trunc_subsecs(6).format(SQLITE_FORMAT).to_string()
    }

    fn from_sqlite_text(text: &str) -> Result<Self, String> {
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Ok(Self(at.with_timezone(&Utc)));
        }
        // Tolerate SQLite's own `CURRENT_TIMESTAMP` form, which is UTC.
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
            .map(|naive| Self(naive.and_utc()))
            .map_err(|_| format!("`{text}` is not a stored instant"))
    }
}

/// A nullable instant column read straight into `Option<DateTime<Utc>>`
/// (`#[diesel(deserialize_as = OptionalUtcTime)]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionalUtcTime(pub Option<DateTime<Utc>>);

impl<DB: Backend> Queryable<Nullable<UtcInstant>, DB> for OptionalUtcTime
where
    Option<UtcTime>: FromSql<Nullable<UtcInstant>, DB>,
{
    type Row = Option<UtcTime>;

    fn build(row: Self::Row) -> deserialize::Result<Self> {
        Ok(Self(row.map(|at| at.0)))
    }
}

impl From<OptionalUtcTime> for Option<DateTime<Utc>> {
    fn from(at: OptionalUtcTime) -> Self {
        at.0
    }
}

impl From<DateTime<Utc>> for UtcTime {
    fn from(at: DateTime<Utc>) -> Self {
        Self::new(at)
    }
}

impl From<UtcTime> for DateTime<Utc> {
    fn from(at: UtcTime) -> Self {
        at.0
    }
}

impl ToSql<UtcInstant, Pg> for UtcTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        let micros = self.0.trunc_subsecs(6);
        ToSql::<Timestamptz, Pg>::to_sql(&micros, &mut out.reborrow())
    }
}

impl FromSql<UtcInstant, Pg> for UtcTime {
    fn from_sql(
        bytes: <Pg as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        <DateTime<Utc> as FromSql<Timestamptz, Pg>>::from_sql(bytes).map(Self)
    }
}

impl ToSql<UtcInstant, Sqlite> for UtcTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.to_sqlite_text());
        Ok(IsNull::No)
    }
}

impl FromSql<UtcInstant, Sqlite> for UtcTime {
    fn from_sql(
        bytes: <Sqlite as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(bytes)?;
        Self::from_sqlite_text(&text).map_err(Into::into)
    }
}

impl HasSqlType<UtcInstant> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<UtcInstant>(lookup)
    }
}

impl FromSql<UtcInstant, MultiBackend> for UtcTime {
    fn from_sql(
        bytes: <MultiBackend as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        bytes.from_sql::<Self, UtcInstant>()
    }
}

impl ToSql<UtcInstant, MultiBackend> for UtcTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((UtcInstant, self));
        Ok(IsNull::No)
    }
}

/// Stores a string-named enum as TEXT on every backend (the CHECK constraint
/// in the migration lists the same names).
macro_rules! text_enum_sql {
    ($($ty:ty),+ $(,)?) => {$(
        impl<DB: Backend> ToSql<Text, DB> for $ty
        where
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                let name: &'static str = self.into();
                name.to_sql(out)
            }
        }

        impl<DB: Backend> FromSql<Text, DB> for $ty
        where
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let name = <String as FromSql<Text, DB>>::from_sql(bytes)?;
                name.parse().map_err(|_| {
                    format!("unexpected {} `{name}` in the database", stringify!($ty)).into()
                })
            }
        }
    )+};
}

text_enum_sql!(
    crate::domain::user::Status,
    crate::domain::user::Role,
    crate::domain::user::WorkStatus,
    crate::domain::user::Language,
    crate::domain::settings::BookingMode,
    crate::domain::settings::LimitPeriod,
    crate::domain::delivery::Lane,
    crate::domain::delivery::OutboxState,
    crate::domain::inbound::InboundState,
    crate::domain::booking::MeetingStatus,
    crate::domain::booking::SyncState,
    crate::domain::booking::ParticipantRole,
    crate::domain::booking::ReminderState,
    crate::db::google_connections::ConnectionKind,
    crate::db::google_connections::ConnectionStatus,
);

/// Declares an `i64` id newtype stored as BIGINT.
macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            DieselNewType,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}

id_type!(
    /// A row of `users`.
    UserId,
    /// A row of `departments`.
    DepartmentId,
    /// A row of `meetings`.
    MeetingId,
    /// A row of `blocked_periods`.
    BlockedPeriodId,
    /// A row of `reminders`.
    ReminderId,
    /// A row of `outbox_messages`.
    OutboxMessageId,
    /// A row of `broadcasts`.
    BroadcastId,
    /// A row of `audit_log`.
    AuditId,
    /// A Telegram user id (also the id of their private chat with the bot).
    TelegramId,
);

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sqlite_text_is_fixed_width_and_ordered() {
        let early = Utc.with_ymd_and_hms(2026, 3, 29, 0, 59, 59).unwrap();
        let late = early + chrono::TimeDelta::microseconds(1);
        let (a, b) = (
            UtcTime::new(early).to_sqlite_text(),
            UtcTime::new(late).to_sqlite_text(),
        );
        assert_eq!(a, "2026-03-29T00:59:59.000000Z");
        assert_eq!(a.len(), b.len());
        assert!(a < b);
        assert_eq!(UtcTime::from_sqlite_text(&b), Ok(UtcTime::new(late)));
        assert_eq!(
            UtcTime::from_sqlite_text("2026-03-29 00:59:59"),
            Ok(UtcTime::new(early))
        );
        assert!(UtcTime::from_sqlite_text("yesterday").is_err());
    }

    #[test]
    fn instants_are_truncated_to_microseconds() {
        let at = Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(UtcTime::new(at).0.timestamp_subsec_nanos(), 123_456_000);
    }
}
