//! Benchmarks of the per-request hot paths: schedule arithmetic, picking and building a request,
//! classifying a response and recording a sample. Run with `cargo bench --bench hot_paths`.
//! End-to-end generator throughput against wrk is in `benches/vs_wrk.sh`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use skyload::load::schedule::Schedule;
use skyload::record::accum::{Completion, ThreadRecorder};
use skyload::record::interval::Shape;
use skyload::record::outcome::{Classifier, OutcomeTable, OK};
use skyload::scenario::{Arrivals, HeaderMatch, Matcher, Stage, StageShape};
use std::sync::Arc;
use std::time::Duration;

fn schedule(c: &mut Criterion) {
    let stages = [
        Stage { name: "ramp".into(), duration: Duration::from_secs(60), shape: StageShape::Ramp { from: 0.0, to: 100_000.0 }, arrivals: Arrivals::Uniform },
        Stage { name: "poisson".into(), duration: Duration::from_secs(60), shape: StageShape::Constant { rate: 100_000.0 }, arrivals: Arrivals::Poisson },
    ];
    let s = Schedule::new(&stages);
    c.bench_function("schedule: 10k ramp arrivals", |b| b.iter(|| s.arrivals(1, (0, 1)).take(10_000).map(|a| a.at.as_nanos()).sum::<u128>()));
}

fn record(c: &mut Criterion) {
    let shape = Arc::new(Shape { requests: vec!["a".into()], outcomes: OutcomeTable::new(["fallback"]), labels: vec![] });
    // Second 0 on a made-up CLOCK_MONOTONIC (ns), as the generator's clock reads it.
    let t0 = 5_000_000_000u64;
    let mut rec = ThreadRecorder::new(t0, shape);
    let mut i = 0u64;
    c.bench_function("record: one completion", |b| {
        b.iter(|| {
            i += 1;
            let done = t0 + (i % 5_000_000) * 1_000;
            rec.completed(black_box(&Completion {
                request: 0,
                outcome: OK,
                status: 200,
                intended: t0,
                sent: t0,
                done,
                bytes_in: 2,
                bytes_out: 0,
                pod: Some(b"hello-1"),
                labels: [None; 8],
            }))
        })
    });
}

fn classify(c: &mut Criterion) {
    let m = Matcher {
        outcome: "fallback".into(),
        status: None,
        header: Some(HeaderMatch { name: http::HeaderName::from_static("x-fallback"), equals: Some("1".into()) }),
        body_contains: None,
    };
    let cl = Classifier::new(&[m]);
    let mut h = http::HeaderMap::new();
    h.insert("x-pod", http::HeaderValue::from_static("hello-1"));
    c.bench_function("classify: one rule, no match", |b| b.iter(|| cl.classify(black_box(200), &h, b"")));
}

criterion_group!(benches, schedule, record, classify);
criterion_main!(benches);
