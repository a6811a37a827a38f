//! Recording: outcome classification, HDR histograms per request × outcome per second and in total,
//! and the Results directory every report, comparison and merge is made from.

pub mod accum;
pub mod interval;
pub mod hist;
pub mod read;
pub mod merge;
pub mod outcome;
pub mod results;
pub mod summary;
pub mod redact;
pub mod outdir;
pub mod tls;
pub mod guard;
pub mod slow;
pub mod rebuild;
pub mod buckets;
pub mod by_stage;
pub mod intended;
pub mod trace_id;
