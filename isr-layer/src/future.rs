//! The response future of [`IsrService`](crate::service::IsrService).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;

use crate::body::IsrBody;
use crate::status::CacheStatus;

/// The boxed future of the render path, where a task is awaited anyway.
pub(crate) type RenderFuture<B, E> =
    Pin<Box<dyn Future<Output = Result<Response<IsrBody<B>>, E>> + Send + 'static>>;

pin_project! {
    /// Response future of [`IsrService`](crate::service::IsrService).
    ///
    /// A cache hit is answered without polling anything; a bypassed request is the inner
    /// service's own future, unboxed; only a render (which awaits a spawned task) is boxed.
    pub struct ResponseFuture<F, B, E>
    where
        B: Body,
    {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E>
    where
        B: Body,
    {
        Ready { response: Option<Response<IsrBody<B>>> },
        Bypass { #[pin] future: F },
        Render { future: RenderFuture<B, E> },
    }
}

impl<F, B: Body, E> ResponseFuture<F, B, E> {
    pub(crate) fn ready(response: Response<IsrBody<B>>) -> Self {
        Self {
            kind: Kind::Ready {
                response: Some(response),
            },
        }
    }

    pub(crate) fn bypass(future: F) -> Self {
        Self {
            kind: Kind::Bypass { future },
        }
    }

    pub(crate) fn render(future: RenderFuture<B, E>) -> Self {
        Self {
            kind: Kind::Render { future },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
{
    type Output = Result<Response<IsrBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Ready { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            KindProj::Bypass { future } => {
                let response = ready!(future.poll(cx))?;
                let (mut parts, body) = response.into_parts();
                parts
                    .headers
                    .insert(CacheStatus::HEADER, CacheStatus::Bypass.header_value());
                Poll::Ready(Ok(Response::from_parts(parts, IsrBody::inner(body))))
            }
            KindProj::Render { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, B: Body, E> fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Ready { .. } => "Ready",
            Kind::Bypass { .. } => "Bypass",
            Kind::Render { .. } => "Render",
        };
        f.debug_struct("ResponseFuture")
            .field("kind", &kind)
            .finish()
    }
}
