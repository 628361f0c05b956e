//! Cron expressions: 5 fields (minute … day of week), 6 with leading seconds, or 7 with a trailing year of `*`.

use chrono::{DateTime, Utc};

/// A parsed schedule.
pub struct Schedule(croner::Cron);

impl std::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Schedule")
    }
}

/// Parses a cron expression; `None` when it is not valid.
pub fn parse(expression: &str) -> Option<Schedule> {
    let fields: Vec<&str> = expression.split_whitespace().collect();
    let pattern = match fields.len() {
        5 | 6 => fields.join(" "),
        // Quartz-style year field: only "every year" can be honoured.
        7 if matches!(fields[6], "*" | "?") => fields[..6].join(" "),
        _ => return None,
    };
    croner::Cron::new(&pattern)
        .with_seconds_optional()
        .parse()
        .ok()
        .map(Schedule)
}

impl Schedule {
    /// The first time strictly after `after`, if any.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0.find_next_occurrence(&after, false).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn five_six_and_seven_field_expressions_parse() {
        for ok in [
            "*/2 * * * *",
            "0 0 * * 0",
            "0 */5 * * * *",
            "0 0 12 * * MON-FRI",
            "0 0 * * * * *",
        ] {
            assert!(parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "bad",
            "61 * * * *",
            "* * * *",
            "0 0 * * * * 2030",
            "* * * * * * * *",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
