//! Cron schedules for periodic work (`build.schedule`, and later backups): standard
//! five-field expressions (`minute hour day-of-month month day-of-week`), or six with
//! seconds first, in UTC.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;

/// A parsed cron expression.
#[derive(Clone)]
pub struct Schedule {
    text: String,
    cron: Cron,
}

impl Schedule {
    /// Parses a five-field cron expression, six with seconds first, or `@hourly`,
    /// `@daily`, ….
    pub fn parse(text: &str) -> Result<Schedule, &'static str> {
        const WHAT: &str = "a cron schedule (five fields, like `0 * * * *` or `*/15 * * * *`)";
        let text = text.trim();
        if !text.starts_with('@') && !matches!(text.split_whitespace().count(), 5 | 6) {
            return Err(WHAT);
        }
        let cron = Cron::from_str(text).map_err(|_| WHAT)?;
        // A pattern that can never match (31 February) is as wrong as one that does not parse.
        cron.find_next_occurrence(&Utc::now(), false)
            .map_err(|_| "a cron schedule that ever runs")?;
        Ok(Schedule {
            text: text.to_owned(),
            cron,
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first time strictly after `after` that the schedule names.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&after, false).ok()
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn next_times_follow_the_fields() {
        let hourly = Schedule::parse("0 * * * *").unwrap();
        assert_eq!(
            hourly.next_after(at("2026-11-22T15:40:10Z")),
            Some(at("2026-11-22T16:00:00Z"))
        );
        // Strictly after: a run at the exact time is not scheduled again.
        assert_eq!(
            hourly.next_after(at("2026-11-22T16:00:00Z")),
            Some(at("2026-11-22T17:00:00Z"))
        );
        let quarter = Schedule::parse("*/15 3 * * 1").unwrap();
        // 2026-11-22 is a Sunday: next Monday 03:00.
        assert_eq!(
            quarter.next_after(at("2026-11-22T15:40:00Z")),
            Some(at("2026-11-23T03:00:00Z"))
        );
        assert!(Schedule::parse("@daily").is_ok());
        let seconds = Schedule::parse("*/10 * * * * *").unwrap();
        assert_eq!(
            seconds.next_after(at("2026-11-22T15:40:01Z")),
            Some(at("2026-11-22T15:40:10Z"))
        );
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in [
            "",
            "hourly",
            "* * * *",
            "61 * * * *",
            "0 0 31 2 *",
            "0 0 * * * * * *",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
