//! Running one share of a run on each of several machines. A shard `I/N` takes the arrivals whose
//! sequence number is I mod N, so the union of the shards is exactly the one-machine schedule (ramps
//! and seeded Poisson arrivals included); inside a shard, generator thread t of T takes the arrivals
//! ≡ I + N·t (mod N·T), which composes the two interleavings. All shards share one schedule epoch
//! (`--start-at`), so their second k is the same wall-clock second and their Results merge by second.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How far in the past a given start time may be: a shard that starts up to this late still runs
/// (its first arrivals go out at once, late, and their latency counts from the intended time);
/// anything later is refused, because its first second would not line up with the other shards'.
pub const START_TOLERANCE: Duration = Duration::from_secs(1);

/// One interleaved share of the schedule: arrivals with sequence number ≡ `index` (mod `count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ShardError {
    #[error("--shard `{0}`: write it as I/N with 0 <= I < N, e.g. 0/4 (N at most 100000)")]
    BadShard(String),
    #[error("--start-at `{0}`: write an RFC 3339 time (2026-11-21T10:00:00Z) or unix seconds (1795255200)")]
    BadStartAt(String),
    #[error("--start-at {at} is {late:.1}s in the past (more than the {tolerance}s allowed): give every shard a start time a little in the future")]
    StartPassed { at: String, late: f64, tolerance: u64 },
}

impl std::str::FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError::BadShard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count || count > 100_000 {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// The whole schedule.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// The `(offset, stride)` of arrivals that generator thread `t` of `threads` takes in this shard.
    pub fn thread_slice(self, t: usize, threads: usize) -> (u64, u64) {
        let (n, threads) = (u64::from(self.count), threads.max(1) as u64);
        (u64::from(self.index) + n * t as u64, n * threads)
    }

    /// Faults and abort conditions act on the shared target, so exactly one shard drives them.
    pub fn drives_faults(self) -> bool {
        self.index == 0
    }
}

/// Sharding and the schedule's epoch for one run; the default is a whole run starting now.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sharding {
    pub shard: Option<Shard>,
    /// Wall-clock time of second 0, shared by every shard.
    pub start_at: Option<SystemTime>,
}

impl Sharding {
    pub fn shard(&self) -> Shard {
        self.shard.unwrap_or(Shard::WHOLE)
    }
}

/// Parses `--start-at`: RFC 3339 (any offset) or unix seconds (fractions allowed).
pub fn parse_start_at(s: &str) -> Result<SystemTime, ShardError> {
    let bad = || ShardError::BadStartAt(s.to_string());
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 || secs > 1e11 {
            return Err(bad());
        }
        return Ok(UNIX_EPOCH + Duration::from_secs_f64(secs));
    }
    let dt = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).map_err(|_| bad())?;
    let nanos = dt.unix_timestamp_nanos();
    if nanos < 0 {
        return Err(bad());
    }
    Ok(UNIX_EPOCH + Duration::from_nanos(nanos as u64))
}

/// Maps a wall-clock epoch onto the monotonic clock, given one reading of both clocks taken
/// together. Refuses an epoch more than `START_TOLERANCE` in the past.
pub fn epoch_instant(start_at: SystemTime, now_wall: SystemTime, now: Instant) -> Result<Instant, ShardError> {
    match start_at.duration_since(now_wall) {
        Ok(ahead) => Ok(now + ahead),
        Err(e) => {
            let late = e.duration();
            if late > START_TOLERANCE {
                return Err(ShardError::StartPassed {
                    at: crate::load::runner::rfc3339(start_at),
                    late: late.as_secs_f64(),
                    tolerance: START_TOLERANCE.as_secs(),
                });
            }
            Ok(now.checked_sub(late).unwrap_or(now))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::schedule::Schedule;
    use crate::scenario::{Arrivals, Stage, StageShape};

    #[test]
    fn parses_shards_and_refuses_nonsense() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!("0/1".parse::<Shard>(), Ok(Shard::WHOLE));
        for bad in ["4/4", "1/0", "-1/4", "a/4", "3", "1/2/3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_start_times() {
        let t = parse_start_at("2026-11-21T10:00:00Z").unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 1_795_255_200);
        assert_eq!(parse_start_at("2026-11-21T11:00:00+01:00").unwrap(), t);
        assert_eq!(parse_start_at("1795255200").unwrap(), t);
        assert_eq!(parse_start_at("1795255200.5").unwrap(), t + Duration::from_millis(500));
        for bad in ["tomorrow", "2026-11-21", "-5", "NaN"] {
            assert!(parse_start_at(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn epoch_in_the_future_waits_and_in_the_past_is_refused() {
        let (wall, now) = (SystemTime::now(), Instant::now());
        assert_eq!(epoch_instant(wall + Duration::from_secs(3), wall, now).unwrap(), now + Duration::from_secs(3));
        let late = epoch_instant(wall - Duration::from_millis(400), wall, now).unwrap();
        assert!(late <= now);
        assert!(matches!(epoch_instant(wall - Duration::from_secs(5), wall, now), Err(ShardError::StartPassed { .. })));
    }

    #[test]
    fn shards_times_threads_partition_the_schedule() {
        let stage = Stage {
            name: "s".into(),
            duration: Duration::from_secs(3),
            shape: StageShape::Ramp { from: 20.0, to: 300.0 },
            arrivals: Arrivals::Poisson,
        };
        let s = Schedule::new(&[stage]);
        let whole: Vec<_> = s.arrivals(9, (0, 1)).collect();
        let mut union = Vec::new();
        for i in 0..3 {
            for t in 0..2 {
                union.extend(s.arrivals(9, Shard { index: i, count: 3 }.thread_slice(t, 2)));
            }
        }
        union.sort_by_key(|a| a.seq);
        assert_eq!(whole, union);
        assert!(Shard { index: 0, count: 3 }.drives_faults() && !Shard { index: 1, count: 3 }.drives_faults());
    }
}
