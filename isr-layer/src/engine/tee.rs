//! Streaming misses: the visitor whose request renders a page gets the body as the application
//! makes it, while the same bytes are read into the cache.
//!
//! The tee reads the application's body in a task of its own and sends each frame to the
//! visitor's body through a channel; the frames share their bytes with the copy being kept, so
//! the channel costs no memory of its own. It never waits for the visitor: a slow visitor does
//! not hold up the page for everyone else, and one who goes away does not stop it being stored.
//! Past the size limit (or at trailers, or at the render's deadline) nothing more is kept: the
//! rest of the body is handed to the visitor to read at its own pace, and nothing is stored.

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http_body::Body;
use http_body_util::BodyExt;
use tokio::sync::mpsc;

use super::{Engine, FlightGuard, PendingEntry, Streaming, concat};
use crate::body::{TeeReceiver, Teed};
use crate::catch_unwind::CatchUnwind;
use crate::entry::Entry;
use crate::filters::BypassReason;
use crate::store::LockToken;

/// How a streamed body ended, for the cache.
enum End {
    /// Read whole within the limit: store it.
    Complete(Bytes),
    /// Not stored, and remembered as uncacheable.
    Passed(BypassReason),
    /// Not stored; the last good page stays.
    Failed(&'static str),
}

/// The rest of a streamed render, run as a task of its own by the render's executor.
pub(crate) struct Tee<B: Body> {
    engine: Arc<Engine>,
    page: PendingEntry,
    /// The primary key, for the render's bookkeeping (failures, uncacheable keys).
    primary: Arc<str>,
    kept: Vec<Bytes>,
    size: usize,
    /// The body being read; handed to the visitor when nothing more is kept.
    rest: Option<Pin<Box<B>>>,
    visitor: Option<mpsc::UnboundedSender<Teed<B>>>,
    guard: Option<FlightGuard>,
    replaces: Option<Arc<Entry>>,
    deadline: Option<tokio::time::Instant>,
    /// The shared store's render lock, given back when the tee ends.
    lock: Option<(Arc<str>, LockToken)>,
}

/// The parts of a render a [`Tee`] takes over.
pub(crate) struct TeeJob {
    pub(crate) engine: Arc<Engine>,
    pub(crate) primary: Arc<str>,
    pub(crate) guard: Option<FlightGuard>,
    pub(crate) replaces: Option<Arc<Entry>>,
    pub(crate) deadline: Option<tokio::time::Instant>,
    pub(crate) lock: Option<(Arc<str>, LockToken)>,
}

impl<B: Body<Data = Bytes>> Tee<B> {
    /// The tee of `streaming`, and the visitor's end of it (already holding the frames read
    /// before the body paused).
    pub(crate) fn new(
        job: TeeJob,
        streaming: Box<Streaming<B>>,
    ) -> (Self, http::response::Parts, TeeReceiver<B>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let Streaming {
            page,
            head,
            read,
            size,
            rest,
        } = *streaming;
        let mut kept = Vec::with_capacity(read.len() + 8);
        for frame in read {
            if let Some(data) = frame.data_ref() {
                kept.push(data.clone());
            }
            let _ = sender.send(Teed::Frame(Ok(frame)));
        }
        let tee = Self {
            engine: job.engine,
            page,
            primary: job.primary,
            kept,
            size,
            rest: Some(rest),
            visitor: Some(sender),
            guard: job.guard,
            replaces: job.replaces,
            deadline: job.deadline,
            lock: job.lock,
        };
        (tee, head, receiver)
    }

    /// Reads the body to its end (or until nothing more is to be kept), then stores the page
    /// or records why not, lands the render for its waiters and gives the lock back.
    pub(crate) async fn run(mut self) {
        let end = self.tee().await;
        let engine = Arc::clone(&self.engine);
        let key = &self.primary;
        match end {
            End::Complete(body) => match self.page.finish(&engine, body).await {
                Ok(entry) => engine.land_stored(key, self.guard.take(), &entry).await,
                Err(reason) => {
                    engine
                        .land_passed(key, self.guard.take(), self.replaces.as_deref(), reason)
                        .await
                }
            },
            End::Passed(reason) => {
                engine
                    .land_passed(key, self.guard.take(), self.replaces.as_deref(), reason)
                    .await
            }
            End::Failed(why) => {
                engine.render_failed(key, self.replaces.as_deref(), &why);
                if let Some(guard) = self.guard.take() {
                    guard.land(super::Landing::Nothing);
                }
            }
        }
        if let Some((lookup, token)) = self.lock.take() {
            engine.release_lock(&lookup, token).await;
        }
    }

    async fn tee(&mut self) -> End {
        let limit = self.engine.config.max_body_bytes;
        loop {
            let Some(rest) = self.rest.as_mut() else {
                return End::Failed("the body was handed over");
            };
            let frame = CatchUnwind::new(rest.frame());
            let frame = match self.deadline {
                Some(at) => match tokio::time::timeout_at(at, frame).await {
                    Ok(frame) => frame,
                    Err(_) => return self.hand_over(End::Failed("timed out reading the body")),
                },
                None => frame.await,
            };
            let frame = match frame {
                Ok(Some(Ok(frame))) => frame,
                Ok(None) => {
                    // The visitor's answer ends now, not after the page is compressed and
                    // stored.
                    self.visitor = None;
                    let kept = std::mem::take(&mut self.kept);
                    return End::Complete(concat(kept.into_iter(), self.size));
                }
                Ok(Some(Err(error))) => {
                    self.send(Teed::Frame(Err(error)));
                    return End::Failed("response body failed mid-stream");
                }
                Err(panic) => {
                    self.send(Teed::Panicked(panic));
                    return End::Failed("the response body panicked");
                }
            };
            let Some(data) = frame.data_ref() else {
                self.send(Teed::Frame(Ok(frame)));
                return self.hand_over(End::Passed(BypassReason::Trailers));
            };
            self.size += data.len();
            if self.size > limit {
                self.send(Teed::Frame(Ok(frame)));
                return self.hand_over(End::Passed(BypassReason::TooLarge));
            }
            self.kept.push(data.clone());
            self.send(Teed::Frame(Ok(frame)));
        }
    }

    /// Nothing more is kept: the visitor, if still there, reads the rest of the body itself.
    fn hand_over(&mut self, end: End) -> End {
        if let (Some(visitor), Some(rest)) = (self.visitor.take(), self.rest.take()) {
            let _ = visitor.send(Teed::Rest(rest));
        }
        self.kept = Vec::new();
        end
    }

    fn send(&mut self, item: Teed<B>) {
        if let Some(visitor) = &self.visitor
            && visitor.send(item).is_err()
        {
            // The visitor went away; the page is still read for everyone else.
            self.visitor = None;
        }
    }
}
