//! A FIFO that keeps each item as a few bytes: every item is written as its difference from the
//! item before it, varint-encoded, into byte chunks that are reused. At overload every arrival of
//! the last `max_lag` waits in a generator thread's job queue (300,000 at 300,000/s and 1 s); at 24
//! bytes each that backlog was ~7 MiB, most of what overload adds to the generator's memory. An
//! arrival differs from the one before it by a sequence stride that rarely changes (one per thread
//! or shard), an interval that changes by a few ns at a constant rate, and a hand-over instant that
//! is the same for every arrival of one pacer wake: about 1–4 bytes, and exact (no rounding: lag,
//! connection wait and latency are computed from what comes back).
//!
//! Chunks are fixed-size byte buffers, never copied or grown; a job never straddles two. Drained
//! chunks go back to a spare list up to the room the FIFO was made with, the rest to the allocator,
//! so memory follows the backlog both ways and a FIFO within its room never allocates.

use std::collections::VecDeque;

/// An item that can be written as a difference from the item written before it. `State` is what
/// the writer remembers of the items so far; the reader keeps its own copy and evolves it the
/// same way, item by item, so `unpack` gives back exactly what `pack` was given, in order.
pub trait Pack: Sized {
    type State: Default + Copy;
    /// The most bytes one item can take.
    const MAX_LEN: usize;
    /// Writes `self` at the start of `out` (at least `MAX_LEN` long); returns the bytes written.
    fn pack(&self, state: &mut Self::State, out: &mut [u8]) -> usize;
    /// Reads the next item from the start of `inp`; returns it and the bytes read.
    fn unpack(state: &mut Self::State, inp: &[u8]) -> (Self, usize);
}

/// Bytes per chunk: a page, the allocation a backlog pays for every ~1,000–4,000 arrivals while it
/// grows (a job takes 1–4 bytes at overload).
const CHUNK: usize = 4096;

/// A chunk: its bytes and how many of them are written.
struct Chunk {
    bytes: Box<[u8]>,
    end: usize,
}

pub struct PackedFifo<T: Pack> {
    chunks: VecDeque<Chunk>,
    /// Read position in the front chunk.
    read: usize,
    spare: Vec<Box<[u8]>>,
    keep: usize,
    written: T::State,
    read_state: T::State,
    len: usize,
    /// The most items that waited at once (the backlog a run's memory pays for).
    peak: usize,
    /// The most chunks held at once (what that backlog cost, in `CHUNK`s).
    peak_chunks: usize,
}

impl<T: Pack> PackedFifo<T> {
    /// Room for `n` items before the first allocation, whatever their size: chunks for `n` items
    /// of `MAX_LEN` bytes are made up front (a chunk takes at least `CHUNK / MAX_LEN` items; one
    /// more for the partly read front chunk).
    pub fn with_room(n: usize) -> Self {
        let keep = 1 + n.saturating_sub(1).div_ceil(CHUNK / T::MAX_LEN);
        PackedFifo {
            chunks: VecDeque::with_capacity(keep.max(4)),
            read: 0,
            spare: (0..keep).map(|_| new_chunk()).collect(),
            keep,
            written: T::State::default(),
            read_state: T::State::default(),
            len: 0,
            peak: 0,
            peak_chunks: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn peak(&self) -> usize {
        self.peak
    }

    /// The most bytes of chunks held at once.
    pub fn peak_bytes(&self) -> usize {
        self.peak_chunks * CHUNK
    }

    #[inline]
    pub fn push_back(&mut self, item: &T) {
        if self.chunks.back().is_none_or(|c| CHUNK - c.end < T::MAX_LEN) {
            let bytes = self.spare.pop().unwrap_or_else(new_chunk);
            self.chunks.push_back(Chunk { bytes, end: 0 });
            self.peak_chunks = self.peak_chunks.max(self.chunks.len());
        }
        if let Some(c) = self.chunks.back_mut() {
            c.end += item.pack(&mut self.written, &mut c.bytes[c.end..]);
            self.len += 1;
            self.peak = self.peak.max(self.len);
        }
    }

    #[inline]
    pub fn pop_front(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let front = self.chunks.front()?;
        let (item, n) = T::unpack(&mut self.read_state, &front.bytes[self.read..front.end]);
        self.read += n;
        self.len -= 1;
        if self.read == front.end {
            // The front chunk is read out. When it is also the last one the FIFO is empty and the
            // chunk is rewound in place: a queue that stays short writes and reads one chunk
            // forever. Otherwise it goes back (items always go to the last chunk).
            self.read = 0;
            if self.chunks.len() == 1 {
                if let Some(c) = self.chunks.front_mut() {
                    c.end = 0;
                }
            } else if let Some(done) = self.chunks.pop_front() {
                if self.spare.len() < self.keep {
                    self.spare.push(done.bytes);
                }
            }
        }
        Some(item)
    }
}

fn new_chunk() -> Box<[u8]> {
    vec![0u8; CHUNK].into_boxed_slice()
}

/// Writes `v` as a LEB128 varint (7 bits a byte, low first); returns the bytes written (1–10).
#[inline]
pub fn put_varint(out: &mut [u8], mut v: u64) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        out[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    out[i] = v as u8;
    i + 1
}

/// Reads a varint written by `put_varint`; returns it and the bytes read.
#[inline]
pub fn get_varint(inp: &[u8]) -> (u64, usize) {
    if let Some(&b) = inp.first() {
        if b < 0x80 {
            return (u64::from(b), 1);
        }
    }
    let mut v = 0u64;
    let mut shift = 0;
    for (i, &b) in inp.iter().enumerate() {
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return (v, i + 1);
        }
        shift += 7;
    }
    debug_assert!(false, "a varint runs past its chunk's written bytes");
    (v, inp.len())
}

fn zigzag(v: u64) -> u64 {
    let s = v as i64;
    ((s << 1) ^ (s >> 63)) as u64
}

fn unzigzag(z: u64) -> u64 {
    (z >> 1) ^ (z & 1).wrapping_neg()
}

/// What the writer (and, in step, the reader) knows of the jobs so far: the last sequence number,
/// intended and handed instant, and the last two differences. Every difference is a wrapping one,
/// so any three u64s come back exactly.
#[derive(Default, Clone, Copy, Debug)]
pub struct JobState {
    seq: u64,
    seq_step: u64,
    intended: u64,
    interval: u64,
    handed: u64,
}

/// The tag byte's 6-bit field for the interval's change: values below this are the change itself
/// (zigzag: within ±31 ns of the previous interval, as a constant rate's f64 offsets are); this
/// value means the interval follows as a varint.
const INTERVAL_ESCAPE: u64 = 63;
const NEW_STEP: u8 = 1;
const NEW_HANDED: u8 = 2;

/// The most bytes `pack_job` writes: the tag and three 10-byte varints.
pub const JOB_MAX_LEN: usize = 31;

/// Writes one job (sequence number, intended and handed instant in ns) as its difference from the
/// previous one: a tag byte — "the sequence step changed", "the hand-over instant changed", and
/// the interval's change if small — then, only where needed, the new step, the interval and the
/// hand-over's advance. A burst of one pacer wake at a constant rate is one byte a job.
#[inline]
pub fn pack_job(st: &mut JobState, (seq, intended, handed): (u64, u64, u64), out: &mut [u8]) -> usize {
    let step = seq.wrapping_sub(st.seq);
    let interval = intended.wrapping_sub(st.intended);
    let change = zigzag(interval.wrapping_sub(st.interval));
    let advance = handed.wrapping_sub(st.handed);
    let mut n = 1;
    let mut tag = 0u8;
    if step != st.seq_step {
        tag |= NEW_STEP;
        n += put_varint(&mut out[n..], step);
    }
    if change < INTERVAL_ESCAPE {
        tag |= (change as u8) << 2;
    } else {
        tag |= (INTERVAL_ESCAPE as u8) << 2;
        n += put_varint(&mut out[n..], interval);
    }
    if advance != 0 {
        tag |= NEW_HANDED;
        n += put_varint(&mut out[n..], advance);
    }
    out[0] = tag;
    *st = JobState { seq, seq_step: step, intended, interval, handed };
    n
}

/// Reads one job written by `pack_job` with the same state sequence.
#[inline]
pub fn unpack_job(st: &mut JobState, inp: &[u8]) -> ((u64, u64, u64), usize) {
    let tag = inp[0];
    let change = u64::from(tag >> 2);
    if tag & (NEW_STEP | NEW_HANDED) == 0 && change != INTERVAL_ESCAPE {
        // Most jobs of a burst: the same step and hand-over, the interval nearly the last one.
        st.seq = st.seq.wrapping_add(st.seq_step);
        st.interval = st.interval.wrapping_add(unzigzag(change));
        st.intended = st.intended.wrapping_add(st.interval);
        return ((st.seq, st.intended, st.handed), 1);
    }
    let mut n = 1;
    let mut read = || {
        let (v, k) = get_varint(&inp[n..]);
        n += k;
        v
    };
    let step = if tag & NEW_STEP != 0 { read() } else { st.seq_step };
    let interval = if change == INTERVAL_ESCAPE { read() } else { st.interval.wrapping_add(unzigzag(change)) };
    let advance = if tag & NEW_HANDED != 0 { read() } else { 0 };
    let seq = st.seq.wrapping_add(step);
    let intended = st.intended.wrapping_add(interval);
    let handed = st.handed.wrapping_add(advance);
    *st = JobState { seq, seq_step: step, intended, interval, handed };
    ((seq, intended, handed), n)
}

/// Plain numbers (the queue's tests elsewhere), as their difference from the one before.
impl Pack for u32 {
    type State = u32;
    const MAX_LEN: usize = 5;
    fn pack(&self, prev: &mut u32, out: &mut [u8]) -> usize {
        let d = zigzag(i64::from(self.wrapping_sub(*prev) as i32) as u64);
        *prev = *self;
        put_varint(out, d)
    }
    fn unpack(prev: &mut u32, inp: &[u8]) -> (u32, usize) {
        let (d, n) = get_varint(inp);
        *prev = prev.wrapping_add(unzigzag(d) as u32);
        (*prev, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    #[derive(Clone, Copy, PartialEq, Debug)]
    struct J(u64, u64, u64);

    impl Pack for J {
        type State = JobState;
        const MAX_LEN: usize = JOB_MAX_LEN;
        fn pack(&self, st: &mut JobState, out: &mut [u8]) -> usize {
            pack_job(st, (self.0, self.1, self.2), out)
        }
        fn unpack(st: &mut JobState, inp: &[u8]) -> (J, usize) {
            let ((a, b, c), n) = unpack_job(st, inp);
            (J(a, b, c), n)
        }
    }

    /// Jobs as a generator thread makes them, in one of several shapes, with rare wild values.
    fn jobs(seed: u64, n: usize) -> Vec<J> {
        let mut rng = SmallRng::seed_from_u64(seed);
        let shape = seed % 4;
        let stride = [1, 2, 7, 1 << 40][(seed / 4 % 4) as usize];
        let (mut seq, mut at, mut handed) = (rng.gen::<u64>() >> rng.gen_range(0..64), rng.gen_range(0..1u64 << 40), 0u64);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let gap = match shape {
                0 => 3_333 + (i as u64 % 3 == 0) as u64,                     // a constant rate's f64 offsets
                1 => rng.gen_range(0..20_000),                                // Poisson-like
                2 => [0, 1, 1_000_000_000, u64::MAX / 3][rng.gen_range(0..4)], // large gaps, ties
                _ => rng.gen(),                                               // anything, wrapping
            };
            at = at.wrapping_add(gap);
            seq = seq.wrapping_add(if rng.gen_range(0..50) == 0 { rng.gen() } else { stride });
            if i % 7 == 0 || shape == 3 {
                handed = if shape == 3 { rng.gen() } else { at.max(handed) + rng.gen_range(0..50_000) };
            }
            out.push(J(seq, at, handed));
        }
        out
    }

    #[test]
    fn jobs_come_back_exactly_over_seeded_sequences() {
        for seed in 0..64 {
            let want = jobs(seed, 2_000);
            let mut q = PackedFifo::with_room(16);
            // Interleaved pushes and pops: the FIFO runs empty, refills and spans chunks.
            let mut rng = SmallRng::seed_from_u64(seed ^ 0xfeed);
            let (mut pushed, mut got) = (0, Vec::new());
            while got.len() < want.len() {
                if pushed < want.len() && (q.is_empty() || rng.gen_bool(0.55)) {
                    for j in &want[pushed..(pushed + rng.gen_range(1..300)).min(want.len())] {
                        q.push_back(j);
                        pushed += 1;
                    }
                } else {
                    for _ in 0..rng.gen_range(1..400) {
                        match q.pop_front() {
                            Some(j) => got.push(j),
                            None => break,
                        }
                    }
                }
                assert_eq!(q.len(), pushed - got.len());
            }
            assert_eq!(got, want, "seed {seed}");
            assert_eq!(q.pop_front(), None);
        }
    }

    #[test]
    fn extremes_come_back_exactly() {
        let m = u64::MAX;
        let want = [J(0, 0, 0), J(m, m, m), J(0, 0, 0), J(1, m, 0), J(m, 1, m), J(m - 1, m / 2, m / 2 + 1), J(m, m, m), J(m, m, m), J(0, 1, 2)];
        let mut q = PackedFifo::with_room(1);
        for j in &want {
            q.push_back(j);
        }
        let got: Vec<J> = std::iter::from_fn(|| q.pop_front()).collect();
        assert_eq!(got, want);
        // Empty, then refilled: the states have moved on together.
        for j in want.iter().rev() {
            q.push_back(j);
            assert_eq!(q.pop_front(), Some(*j));
        }
    }

    #[test]
    fn a_burst_at_a_constant_rate_is_one_byte_a_job() {
        let mut st = JobState::default();
        let mut buf = [0u8; JOB_MAX_LEN];
        let mut sizes = Vec::new();
        // Thread 1 of 2 at 300,000/s: every other arrival, f64 offsets (6,666 or 6,667 ns apart),
        // eight arrivals handed over on each wake.
        for i in 0..4_000u64 {
            let seq = 2 * i + 1;
            let at = (seq as f64 / 300_000.0 * 1e9) as u64;
            let handed = 1_000_000_000 + i / 8 * 26_000;
            sizes.push(pack_job(&mut st, (seq, at, handed), &mut buf));
        }
        let steady = &sizes[2..];
        let total: usize = steady.iter().sum();
        // 1 byte, and 4 (tag and a 3-byte advance of 26 µs) for the first of each wake: 1.375.
        assert!(steady.iter().all(|&n| n == 1 || n == 4), "{:?}", &steady[..20]);
        assert!(total <= steady.len() * 14 / 10, "{total} bytes for {} jobs", steady.len());
    }

    #[test]
    fn chunks_are_given_back_as_the_backlog_drains() {
        let mut q: PackedFifo<J> = PackedFifo::with_room(1);
        let want = jobs(3, 100_000); // wild values: up to 31 bytes a job
        for j in &want {
            q.push_back(j);
        }
        assert!(q.chunks.len() > 100, "{} chunks", q.chunks.len());
        assert_eq!(q.peak_bytes(), q.chunks.len() * CHUNK);
        for j in &want[..want.len() - 3] {
            assert_eq!(q.pop_front().as_ref(), Some(j));
        }
        assert_eq!(q.chunks.len(), 1, "drained chunks are not held");
        assert_eq!(q.spare.len(), 1, "spares beyond the room are freed");
        for j in &want[want.len() - 3..] {
            assert_eq!(q.pop_front().as_ref(), Some(j));
        }
        assert_eq!((q.pop_front(), q.len(), q.peak()), (None, 0, want.len()));
    }

    #[test]
    fn a_fifo_within_its_room_never_allocates_a_chunk() {
        let mut q: PackedFifo<J> = PackedFifo::with_room(1_000);
        let room = q.spare.len();
        assert!(room * (CHUNK / JOB_MAX_LEN) >= 1_000);
        let want = jobs(7, 50_000); // wild values: the largest encodings
        let mut next = 0;
        for (i, j) in want.iter().enumerate() {
            q.push_back(j);
            if q.len() == 1_000 || i % 3 != 0 {
                while q.len() > (i % 900) {
                    assert_eq!(q.pop_front().as_ref(), Some(&want[next]));
                    next += 1;
                }
            }
            assert_eq!(q.chunks.len() + q.spare.len(), room, "chunks go round between the queue and the spares");
        }
    }

    #[test]
    fn varints_and_zigzag_round_trip() {
        let mut buf = [0u8; 10];
        for v in [0, 1, 127, 128, 16_383, 16_384, u64::MAX / 2, u64::MAX - 1, u64::MAX] {
            let n = put_varint(&mut buf, v);
            assert_eq!(get_varint(&buf[..n]), (v, n));
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(put_varint(&mut buf, u64::MAX), 10);
        assert_eq!((zigzag(0), zigzag(u64::MAX), zigzag(1)), (0, 1, 2));
    }

    #[test]
    fn numbers_round_trip() {
        let mut q = PackedFifo::with_room(0);
        let want: Vec<u32> = vec![0, u32::MAX, 5, 5, 1 << 31, 3, u32::MAX - 1];
        for v in &want {
            q.push_back(v);
        }
        assert_eq!(std::iter::from_fn(|| q.pop_front()).collect::<Vec<_>>(), want);
    }
}
