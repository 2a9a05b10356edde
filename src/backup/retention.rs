//! The retention policy, as a pure function: keep every backup for a while, then only the
//! first backup of each calendar day, then only the first of each calendar month (UTC).
//! Unlike tools that keep the *latest* snapshot of a period, this keeps the *earliest*.
//!
//! For a backup of age `a` (from `now`):
//! - `a < keep_all`: kept (`recent`);
//! - `keep_all ≤ a < keep_daily`: kept if no backup of the same calendar day is earlier
//!   (`daily`);
//! - `a ≥ keep_daily`: kept if no backup of the same calendar month is earlier
//!   (`monthly`);
//! - the newest backup is always kept (`newest`).
//!
//! "Earlier" counts every backup of that day or month, whatever its band, so the answer
//! for one timestamp never depends on the order of the input, and pruning every hour
//! ends where pruning once would.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

/// The two thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Younger than this: every backup is kept.
    pub keep_all: Duration,
    /// Younger than this (and older than `keep_all`): the first of each day.
    pub keep_daily: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            keep_all: Duration::days(30),
            keep_daily: Duration::days(365),
        }
    }
}

/// Why a backup is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// Younger than the first threshold.
    Recent,
    /// The first backup of its calendar day, between the thresholds.
    Daily,
    /// The first backup of its calendar month, older than the second threshold.
    Monthly,
    /// The newest backup, which is never dropped.
    Newest,
}

impl Rule {
    /// Its name in `backup list` and `backup retention`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Recent => "recent",
            Rule::Daily => "daily",
            Rule::Monthly => "monthly",
            Rule::Newest => "newest",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on one backup: `Some(rule)` keeps it, `None` drops it.
pub type Verdict = Option<Rule>;

fn month_of(t: DateTime<Utc>) -> (i32, u32) {
    (t.year(), t.month())
}

fn day_of(t: DateTime<Utc>) -> NaiveDate {
    t.date_naive()
}

/// The verdict on each of `backups`, in their order, at `now`.
pub fn judge(backups: &[DateTime<Utc>], now: DateTime<Utc>, policy: Policy) -> Vec<Verdict> {
    let newest = backups.iter().max().copied();
    let mut first_of_day: HashMap<NaiveDate, DateTime<Utc>> = HashMap::new();
    let mut first_of_month: HashMap<(i32, u32), DateTime<Utc>> = HashMap::new();
    for &t in backups {
        first_of_day
            .entry(day_of(t))
            .and_modify(|e| *e = (*e).min(t))
            .or_insert(t);
        first_of_month
            .entry(month_of(t))
            .and_modify(|e| *e = (*e).min(t))
            .or_insert(t);
    }
    backups
        .iter()
        .map(|&t| {
            let age = now - t;
            let rule = if age < policy.keep_all {
                Some(Rule::Recent)
            } else if age < policy.keep_daily {
                (first_of_day[&day_of(t)] == t).then_some(Rule::Daily)
            } else {
                (first_of_month[&month_of(t)] == t).then_some(Rule::Monthly)
            };
            rule.or((Some(t) == newest).then_some(Rule::Newest))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn each_band_keeps_what_the_policy_says() {
        let now = at("2026-11-22T12:00:00Z");
        let backups = [
            at("2026-11-22T11:00:00Z"), // recent
            at("2026-11-01T05:00:00Z"), // recent (21 days)
            at("2026-10-01T03:00:00Z"), // 52 days: first of its day
            at("2026-10-01T01:00:00Z"), // 52 days: earlier, the first of its day
            at("2026-10-01T23:00:00Z"), // same day, later: dropped
            at("2025-06-15T10:00:00Z"), // over a year: not the first of June
            at("2025-06-02T10:00:00Z"), // over a year: the first of June 2025
        ];
        let verdicts = judge(&backups, now, Policy::default());
        assert_eq!(
            verdicts,
            [
                Some(Rule::Recent),
                Some(Rule::Recent),
                None,
                Some(Rule::Daily),
                None,
                None,
                Some(Rule::Monthly),
            ]
        );
    }

    #[test]
    fn the_newest_is_kept_even_when_old() {
        let now = at("2026-11-22T12:00:00Z");
        let backups = [at("2024-03-05T10:00:00Z"), at("2024-03-09T10:00:00Z")];
        assert_eq!(
            judge(&backups, now, Policy::default()),
            [Some(Rule::Monthly), Some(Rule::Newest)]
        );
        assert_eq!(judge(&[], now, Policy::default()), []);
    }

    #[test]
    fn thresholds_are_inclusive_of_the_older_band() {
        let now = at("2026-11-22T12:00:00Z");
        let policy = Policy::default();
        let exactly_30 = now - Duration::days(30);
        let later_that_day = exactly_30 + Duration::hours(1);
        // Exactly 30 days old is in the daily band; an hour younger is recent.
        let v = judge(
            &[
                exactly_30 - Duration::hours(1),
                exactly_30,
                later_that_day,
                now,
            ],
            now,
            policy,
        );
        assert_eq!(
            v,
            [
                Some(Rule::Daily),
                None,
                Some(Rule::Recent),
                Some(Rule::Recent)
            ]
        );
    }

    /// Two years of hourly backups, pruned every hour as `serve` would, end with: the 720
    /// of the last 30 days; one for each day from 30 to 365 days back (2025-01-01 to
    /// 2025-12-01: 335); one for each month before that (2024: 12).
    #[test]
    fn two_years_of_hourly_runs_with_pruning_every_hour() {
        let start = at("2024-01-01T00:00:00Z");
        let end = at("2025-12-31T23:00:00Z");
        let policy = Policy::default();
        let mut kept: Vec<DateTime<Utc>> = Vec::new();
        let mut t = start;
        while t <= end {
            kept.push(t);
            let verdicts = judge(&kept, t, policy);
            kept = kept
                .iter()
                .zip(verdicts)
                .filter_map(|(b, v)| v.map(|_| *b))
                .collect();
            t += Duration::hours(1);
        }
        let verdicts = judge(&kept, end, policy);
        let count = |rule| verdicts.iter().filter(|v| **v == Some(rule)).count();
        assert_eq!(count(Rule::Recent), 720);
        assert_eq!(count(Rule::Daily), 335);
        assert_eq!(count(Rule::Monthly), 12);
        assert_eq!(kept.len(), 720 + 335 + 12);
        // Pruning every hour ends where pruning once does.
        let all: Vec<_> = std::iter::successors(Some(start), |t| Some(*t + Duration::hours(1)))
            .take_while(|t| *t <= end)
            .collect();
        let once: Vec<_> = all
            .iter()
            .zip(judge(&all, end, policy))
            .filter_map(|(b, v)| v.map(|_| *b))
            .collect();
        assert_eq!(kept, once);
    }

    fn timestamps() -> impl Strategy<Value = Vec<DateTime<Utc>>> {
        // Up to three years before "now", to the second, with clusters on some days.
        prop::collection::vec(0i64..(3 * 365 * 86_400), 0..120).prop_map(|ages| {
            let now = at("2026-11-22T12:00:00Z");
            ages.into_iter()
                .map(|a| now - Duration::seconds(a))
                .collect()
        })
    }

    proptest! {
        #[test]
        fn the_newest_is_always_kept(backups in timestamps()) {
            let now = at("2026-11-22T12:00:00Z");
            let verdicts = judge(&backups, now, Policy::default());
            if let Some(newest) = backups.iter().max() {
                for (b, v) in backups.iter().zip(&verdicts) {
                    if b == newest {
                        prop_assert!(v.is_some());
                    }
                }
            }
        }

        #[test]
        fn each_day_between_the_thresholds_keeps_exactly_its_earliest(backups in timestamps()) {
            let now = at("2026-11-22T12:00:00Z");
            let policy = Policy::default();
            let verdicts = judge(&backups, now, policy);
            let newest = backups.iter().max().copied();
            let mut days: HashMap<NaiveDate, Vec<(DateTime<Utc>, Verdict)>> = HashMap::new();
            for (b, v) in backups.iter().zip(&verdicts) {
                let age = now - *b;
                if age >= policy.keep_all && age < policy.keep_daily && Some(*b) != newest {
                    days.entry(b.date_naive()).or_default().push((*b, *v));
                }
            }
            for (day, entries) in days {
                let earliest_of_day = backups.iter().filter(|b| b.date_naive() == day).min().copied();
                for (b, v) in entries {
                    prop_assert_eq!(v.is_some(), Some(b) == earliest_of_day, "{} on {}", b, day);
                }
            }
        }

        #[test]
        fn the_verdicts_do_not_depend_on_the_order(backups in timestamps(), seed in any::<u64>()) {
            let now = at("2026-11-22T12:00:00Z");
            let policy = Policy::default();
            let verdicts = judge(&backups, now, policy);
            let mut shuffled: Vec<(DateTime<Utc>, Verdict)> = backups.iter().copied().zip(verdicts).collect();
            // A deterministic shuffle from the seed.
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let order: Vec<DateTime<Utc>> = shuffled.iter().map(|(b, _)| *b).collect();
            let again = judge(&order, now, policy);
            for ((_, before), after) in shuffled.iter().zip(again) {
                prop_assert_eq!(*before, after);
            }
        }
    }
}
