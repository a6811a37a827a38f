//! Live progress while a run goes: on a terminal one line rewritten every second; otherwise (CI
//! logs) a plain line every few seconds, so a long run shows it is alive without flooding the log.

use crate::load::runner::Observer;
use crate::record::interval::{Interval, Shape};
use crate::record::hist::{add, new_hist};
use crate::record::outcome::OutcomeTable;
use crate::units::format_us;
use std::io::{IsTerminal, Write};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Rewrite one line in place every second.
    Live,
    /// A plain line every `every` seconds.
    Plain { every: u64 },
    Off,
}

impl Mode {
    /// Live on a terminal, plain lines every 5 s otherwise, nothing when quiet.
    pub fn detect(quiet: bool) -> Mode {
        if quiet {
            Mode::Off
        } else if std::io::stderr().is_terminal() {
            Mode::Live
        } else {
            Mode::Plain { every: 5 }
        }
    }
}

pub struct Progress {
    mode: Mode,
    planned: Duration,
    dirty: bool,
}

impl Progress {
    pub fn new(mode: Mode, planned: Duration) -> Progress {
        Progress { mode, planned, dirty: false }
    }

    /// Ends the live line so what follows starts on a fresh one.
    pub fn finish(&mut self) {
        if self.dirty {
            crate::errln!();
            self.dirty = false;
        }
    }
}

/// One progress line for a closed second.
pub fn line(iv: &Interval, target_rps: f64, planned: Duration) -> String {
    let mut lat = new_hist();
    let (mut sent, mut done, mut failed, mut dropped) = (0, 0, 0, 0);
    for r in &iv.requests {
        add(&mut lat, &r.latency);
        sent += r.sent;
        done += r.completed;
        dropped += r.dropped;
        failed += r
            .outcomes
            .iter()
            .enumerate()
            .filter(|(i, _)| OutcomeTable::is_failure(*i as u16))
            .map(|(_, n)| n)
            .sum::<u64>();
    }
    let err = if done > 0 { 100.0 * failed as f64 / done as f64 } else { 0.0 };
    let p99 = if lat.is_empty() { "-".to_string() } else { format_us(lat.value_at_quantile(0.99)) };
    format!(
        "[{:>4}s/{}s] target {:>7.0}/s  sent {:>7}/s  done {:>7}/s  in flight {:>5}  errors {:>5.1}%  p99 {:>8}  dropped {}",
        iv.second + 1,
        planned.as_secs_f64().ceil() as u64,
        target_rps,
        sent,
        done,
        iv.in_flight,
        err,
        p99,
        dropped
    )
}

impl Observer for Progress {
    fn second(&mut self, iv: &Interval, target_rps: f64, _shape: &Shape) {
        match self.mode {
            Mode::Off => {}
            Mode::Live => {
                let mut e = std::io::stderr().lock();
                let _ = write!(e, "\r\x1b[2K{}", line(iv, target_rps, self.planned));
                let _ = e.flush();
                self.dirty = true;
            }
            Mode::Plain { every } => {
                if (iv.second + 1) % every == 0 {
                    crate::errln!("{}", line(iv, target_rps, self.planned));
                }
            }
        }
    }
}
