//! The generator guard, second by second. A run-wide average hides a saturated peak, and a
//! run-wide "sent vs. scheduled" blames the generator for a target that stopped answering. Each
//! merged second is judged on what only the generator controls: its threads' CPU, and the pacer's
//! own lateness (intended → handed to a worker) while connections were free. Seconds in which the
//! connection cap held arrivals back are kept apart: the load stopped being open-loop there, which
//! is a setting to raise, not the target's slowness nor the pacer's.

use super::interval::Interval;
use super::hist::Hist;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Share of the generator threads' time busy above which a second counts as CPU-saturated.
pub const CPU_SATURATED: f64 = 0.9;
/// Pacer lag median above which a second (with connections free) counts as the pacer falling
/// behind: most of its arrivals left over a millisecond late, twenty times the pacing error the
/// engine is built for. The median, not the p99: a burst of thousands of answers at once (a stall
/// ending) delays a few arrivals by milliseconds, which is real but is not a generator that cannot
/// keep up; a generator that cannot is late for most arrivals.
pub const PACER_LATE_US: u64 = 1_000;
/// Second numbers kept per list (the counts are exact beyond it).
const MAX_LISTED: usize = 1_000;

/// Flagged seconds of a run, by reason.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondsGuard {
    /// Generator threads busier than `CPU_SATURATED` of the second.
    pub cpu_saturated: Flagged,
    /// Pacer lag median above `PACER_LATE_US` while no arrival waited for the connection cap.
    pub pacer_late: Flagged,
    /// Arrivals found every connection busy and the cap reached: the load was not open-loop.
    pub connection_limited: Flagged,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Flagged {
    pub count: u64,
    /// The first seconds flagged (up to 1,000).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seconds: Vec<u64>,
}

impl Flagged {
    fn flag(&mut self, second: u64) {
        self.count += 1;
        if self.seconds.len() < MAX_LISTED {
            self.seconds.push(second);
        }
    }
    fn merge(&mut self, o: &Flagged) {
        self.count += o.count;
        for s in &o.seconds {
            if !self.seconds.contains(s) && self.seconds.len() < MAX_LISTED {
                self.seconds.push(*s);
            }
        }
        self.seconds.sort_unstable();
    }
    /// `4, 5, 9` (and how many more).
    pub fn list(&self) -> String {
        let shown: Vec<String> = self.seconds.iter().take(8).map(|s| s.to_string()).collect();
        let more = self.count.saturating_sub(shown.len() as u64);
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    }
}

impl SecondsGuard {
    /// Judges one merged second of `threads` generator threads.
    pub fn judge(&mut self, iv: &Interval, threads: usize) {
        let s = iv.second;
        if threads > 0 && iv.cpu.as_secs_f64() > CPU_SATURATED * threads as f64 * Duration::from_secs(1).as_secs_f64() {
            self.cpu_saturated.flag(s);
        }
        if iv.conn_limited > 0 {
            self.connection_limited.flag(s);
        } else if late(&iv.lag) {
            self.pacer_late.flag(s);
        }
    }

    pub fn merge(&mut self, o: &SecondsGuard) {
        self.cpu_saturated.merge(&o.cpu_saturated);
        self.pacer_late.merge(&o.pacer_late);
        self.connection_limited.merge(&o.connection_limited);
    }

    pub fn any(&self) -> bool {
        self.cpu_saturated.count + self.pacer_late.count + self.connection_limited.count > 0
    }
}

fn late(lag: &Hist) -> bool {
    !lag.is_empty() && lag.value_at_quantile(0.5) > PACER_LATE_US
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::interval::Shape;
    use crate::record::hist::record_us;
    use crate::record::outcome::OutcomeTable;

    fn iv(second: u64, cpu_ms: u64, lag_us: u64, limited: u64) -> Interval {
        let shape = Shape { requests: vec!["a".into()], outcomes: OutcomeTable::new([]), labels: vec![] };
        let mut iv = Interval::new(second, &shape);
        iv.cpu = Duration::from_millis(cpu_ms);
        for _ in 0..100 {
            record_us(&mut iv.lag, Duration::from_micros(lag_us));
        }
        iv.conn_limited = limited;
        iv
    }

    #[test]
    fn each_second_is_judged_on_its_own() {
        let mut g = SecondsGuard::default();
        g.judge(&iv(0, 100, 20, 0), 2); // healthy
        g.judge(&iv(1, 1_900, 20, 0), 2); // both threads busy
        g.judge(&iv(2, 100, 5_000, 0), 2); // pacer late, connections free
        g.judge(&iv(3, 100, 5_000, 7), 2); // late because the connection cap held arrivals
        assert_eq!(g.cpu_saturated.seconds, vec![1]);
        assert_eq!(g.pacer_late.seconds, vec![2]);
        assert_eq!(g.connection_limited.seconds, vec![3]);
        let mut h = SecondsGuard::default();
        h.judge(&iv(9, 1_950, 20, 0), 2);
        g.merge(&h);
        assert_eq!(g.cpu_saturated.list(), "1, 9");
    }
}
