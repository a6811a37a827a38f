//! What a scrape costs: rendering the live exposition (text and OpenMetrics with exemplars) of a
//! traced run with 3 stages × 5 request names × 7 outcomes after 60 folded seconds, and the
//! collector's once-a-second fold. The render happens on the endpoint's own thread, never on a
//! generator thread; the fold on the collector's. Run with `cargo bench --bench metrics`; the
//! cost while a real load runs is measured by `benches/scrape.sh`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use skyload::metrics::expo::Format;
use skyload::metrics::Live;
use skyload::record::interval::{Interval, Shape};
use skyload::record::hist::record_us;
use skyload::record::outcome::Classifier;
use skyload::record::slow::{Exemplar, SLOTS};
use std::time::Duration;

fn plan() -> skyload::scenario::Plan {
    let mut text = String::from("name = \"scrape\"\n[target]\nurl = \"http://127.0.0.1:1\"\n[metrics]\ntrace = true\n");
    for (name, rate) in [("warm", 100), ("hold", 2000), ("spike", 5000)] {
        text.push_str(&format!("[[stages]]\nname = \"{name}\"\nrate = {rate}\nduration = \"20s\"\n"));
    }
    for r in ["list", "get", "create", "update", "delete"] {
        text.push_str(&format!("[[requests]]\nname = \"{r}\"\npath = \"/{r}\"\n"));
    }
    skyload::scenario::load_str(&text, std::path::Path::new("scrape.toml")).expect("plan")
}

/// One second of 2,000 requests per name, latencies spread over 100 µs … 2 s, every bucket with an exemplar.
fn second(k: u64, shape: &Shape) -> Interval {
    let mut iv = Interval::new(k, shape);
    for r in iv.requests.iter_mut() {
        r.scheduled = 2000;
        r.sent = 2000;
        r.completed = 2000;
        r.outcomes[0] = 1990;
        r.outcomes[1] = 10;
        for i in 0..2000u64 {
            let us = 100.0 * (20_000f64).powf(i as f64 / 2000.0);
            record_us(&mut r.latency, Duration::from_micros(us as u64));
            record_us(&mut r.service, Duration::from_micros(us as u64 * 9 / 10));
        }
    }
    iv.slow.by_request = (0..shape.requests.len())
        .map(|r| {
            let mut b = [None; SLOTS];
            for (i, e) in b.iter_mut().enumerate() {
                *e = Some(Exemplar { seq: k * 1000 + r as u64 * 30 + i as u64, latency_ns: 1_000 * (i as u64 + 1), done_ns: k * 1_000_000_000 });
            }
            b
        })
        .collect();
    iv
}

fn scrape(c: &mut Criterion) {
    let p = plan();
    let shape = Shape {
        requests: p.requests.iter().map(|r| r.name.clone()).collect(),
        outcomes: Classifier::new(&p.matchers).table().clone(),
        labels: vec![],
    };
    let mut live = Live::new(&p, None);
    let seconds: Vec<Interval> = (0..60).map(|k| second(k, &shape)).collect();
    for iv in &seconds {
        live.second(iv, 2000.0);
    }
    let text = live.render(Format::Text);
    let om = live.render(Format::OpenMetrics);
    eprintln!(
        "exposition: text {} lines / {} bytes; OpenMetrics {} lines / {} bytes, {} exemplars",
        text.lines().count(),
        text.len(),
        om.lines().count(),
        om.len(),
        om.matches("trace_id").count()
    );
    c.bench_function("scrape: render text", |b| b.iter(|| black_box(live.render(Format::Text))));
    c.bench_function("scrape: render OpenMetrics with exemplars", |b| b.iter(|| black_box(live.render(Format::OpenMetrics))));
    let mut k = 60;
    c.bench_function("collector: fold one second (5 names, traced)", |b| {
        b.iter(|| {
            live.second(&seconds[(k % 60) as usize], 2000.0);
            k += 1;
        })
    });
}

criterion_group!(benches, scrape);
criterion_main!(benches);
