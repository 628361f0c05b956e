//! Timestamps: RFC 3339 UTC with milliseconds (`2026-11-28T21:32:21.123Z`), fixed width so text sorts by time.

use chrono::{DateTime, SecondsFormat, Utc};

/// The current time.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Formats a time the way the API and the stores write it.
pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The current time, formatted.
pub fn now_string() -> String {
    format(now())
}

/// Parses an RFC 3339 timestamp into UTC.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
