//! The response body of [`IsrService`](crate::service::IsrService).

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::sync::mpsc;

/// What a streamed render's tee (in the engine) sends the visitor's body.
pub(crate) enum Teed<B: Body> {
    /// The next frame, or the body's error (the last item).
    Frame(Result<Frame<Bytes>, B::Error>),
    /// The rest of the body, for the visitor to read itself (the last item).
    Rest(Pin<Box<B>>),
    /// The body panicked: the visitor's connection panics too, as without the cache.
    Panicked(Box<dyn Any + Send>),
}

/// The receiving end, held by the visitor's body.
pub(crate) type TeeReceiver<B> = mpsc::UnboundedReceiver<Teed<B>>;

pin_project! {
    /// The body of a response that went through the layer: a cached body, the inner service's
    /// body untouched, (for a body that turned out too large to cache) the frames already
    /// read followed by the rest of the stream, or a render's body streamed to its visitor as
    /// the application makes it while it is read into the cache.
    ///
    /// Errors are the inner body's own: the layer never changes them.
    pub struct IsrBody<B>
    where
        B: Body,
    {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B>
    where
        B: Body,
    {
        Full { data: Option<Bytes> },
        Inner { #[pin] body: B },
        Replay {
            frames: VecDeque<Frame<Bytes>>,
            error: Option<B::Error>,
            rest: Option<Pin<Box<B>>>,
        },
        Stream {
            teed: TeeReceiver<B>,
            rest: Option<Pin<Box<B>>>,
        },
    }
}

impl<B: Body> IsrBody<B> {
    /// A body of these bytes.
    pub fn full(data: Bytes) -> Self {
        let data = if data.is_empty() { None } else { Some(data) };
        Self {
            kind: Kind::Full { data },
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self {
            kind: Kind::Full { data: None },
        }
    }

    /// The inner service's body, untouched.
    pub fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    /// Frames already read, then an error or the rest of the stream.
    pub(crate) fn replay(
        frames: VecDeque<Frame<Bytes>>,
        error: Option<B::Error>,
        rest: Option<Pin<Box<B>>>,
    ) -> Self {
        Self {
            kind: Kind::Replay {
                frames,
                error,
                rest,
            },
        }
    }
}

impl<B: Body> IsrBody<B> {
    /// The visitor's end of a streamed render.
    pub(crate) fn stream(teed: TeeReceiver<B>) -> Self {
        Self {
            kind: Kind::Stream { teed, rest: None },
        }
    }
}

impl<B> Body for IsrBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Full { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Replay {
                frames,
                error,
                rest,
            } => {
                if let Some(frame) = frames.pop_front() {
                    return Poll::Ready(Some(Ok(frame)));
                }
                if let Some(error) = error.take() {
                    return Poll::Ready(Some(Err(error)));
                }
                match rest {
                    Some(body) => body.as_mut().poll_frame(cx),
                    None => Poll::Ready(None),
                }
            }
            KindProj::Stream { teed, rest } => loop {
                if let Some(body) = rest {
                    return body.as_mut().poll_frame(cx);
                }
                match std::task::ready!(teed.poll_recv(cx)) {
                    Some(Teed::Frame(frame)) => return Poll::Ready(Some(frame)),
                    Some(Teed::Rest(body)) => *rest = Some(body),
                    Some(Teed::Panicked(panic)) => std::panic::resume_unwind(panic),
                    None => return Poll::Ready(None),
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full { data } => data.is_none(),
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Replay {
                frames,
                error,
                rest,
            } => {
                frames.is_empty()
                    && error.is_none()
                    && rest.as_ref().is_none_or(|b| b.is_end_stream())
            }
            Kind::Stream { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            Kind::Inner { body } => body.size_hint(),
            Kind::Replay { .. } | Kind::Stream { .. } => SizeHint::default(),
        }
    }
}

impl<B: Body> fmt::Debug for IsrBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Full { .. } => "Full",
            Kind::Inner { .. } => "Inner",
            Kind::Replay { .. } => "Replay",
            Kind::Stream { .. } => "Stream",
        };
        f.debug_struct("IsrBody").field("kind", &kind).finish()
    }
}
