//! What packing costs per queued arrival: the generator thread's job queue keeps each job as its
//! difference from the one before (`skyload::load::packed`, 1–4 bytes) instead of 24 bytes. Each
//! case pushes and pops jobs shaped as a thread makes them (a constant rate's f64 offsets, eight
//! arrivals per pacer wake; or exponential gaps), beside a `VecDeque` of the 24-byte form.
//! Run with `cargo bench --bench queue`; the end-to-end cost is in `benches/side_by_side.sh`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use skyload::load::packed::{pack_job, unpack_job, JobState, Pack, PackedFifo, JOB_MAX_LEN};
use std::collections::VecDeque;

#[derive(Clone, Copy)]
struct J(u64, u64, u64);

impl Pack for J {
    type State = JobState;
    const MAX_LEN: usize = JOB_MAX_LEN;
    #[inline]
    fn pack(&self, st: &mut JobState, out: &mut [u8]) -> usize {
        pack_job(st, (self.0, self.1, self.2), out)
    }
    #[inline]
    fn unpack(st: &mut JobState, inp: &[u8]) -> (J, usize) {
        let ((a, b, c), n) = unpack_job(st, inp);
        (J(a, b, c), n)
    }
}

/// Thread 1 of 2 at 300,000/s; `poisson`: exponential gaps (a fixed LCG, no dependency).
fn jobs(n: u64, poisson: bool) -> Vec<J> {
    let (mut at, mut x) = (0f64, 0x9e37_79b9_7f4a_7c15u64);
    (0..n)
        .map(|i| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let u = ((x >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
            at += if poisson { -u.ln() / 150_000.0 } else { 1.0 / 150_000.0 };
            let intended = (at * 1e9) as u64;
            J(2 * i + 1, intended, intended / 26_000 * 26_000 + 26_000)
        })
        .collect()
}

fn queue(c: &mut Criterion) {
    for (name, poisson) in [("uniform", false), ("poisson", true)] {
        let js = jobs(300_000, poisson);
        c.bench_function(&format!("queue {name}: 300k backlog in and out, packed"), |b| {
            let mut q = PackedFifo::with_room(1024);
            b.iter(|| {
                for j in &js {
                    q.push_back(j);
                }
                let mut s = 0u64;
                while let Some(j) = q.pop_front() {
                    s = s.wrapping_add(j.0 ^ j.1 ^ j.2);
                }
                black_box(s)
            })
        });
        c.bench_function(&format!("queue {name}: 300k backlog in and out, 24-byte VecDeque"), |b| {
            let mut q = VecDeque::with_capacity(1024);
            b.iter(|| {
                for j in &js {
                    q.push_back(*j);
                }
                let mut s = 0u64;
                while let Some(j) = q.pop_front() {
                    s = s.wrapping_add(j.0 ^ j.1 ^ j.2);
                }
                black_box(s)
            })
        });
        c.bench_function(&format!("queue {name}: one job in, one out (held rate), packed"), |b| {
            let mut q = PackedFifo::with_room(1024);
            let mut i = 0;
            b.iter(|| {
                q.push_back(&js[i]);
                i = if i + 1 == js.len() { 0 } else { i + 1 };
                black_box(q.pop_front().map(|j| j.1))
            })
        });
    }
}

criterion_group!(benches, queue);
criterion_main!(benches);
