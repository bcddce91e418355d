//! The bodies at the edge: actix's `MessageBody` read by the engine as an `http_body::Body`,
//! and the engine's answers written back as a `MessageBody`.

use std::error::Error as StdError;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use isr_layer::service::IsrBody;
use pin_project_lite::pin_project;

pin_project! {
    /// An actix body read as an [`http_body::Body`], for the engine.
    pub struct HttpBody<B> {
        #[pin]
        body: B,
    }
}

impl<B> HttpBody<B> {
    pub(crate) fn new(body: B) -> Self {
        Self { body }
    }
}

impl<B: MessageBody> Body for HttpBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.project()
            .body
            .poll_next(cx)
            .map(|chunk| chunk.map(|chunk| chunk.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.body.size(), BodySize::None | BodySize::Sized(0))
    }

    fn size_hint(&self) -> SizeHint {
        match self.body.size() {
            BodySize::None => SizeHint::with_exact(0),
            BodySize::Sized(len) => SizeHint::with_exact(len),
            BodySize::Stream => SizeHint::default(),
        }
    }
}

pin_project! {
    /// The body of a response that went through the cache: a cached page, a rendered response
    /// the engine read, or the application's own body (`BYPASS`).
    pub struct ActixBody<B>
    where
        B: MessageBody,
    {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B>
    where
        B: MessageBody,
    {
        Isr {
            #[pin]
            body: IsrBody<HttpBody<B>>,
            // The length to announce for an answer to `HEAD`, which has no bytes.
            declared: Option<u64>,
        },
        Inner {
            #[pin]
            body: B,
        },
    }
}

impl<B: MessageBody> ActixBody<B> {
    pub(crate) fn isr(body: IsrBody<HttpBody<B>>, declared: Option<u64>) -> Self {
        Self {
            kind: Kind::Isr { body, declared },
        }
    }

    pub(crate) fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }
}

impl<B: MessageBody> MessageBody for ActixBody<B> {
    type Error = Box<dyn StdError>;

    fn size(&self) -> BodySize {
        match &self.kind {
            Kind::Isr {
                declared: Some(len),
                ..
            } => BodySize::Sized(*len),
            Kind::Isr { body, .. } => match body.size_hint().exact() {
                Some(len) => BodySize::Sized(len),
                None => BodySize::Stream,
            },
            Kind::Inner { body } => body.size(),
        }
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Isr { mut body, .. } => loop {
                match std::task::ready!(body.as_mut().poll_frame(cx)) {
                    None => return Poll::Ready(None),
                    Some(Err(error)) => return Poll::Ready(Some(Err(error.into()))),
                    Some(Ok(frame)) => {
                        // Trailers have no place in an actix body.
                        if let Ok(data) = frame.into_data() {
                            return Poll::Ready(Some(Ok(data)));
                        }
                    }
                }
            },
            KindProj::Inner { body } => body
                .poll_next(cx)
                .map(|chunk| chunk.map(|chunk| chunk.map_err(Into::into))),
        }
    }
}
