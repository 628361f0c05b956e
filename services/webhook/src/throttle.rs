//! Log lines for conditions that can repeat thousands of times a second (every webhook refused or spooled during an
//! outage): at most one line per second per condition, each with the number of occurrences it stands for and the
//! last error. Nothing is lost from the count: occurrences after the last line are written by the next one, or by
//! [`Throttled::flush`], which a background task calls every second.

use std::{
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

/// The shortest time between two lines of one condition.
pub const EVERY: Duration = Duration::from_secs(1);

/// One line to write: how many occurrences it stands for, and the last one's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Occurrences since the previous line (at least 1).
    pub count: u64,
    /// The error of the last of them.
    pub error: String,
}

#[derive(Default)]
struct Window {
    /// When the next line may be written (`None`: at once).
    next: Option<Instant>,
    pending: u64,
    last_error: String,
}

/// One condition's counter.
#[derive(Default)]
pub struct Throttled {
    window: Mutex<Window>,
}

impl Throttled {
    /// Counts one occurrence at `now`; returns the line to write, if one is due.
    pub fn record_at(&self, now: Instant, error: &str) -> Option<Line> {
        let mut w = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        w.pending += 1;
        error.clone_into(&mut w.last_error);
        take(&mut w, now)
    }

    /// The line for occurrences not yet written, once one is due.
    pub fn flush_at(&self, now: Instant) -> Option<Line> {
        let mut w = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        if w.pending == 0 {
            return None;
        }
        take(&mut w, now)
    }

    /// [`Throttled::record_at`] now.
    pub fn record(&self, error: &str) -> Option<Line> {
        self.record_at(Instant::now(), error)
    }

    /// [`Throttled::flush_at`] now.
    pub fn flush(&self) -> Option<Line> {
        self.flush_at(Instant::now())
    }
}

fn take(w: &mut Window, now: Instant) -> Option<Line> {
    if w.next.is_some_and(|next| now < next) {
        return None;
    }
    w.next = Some(now + EVERY);
    let count = std::mem::take(&mut w.pending);
    Some(Line {
        count,
        error: w.last_error.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_one_line_per_second_and_every_occurrence_is_counted() {
        let t = Throttled::default();
        let start = Instant::now();
        let first = t.record_at(start, "e0").unwrap();
        assert_eq!(
            first,
            Line {
                count: 1,
                error: "e0".into()
            }
        );
        // 6,969 more within the same second: no line, counted.
        for i in 1..6970 {
            let at = start + Duration::from_micros(i * 100);
            assert_eq!(t.record_at(at, &format!("e{i}")), None);
        }
        assert_eq!(t.flush_at(start + Duration::from_millis(900)), None);
        let second = t.flush_at(start + EVERY).unwrap();
        assert_eq!(
            second,
            Line {
                count: 6969,
                error: "e6969".into()
            }
        );
        // Nothing left: no line, however late.
        assert_eq!(t.flush_at(start + EVERY * 10), None);
        // After a quiet spell the next occurrence is written at once.
        assert_eq!(
            t.record_at(start + EVERY * 11, "later"),
            Some(Line {
                count: 1,
                error: "later".into()
            })
        );
        assert_eq!(t.record_at(start + EVERY * 11, "again"), None);
        assert_eq!(
            t.record_at(start + EVERY * 12, "next"),
            Some(Line {
                count: 2,
                error: "next".into()
            })
        );
    }
}
