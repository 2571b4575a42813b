//! Stopping the reader, whatever the input does. The rows are read on a blocking thread
//! (`Input::stream`), and a blocking read of a pipe, a terminal or a FIFO that sends
//! nothing cannot be interrupted: waiting for that thread after a stop kept a run alive
//! until a second signal. So after a stop the run stops *listening* to the reader instead:
//!
//! - a regular file is read on for the stop's grace (`vocab::stop::GRACE`), so its
//!   remaining rows are reported `not_attempted` as before; standard input, a pipe, a
//!   FIFO or a device (`/dev/zero`) is cut at once, since it may never end;
//! - a cut closes the reader's channel on the receiving side ([`Feed`]): the rows already
//!   read are still handed on and reported, nothing more is taken, and a reader blocked on
//!   a full channel is released;
//! - every read the thread makes checks the cut first ([`Stoppable`]), so a reader that
//!   is not blocked (`/dev/zero`, whose endless field the bounded reader keeps dropping)
//!   ends at its next read;
//! - a reader blocked in read(2) is left there: the run does not wait for it, and the
//!   process ends without it (`main` shuts the runtime down with a timeout).
//!
//! The summary then says that reading was cut and the line of the last row read (the
//! report's `line` of the last input row handed on), so the operator knows what the
//! report covers; `--resume` reads the input again anyway.

use super::InputError;
use crate::vocab::stop::Stop;
use crate::vocab::Item;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const READING: u8 = 0;
const DONE: u8 = 1;
const CUT: u8 = 2;

/// The reading's state, shared by the reader thread, its [`Feed`] and the run: still
/// reading, done (the end of the input, or an error), or cut. Done and cut exclude each
/// other: whichever comes first stays.
#[derive(Clone)]
pub struct ReadCut(Arc<Shared>);

struct Shared {
    state: AtomicU8,
    /// Fires at the cut, for the [`Feed`] waiting on the channel.
    token: CancellationToken,
    /// The line of the last row handed on (1, the header, before any).
    last_line: AtomicU64,
}

impl Default for ReadCut {
    fn default() -> Self {
        ReadCut(Arc::new(Shared {
            state: AtomicU8::new(READING),
            token: CancellationToken::new(),
            last_line: AtomicU64::new(1),
        }))
    }
}

impl ReadCut {
    pub fn new() -> ReadCut {
        ReadCut::default()
    }

    /// The reader reached the end of its input (or failed): no cut can come after.
    pub fn done(&self) {
        let _ = self
            .0
            .state
            .compare_exchange(READING, DONE, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Cuts the reading; `false` when the reader was done already.
    pub fn cut(&self) -> bool {
        let cut = self
            .0
            .state
            .compare_exchange(READING, CUT, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if cut {
            self.0.token.cancel();
        }
        cut
    }

    pub fn is_cut(&self) -> bool {
        self.0.state.load(Ordering::Acquire) == CUT
    }

    /// The line of the last row handed on: where the report's rows from this input end.
    pub fn last_line(&self) -> u64 {
        self.0.last_line.load(Ordering::Acquire)
    }
}

/// A source that refuses to be read once the reading is cut.
pub struct Stoppable<R> {
    inner: R,
    cut: ReadCut,
}

impl<R> Stoppable<R> {
    pub fn new(inner: R, cut: ReadCut) -> Stoppable<R> {
        Stoppable { inner, cut }
    }
}

impl<R: Read> Read for Stoppable<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cut.is_cut() {
            return Err(io::Error::other("reading the input was cut by the stop"));
        }
        self.inner.read(buf)
    }
}

/// The receiving end of the reader's channel: what the dispatcher (or the hold stage)
/// takes rows from. At a cut it closes the channel and hands on only what was read.
pub struct Feed {
    rx: mpsc::Receiver<Item>,
    /// `None`: a channel fed by another stage (the hold), which ends when its input does.
    cut: Option<ReadCut>,
}

impl Feed {
    pub fn new(rx: mpsc::Receiver<Item>, cut: ReadCut) -> Feed {
        Feed { rx, cut: Some(cut) }
    }

    /// The next row read, or `None` at the end of the input or after a cut.
    pub async fn recv(&mut self) -> Option<Item> {
        let Some(cut) = &self.cut else {
            return self.rx.recv().await;
        };
        let item = tokio::select! {
            biased;
            () = cut.0.token.cancelled() => {
                // Closed, the channel still hands on what it holds, then ends.
                self.rx.close();
                self.rx.recv().await
            }
            item = self.rx.recv() => item,
        };
        if let Some(item) = &item {
            let line = match item {
                Item::Send(job) => job.line,
                Item::Refused(r) => r.line,
            };
            cut.0.last_line.store(line, Ordering::Release);
        }
        item
    }
}

impl From<mpsc::Receiver<Item>> for Feed {
    fn from(rx: mpsc::Receiver<Item>) -> Feed {
        Feed { rx, cut: None }
    }
}

/// How the reading ended.
#[derive(Debug)]
pub enum ReadEnd {
    /// The reader ended by itself: the end of the input, or the error that broke it.
    Whole(Result<(), InputError>),
    /// The reading was cut after a stop; the thread is left to itself.
    Cut,
}

/// Waits for the reader to end, or after a stop cuts it (see the module's comment):
/// a `regular` file gets the stop's grace to reach its end, anything else none.
pub async fn watch(
    reader: JoinHandle<Result<(), InputError>>,
    cut: ReadCut,
    stop: Stop,
    regular: bool,
) -> Result<ReadEnd, tokio::task::JoinError> {
    tokio::pin!(reader);
    tokio::select! {
        read = &mut reader => return Ok(ReadEnd::Whole(read?)),
        () = stop.stopped() => {}
    }
    if regular {
        tokio::select! {
            read = &mut reader => return Ok(ReadEnd::Whole(read?)),
            () = stop.aborted() => {}
        }
    }
    if cut.cut() {
        tracing::warn!(
            last_line = cut.last_line(),
            "reading the input was cut at the stop"
        );
        return Ok(ReadEnd::Cut);
    }
    // It had just reached its end: nothing to cut, and nothing left to wait for.
    Ok(ReadEnd::Whole(reader.await?))
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::vocab::stop::StopReason;
    use crate::vocab::Refusal;
    use std::time::Duration;

    fn refused(line: u64) -> Item {
        Item::Refused(Refusal {
            line,
            user_id: format!("u{line}"),
            reason: "x".into(),
        })
    }

    /// A cut hands on what was read, then ends, though the sender is still alive (a
    /// reader stuck in read(2)); its next send fails, which releases a blocked reader.
    #[tokio::test]
    async fn a_cut_hands_on_what_was_read_and_ends() {
        let cut = ReadCut::new();
        let (tx, rx) = mpsc::channel(8);
        let mut feed = Feed::new(rx, cut.clone());
        for line in [2, 3, 5] {
            tx.send(refused(line)).await.unwrap();
        }
        assert!(feed.recv().await.is_some());
        assert_eq!(cut.last_line(), 2);
        assert!(cut.cut());
        assert!(!cut.cut(), "once");
        assert!(feed.recv().await.is_some());
        assert!(feed.recv().await.is_some());
        assert_eq!(cut.last_line(), 5);
        assert!(feed.recv().await.is_none());
        assert!(tx.send(refused(6)).await.is_err());
        let mut r = Stoppable::new(&b"abc"[..], cut);
        assert!(r.read(&mut [0u8; 3]).is_err());
    }

    #[test]
    fn a_reader_done_cannot_be_cut() {
        let cut = ReadCut::new();
        cut.done();
        assert!(!cut.cut());
        assert!(!cut.is_cut());
        assert_eq!(cut.last_line(), 1, "the header");
    }

    /// After a stop, input that never ends is cut at once; a regular file gets the grace.
    #[tokio::test]
    async fn a_stop_cuts_a_stalled_reader_without_waiting_for_it() {
        let (release, stuck) = std::sync::mpsc::channel::<()>();
        let reader = tokio::task::spawn_blocking(move || {
            let _ = stuck.recv_timeout(Duration::from_secs(30));
            Ok(())
        });
        let (cut, stop) = (ReadCut::new(), Stop::new());
        let watching = tokio::spawn(watch(reader, cut.clone(), stop.clone(), false));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!watching.is_finished());
        stop.stop(StopReason::Interrupted);
        let end = tokio::time::timeout(Duration::from_secs(2), watching)
            .await
            .expect("no wait for the reader")
            .unwrap()
            .unwrap();
        assert!(matches!(end, ReadEnd::Cut), "{end:?}");
        assert!(cut.is_cut());
        drop(release);
    }
}
