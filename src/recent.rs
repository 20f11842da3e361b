//! The last hour of verdicts, minute by minute, in memory: what the
//! console's "Now" panel charts.
//!
//! Bounded by construction: sixty slots, one per minute, reused in a ring;
//! each holds a count per verdict and at most [`MAX_CATEGORIES`] category
//! counts. A callback costs one division, an atomic load and an atomic add;
//! one whose message hit something also takes the slot's lock for a few
//! string comparisons (hits are rare next to clean traffic, and the lock is
//! held for nanoseconds). Minutes are measured on the monotonic clock from
//! when the counters were made, so a request reads no clock for them: the
//! webhook passes the instant it already has.
//!
//! A leaf: it knows verdict labels and category names as strings, nothing
//! of the engine.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::audit::VerdictLabel;

/// Minutes kept.
pub const MINUTES: usize = 60;

/// Categories counted per minute; hits of further categories in that
/// minute count under [`OTHER`].
pub const MAX_CATEGORIES: usize = 32;

/// Where the categories past [`MAX_CATEGORIES`] are counted.
pub const OTHER: &str = "(other)";

const VERDICTS: usize = VerdictLabel::ALL.len();

/// Verdicts and category hits per minute for the last [`MINUTES`] minutes.
#[derive(Debug)]
pub struct Recent {
    origin: Instant,
    /// `origin` on the wall clock, in Unix seconds.
    origin_unix: u64,
    slots: [Slot; MINUTES],
}

#[derive(Debug, Default)]
struct Slot {
    /// The minute (since `origin`) this slot counts, plus one; 0 for never.
    minute: AtomicU64,
    verdicts: [AtomicU64; VERDICTS],
    /// Callbacks whose message hit each category (once per callback).
    categories: Mutex<Vec<(String, u64)>>,
}

impl Default for Recent {
    fn default() -> Recent {
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
        Recent { origin: Instant::now(), origin_unix: unix, slots: std::array::from_fn(|_| Slot::default()) }
    }
}

/// The last hour as the console charts it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Hour {
    /// Start of each minute, Unix seconds, oldest first (the last is the
    /// current, unfinished minute).
    pub minutes: Vec<u64>,
    /// Callbacks per minute by verdict label, for labels seen this hour.
    pub verdicts: Vec<Series>,
    /// Callbacks whose message hit each category, per minute.
    pub categories: Vec<Series>,
}

/// One line of the chart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Series {
    /// The verdict label or category name.
    pub name: String,
    /// One count per minute of [`Hour::minutes`].
    pub counts: Vec<u64>,
}

impl Recent {
    /// The minute `at` falls in, counted from the origin.
    fn minute(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_secs() / 60
    }

    /// The slot for `minute`, cleared first if it still holds an older one.
    fn slot(&self, minute: u64) -> &Slot {
        let slot = &self.slots[(minute % MINUTES as u64) as usize];
        let held = slot.minute.load(Ordering::Acquire);
        if held != minute + 1
            && slot.minute.compare_exchange(held, minute + 1, Ordering::AcqRel, Ordering::Acquire).is_ok()
        {
            // The one caller that moved the slot on clears it. A count that
            // lands between the move and the clear is lost: this is a chart,
            // not an account.
            for count in &slot.verdicts {
                count.store(0, Ordering::Relaxed);
            }
            if let Ok(mut categories) = slot.categories.lock() {
                categories.clear();
            }
        }
        slot
    }

    /// Counts one callback answered at `at` with `verdict`, whose message
    /// hit `categories` (repeats are counted once).
    pub fn record<'c>(
        &self,
        at: Instant,
        verdict: VerdictLabel,
        categories: impl IntoIterator<Item = &'c str>,
    ) {
        let slot = self.slot(self.minute(at));
        slot.verdicts[verdict as usize].fetch_add(1, Ordering::Relaxed);
        let mut categories = categories.into_iter().peekable();
        if categories.peek().is_none() {
            return;
        }
        let Ok(mut counts) = slot.categories.lock() else { return };
        let mut counted: Vec<&str> = Vec::new();
        for category in categories {
            if counted.contains(&category) {
                continue;
            }
            counted.push(category);
            let name = if counts.len() >= MAX_CATEGORIES && !counts.iter().any(|(name, _)| name == category) {
                OTHER
            } else {
                category
            };
            match counts.iter_mut().find(|(known, _)| known == name) {
                Some((_, count)) => *count += 1,
                None => counts.push((name.to_string(), 1)),
            }
        }
    }

    /// The [`MINUTES`] minutes up to and including the one `now` is in.
    pub fn hour(&self, now: Instant) -> Hour {
        let current = self.minute(now);
        let first = (current + 1).saturating_sub(MINUTES as u64);
        let minutes: Vec<u64> = (first..=current).collect();
        let mut hour = Hour {
            minutes: minutes.iter().map(|minute| self.origin_unix + minute * 60).collect(),
            ..Hour::default()
        };
        let mut verdicts = [const { Vec::new() }; VERDICTS];
        for (at, &minute) in minutes.iter().enumerate() {
            let slot = &self.slots[(minute % MINUTES as u64) as usize];
            let live = slot.minute.load(Ordering::Acquire) == minute + 1;
            for (label, series) in verdicts.iter_mut().enumerate() {
                series.push(if live { slot.verdicts[label].load(Ordering::Relaxed) } else { 0 });
            }
            if !live {
                continue;
            }
            let Ok(counts) = slot.categories.lock() else { continue };
            for (name, count) in counts.iter() {
                let series = match hour.categories.iter_mut().position(|series| &series.name == name) {
                    Some(index) => &mut hour.categories[index],
                    None => {
                        hour.categories.push(Series { name: name.clone(), counts: vec![0; minutes.len()] });
                        let last = hour.categories.len() - 1;
                        &mut hour.categories[last]
                    }
                };
                series.counts[at] = *count;
            }
        }
        for (label, counts) in VerdictLabel::ALL.into_iter().zip(verdicts) {
            if counts.iter().any(|&count| count > 0) {
                hour.verdicts.push(Series { name: label.as_str().to_string(), counts });
            }
        }
        hour.categories.sort_by(|a, b| a.name.cmp(&b.name));
        hour
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counts_land_in_their_minute_and_age_out_after_an_hour() {
        let recent = Recent::default();
        let at = |minutes: u64, seconds: u64| recent.origin + Duration::from_secs(minutes * 60 + seconds);
        recent.record(at(0, 1), VerdictLabel::Allow, []);
        recent.record(at(0, 59), VerdictLabel::Reject, ["ads", "ads", "fraud"]);
        recent.record(at(2, 0), VerdictLabel::Mask, ["rude"]);
        let hour = recent.hour(at(2, 30));
        assert_eq!(hour.minutes.len(), 3, "only minutes since the start");
        assert_eq!(hour.minutes[1] - hour.minutes[0], 60);
        let series = |list: &[Series], name: &str| {
            list.iter().find(|series| series.name == name).map(|series| series.counts.clone())
        };
        assert_eq!(series(&hour.verdicts, "allow"), Some(vec![1, 0, 0]));
        assert_eq!(series(&hour.verdicts, "reject"), Some(vec![1, 0, 0]));
        assert_eq!(series(&hour.verdicts, "mask"), Some(vec![0, 0, 1]));
        assert_eq!(series(&hour.verdicts, "discard"), None, "labels never seen are left out");
        assert_eq!(series(&hour.categories, "ads"), Some(vec![1, 0, 0]), "once per callback");
        assert_eq!(series(&hour.categories, "rude"), Some(vec![0, 0, 1]));

        // An hour on, minute 0's slot is reused for minute 60.
        recent.record(at(60, 5), VerdictLabel::Allow, []);
        let hour = recent.hour(at(61, 0));
        assert_eq!(hour.minutes.len(), MINUTES);
        assert_eq!(series(&hour.verdicts, "allow").map(|c| c.iter().sum::<u64>()), Some(1));
        assert_eq!(series(&hour.verdicts, "mask").map(|c| c[0]), Some(1), "minute 2 is still in the hour");
        assert_eq!(series(&hour.categories, "ads"), None, "aged out");
        assert_eq!(series(&hour.categories, "rude").map(|c| c.iter().sum::<u64>()), Some(1));
    }

    #[test]
    fn categories_per_minute_are_bounded() {
        let recent = Recent::default();
        let names: Vec<String> = (0..MAX_CATEGORIES + 5).map(|i| format!("c{i:02}")).collect();
        for name in &names {
            recent.record(recent.origin, VerdictLabel::Reject, [name.as_str()]);
        }
        let hour = recent.hour(recent.origin);
        assert_eq!(hour.categories.len(), MAX_CATEGORIES + 1);
        let other = hour.categories.iter().find(|series| series.name == OTHER).map(|series| series.counts[0]);
        assert_eq!(other, Some(5));
    }
}
