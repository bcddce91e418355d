//! The response future of [`IsrActixService`](crate::IsrActixService).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{HeaderName, HeaderValue};
use isr_layer::CacheStatus;
use pin_project_lite::pin_project;

use crate::body::ActixBody;

/// A render's answer, boxed: a render awaits a task anyway.
pub(crate) type RenderFuture<B> =
    Pin<Box<dyn Future<Output = Result<ServiceResponse<ActixBody<B>>, Error>>>>;

pin_project! {
    /// The response future of [`IsrActixService`]: a cache hit is answered without polling
    /// anything, a bypass is the application's own future, and only a render is boxed.
    pub struct IsrActixFuture<F, B>
    where
        B: MessageBody,
    {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B>
    where
        B: MessageBody,
    {
        Ready { response: Option<ServiceResponse<ActixBody<B>>> },
        Bypass { #[pin] future: F },
        Render { future: RenderFuture<B> },
    }
}

impl<F, B: MessageBody> IsrActixFuture<F, B> {
    pub(crate) fn ready(response: ServiceResponse<ActixBody<B>>) -> Self {
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

    pub(crate) fn render(future: RenderFuture<B>) -> Self {
        Self {
            kind: Kind::Render { future },
        }
    }
}

impl<F, B> Future for IsrActixFuture<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<ActixBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Ready { response } => Poll::Ready(Ok(response
                .take()
                .expect("IsrActixFuture polled after completion"))),
            KindProj::Bypass { future } => {
                let mut response =
                    std::task::ready!(future.poll(cx))?.map_body(|_, body| ActixBody::inner(body));
                response.headers_mut().insert(
                    HeaderName::from_static("x-isr-cache"),
                    HeaderValue::from_static(CacheStatus::Bypass.as_str()),
                );
                Poll::Ready(Ok(response))
            }
            KindProj::Render { future } => future.as_mut().poll(cx),
        }
    }
}
