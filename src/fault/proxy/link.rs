//! One proxied connection: bytes from the client to the upstream and back, each direction through
//! its chain of toxics.
//!
//! Per direction a reader stamps each chunk with its arrival time and queues it (bounded, so a slow
//! toxic pushes back on the sender through TCP), and a writer runs every chunk through the toxics
//! in order, then writes it. Latency counts from arrival, so chunks in flight overlap as on a real
//! slow link rather than queueing behind each other. The chain is watched: a toxic added, updated
//! or removed applies to live connections from the next chunk (a chunk already waiting in a toxic
//! finishes that wait), as in Toxiproxy's `link.go`. Whether a toxic applies at all is drawn once
//! per connection from its toxicity, again when the toxic is updated.
//!
//! End of stream from one side half-closes the other (after `slow_close`); a toxic that closes
//! (`timeout`, `limit_data`) or resets (`reset_peer`, with SO_LINGER 0 so the kernel sends RST)
//! ends the whole connection, and so does the proxy being disabled or deleted.

use super::http1::{abort_response, Piece, RequestSplitter};
use super::toxic::ToxicKind;
use crate::fault::toxiproxy::Stream;
use bytes::{Bytes, BytesMut};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};

/// Bytes read per chunk at most.
const READ_SIZE: usize = 16 * 1024;
/// Chunks queued between a reader and its writer before the reader waits.
const QUEUE: usize = 32;

/// One toxic as the data path sees it. `rev` changes on every update, so a connection knows to
/// draw toxicity again.
#[derive(Debug, Clone)]
pub struct ChainEntry {
    pub uid: u64,
    pub rev: u64,
    pub toxicity: f32,
    pub kind: ToxicKind,
}

/// A direction's toxics in order.
pub type Chain = Arc<Vec<ChainEntry>>;

/// How a connection ends early.
#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    Close,
    Reset,
}

#[derive(Debug)]
enum Item {
    Data(Bytes, Instant),
    Eof,
    Kill(End),
    /// Nothing behind this passes before the instant (http_delay holding a request).
    Hold(Instant),
}

/// Pipes `client` ⇄ `upstream` until both sides are done, a toxic ends the connection, or `stop`
/// turns true (or its sender goes: the proxy was disabled or deleted).
pub async fn run(client: TcpStream, upstream: TcpStream, chains: [watch::Receiver<Chain>; 2], mut stop: watch::Receiver<bool>) {
    let sockets = Sockets::of(&client, &upstream);
    // tokio::io::split rather than into_split: an WriteHalf<TcpStream> sends FIN when dropped, which
    // would go out before the RST of a reset_peer. Clean ends shut down explicitly instead.
    let (client_read, client_write) = tokio::io::split(client);
    let (upstream_read, upstream_write) = tokio::io::split(upstream);
    let (up_tx, up_rx) = mpsc::channel(QUEUE);
    let (down_tx, down_rx) = mpsc::channel(QUEUE);
    let (answer_tx, answer_rx) = mpsc::unbounded_channel();
    let [up_chain, down_chain] = chains;
    let up = Writer::new(Stream::Upstream, upstream_write, up_chain, Some(answer_tx), sockets);
    let down = Writer::new(Stream::Downstream, client_write, down_chain, None, sockets);
    let work = async {
        tokio::try_join!(
            read(client_read, up_tx),
            read(upstream_read, down_tx),
            up.run(up_rx, None),
            down.run(down_rx, Some(answer_rx)),
        )
    };
    tokio::select! {
        _ = work => {}
        _ = stopped(&mut stop) => {}
    }
}

async fn read(mut source: ReadHalf<TcpStream>, tx: mpsc::Sender<Item>) -> Result<(), End> {
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    loop {
        // Reuses the allocation once the writer has let go of earlier chunks.
        buf.reserve(READ_SIZE);
        match source.read_buf(&mut buf).await {
            Ok(0) => return Ok(()),
            Ok(_) => {
                let chunk = buf.split().freeze();
                tx.send(Item::Data(chunk, Instant::now())).await.map_err(|_| End::Close)?;
            }
            Err(_) => return Err(End::Close),
        }
    }
}

/// The raw sockets of both sides, to set SO_LINGER 0 before a reset.
#[derive(Debug, Clone, Copy)]
struct Sockets {
    #[cfg(unix)]
    fds: [std::os::fd::RawFd; 2],
}

impl Sockets {
    fn of(client: &TcpStream, upstream: &TcpStream) -> Sockets {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            Sockets { fds: [client.as_raw_fd(), upstream.as_raw_fd()] }
        }
        #[cfg(not(unix))]
        {
            let _ = (client, upstream);
            Sockets {}
        }
    }

    /// Makes the coming close send RST instead of FIN. Only called while both streams are open (the
    /// writer that calls it lives inside the connection's task), so the descriptors are valid.
    fn linger_zero(&self) {
        #[cfg(unix)]
        for fd in self.fds {
            let linger = libc::linger { l_onoff: 1, l_linger: 0 };
            // SAFETY: `fd` is an open socket owned by this connection; the option value is a
            // properly sized `linger` struct.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    &linger as *const libc::linger as *const libc::c_void,
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
        }
    }
}

/// A toxic's state on this connection.
struct Stage {
    uid: u64,
    rev: u64,
    active: bool,
    kind: ToxicKind,
    /// bandwidth: when the link is free again.
    free_at: Option<Instant>,
    /// limit_data: bytes passed.
    sent: u64,
    /// timeout: when the connection closes.
    deadline: Option<Instant>,
    /// http_*: request framing, `None` once the stream turned out not to be HTTP.
    splitter: Option<RequestSplitter>,
    /// http_abort: the current request is being swallowed; answer when it ends.
    aborting: Option<bool>,
}

struct Writer {
    stream: Stream,
    sink: WriteHalf<TcpStream>,
    chain: watch::Receiver<Chain>,
    stages: Vec<Stage>,
    /// Upstream only: where `http_abort` sends its answers (the downstream writer).
    answers: Option<mpsc::UnboundedSender<Bytes>>,
    sockets: Sockets,
    rng: SmallRng,
}

impl Writer {
    fn new(
        stream: Stream,
        sink: WriteHalf<TcpStream>,
        chain: watch::Receiver<Chain>,
        answers: Option<mpsc::UnboundedSender<Bytes>>,
        sockets: Sockets,
    ) -> Writer {
        Writer { stream, sink, chain, stages: Vec::new(), answers, sockets, rng: SmallRng::from_entropy() }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Item>, mut answers: Option<mpsc::UnboundedReceiver<Bytes>>) -> Result<(), End> {
        self.rebuild();
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                biased;
                changed = self.chain.changed() => match changed {
                    Ok(()) => self.rebuild(),
                    Err(_) => return Err(End::Close),
                },
                Some(answer) = recv(&mut answers) => self.push(0, Item::Data(answer, Instant::now())).await?,
                item = rx.recv() => match item {
                    Some(item) => self.push(0, item).await?,
                    None => return self.push(0, Item::Eof).await,
                },
                _ = sleep_until(deadline.map_or_else(Instant::now, |d| d.1)), if deadline.is_some() => {
                    let (i, _) = deadline.expect("guarded");
                    self.stages[i].deadline = None;
                    self.push(i + 1, Item::Kill(End::Close)).await?;
                }
            }
        }
    }

    /// Brings the stages in line with the current chain, keeping each surviving toxic's state.
    fn rebuild(&mut self) {
        let chain = self.chain.borrow_and_update().clone();
        let mut old: Vec<Stage> = std::mem::take(&mut self.stages);
        for entry in chain.iter() {
            let kept = old.iter().position(|s| s.uid == entry.uid).map(|i| old.swap_remove(i));
            let stage = match kept {
                Some(s) if s.rev == entry.rev => s,
                Some(mut s) => {
                    s.rev = entry.rev;
                    s.kind = entry.kind.clone();
                    s.active = self.rng.gen::<f32>() < entry.toxicity;
                    s.deadline = None;
                    self.arm(&mut s);
                    s
                }
                None => {
                    let mut s = Stage {
                        uid: entry.uid,
                        rev: entry.rev,
                        active: self.rng.gen::<f32>() < entry.toxicity,
                        kind: entry.kind.clone(),
                        free_at: None,
                        sent: 0,
                        deadline: None,
                        splitter: Some(RequestSplitter::default()),
                        aborting: None,
                    };
                    self.arm(&mut s);
                    s
                }
            };
            self.stages.push(stage);
        }
    }

    /// A timeout toxic's clock starts when it takes hold of the connection.
    fn arm(&self, s: &mut Stage) {
        if let ToxicKind::Timeout { timeout_ms } = s.kind {
            if s.active && timeout_ms > 0 {
                s.deadline = Some(Instant::now() + Duration::from_millis(timeout_ms));
            }
        }
    }

    fn next_deadline(&self) -> Option<(usize, Instant)> {
        self.stages
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.deadline.filter(|_| s.active).map(|d| (i, d)))
            .min_by_key(|&(_, d)| d)
    }

    /// Runs `item` through the stages from `start` on, then writes what comes out.
    async fn push(&mut self, start: usize, item: Item) -> Result<(), End> {
        let mut queue: VecDeque<(usize, Item)> = VecDeque::from([(start, item)]);
        let mut out: Vec<(usize, Item)> = Vec::new();
        while let Some((i, item)) = queue.pop_front() {
            if i >= self.stages.len() {
                self.write(item).await?;
                continue;
            }
            if !self.stages[i].active {
                queue.push_front((i + 1, item));
                continue;
            }
            self.apply(i, item, &mut out).await?;
            for next in out.drain(..).rev() {
                queue.push_front(next);
            }
        }
        Ok(())
    }

    async fn write(&mut self, item: Item) -> Result<(), End> {
        match item {
            Item::Data(bytes, _) => self.sink.write_all(&bytes).await.map_err(|_| End::Close),
            Item::Eof => {
                let _ = self.sink.shutdown().await;
                Ok(())
            }
            Item::Hold(until) => {
                sleep_until(until).await;
                Ok(())
            }
            Item::Kill(end) => {
                if end == End::Reset {
                    self.sockets.linger_zero();
                }
                Err(end)
            }
        }
    }

    /// Stage `i` acts on `item`; what it passes on goes to `out` as (next stage, item).
    async fn apply(&mut self, i: usize, item: Item, out: &mut Vec<(usize, Item)>) -> Result<(), End> {
        let next = i + 1;
        let kind = self.stages[i].kind.clone();
        let (data, arrived) = match (item, &kind) {
            (Item::Data(d, t), _) => (d, t),
            (end @ (Item::Eof | Item::Kill(End::Close)), &ToxicKind::SlowClose { delay_ms }) => {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                out.push((next, end));
                return Ok(());
            }
            (other, _) => {
                out.push((next, other));
                return Ok(());
            }
        };
        match kind {
            ToxicKind::Latency { latency_ms, jitter_ms } => {
                let mut delay = latency_ms as i64;
                if jitter_ms > 0 {
                    delay += self.rng.gen_range(-(jitter_ms as i64)..jitter_ms as i64);
                }
                let due = arrived + Duration::from_millis(delay.max(0) as u64);
                sleep_until(due).await;
                out.push((next, Item::Data(data, due)));
            }
            ToxicKind::Bandwidth { rate_kb } if rate_kb > 0 => {
                // Slices of at most 100 ms worth of data, as Toxiproxy's bandwidth toxic sends them.
                let slice = data.len().min((rate_kb * 100) as usize);
                let now = Instant::now();
                let stage = &mut self.stages[i];
                let start = stage.free_at.filter(|f| *f > now).unwrap_or(now);
                let free = start + Duration::from_nanos(slice as u64 * 1_000_000 / rate_kb);
                stage.free_at = Some(free);
                sleep_until(free).await;
                out.push((next, Item::Data(data.slice(..slice), arrived)));
                if slice < data.len() {
                    out.push((i, Item::Data(data.slice(slice..), arrived)));
                }
            }
            ToxicKind::Bandwidth { .. } | ToxicKind::SlowClose { .. } => out.push((next, Item::Data(data, arrived))),
            ToxicKind::Timeout { .. } => {} // dropped on the floor until the toxic goes
            ToxicKind::ResetPeer { timeout_ms } => {
                tokio::time::sleep(Duration::from_millis(timeout_ms)).await;
                self.sockets.linger_zero();
                return Err(End::Reset);
            }
            ToxicKind::LimitData { bytes } => {
                let stage = &mut self.stages[i];
                let take = bytes.saturating_sub(stage.sent).min(data.len() as u64) as usize;
                stage.sent += take as u64;
                if take > 0 {
                    out.push((next, Item::Data(data.slice(..take), arrived)));
                }
                if stage.sent >= bytes {
                    out.push((next, Item::Kill(End::Close)));
                }
            }
            ToxicKind::HttpAbort { .. } | ToxicKind::HttpDelay { .. } => self.http(i, data, arrived, out),
        }
        Ok(())
    }

    /// http_abort / http_delay: decide per request, at its head.
    fn http(&mut self, i: usize, data: Bytes, arrived: Instant, out: &mut Vec<(usize, Item)>) {
        let next = i + 1;
        let mut pieces = Vec::new();
        let stage = &mut self.stages[i];
        let Some(splitter) = stage.splitter.as_mut() else {
            out.push((next, Item::Data(data, arrived)));
            return;
        };
        if let Err(e) = splitter.feed(&data, &mut pieces) {
            // Forward what was framed, then the rest of the connection untouched.
            tracing::debug!("{} stops parsing this connection: {e}", stage.kind.type_name());
            stage.splitter = None;
            pieces.clear();
            stage.aborting = None;
            out.push((next, Item::Data(data, arrived)));
            return;
        }
        for piece in pieces {
            match (piece, &self.stages[i].kind) {
                (Piece::Head { bytes, close }, &ToxicKind::HttpAbort { percentage, .. }) => {
                    let hit = self.rng.gen::<f64>() * 100.0 < percentage;
                    self.stages[i].aborting = Some(close).filter(|_| hit);
                    if !hit {
                        out.push((next, Item::Data(bytes, arrived)));
                    }
                }
                (Piece::Head { bytes, .. }, &ToxicKind::HttpDelay { delay_ms, percentage }) => {
                    // Held at the writer, so the previous request's bytes in this chunk go first,
                    // and later toxics count from the end of the hold.
                    let mut at = arrived;
                    if self.rng.gen::<f64>() * 100.0 < percentage {
                        at = arrived + Duration::from_millis(delay_ms);
                        out.push((next, Item::Hold(at)));
                    }
                    out.push((next, Item::Data(bytes, at)));
                }
                (Piece::Body(bytes), _) if self.stages[i].aborting.is_none() => {
                    out.push((next, Item::Data(bytes, arrived)));
                }
                (Piece::End, &ToxicKind::HttpAbort { status, .. }) => {
                    if let Some(close) = self.stages[i].aborting.take() {
                        if let Some(answers) = &self.answers {
                            let _ = answers.send(abort_response(status, close));
                        }
                    }
                }
                _ => {}
            }
        }
        debug_assert_eq!(self.stream, Stream::Upstream, "http toxics are upstream only");
    }
}

async fn recv(rx: &mut Option<mpsc::UnboundedReceiver<Bytes>>) -> Option<Bytes> {
    match rx {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

/// Resolves when `stop` turns true or its sender is gone (the proxy was disabled or deleted).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
