//! A render in actix: the application's service and the visitor's own request.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage, HttpRequest};
use isr_layer::RenderContext;
use isr_layer::adapter::Render;
use pin_project_lite::pin_project;

use crate::body::HttpBody;
use crate::convert::to_http_response;

/// Where a render leaves the request once the application has answered, so the visitor's
/// answer can be made with it.
pub(crate) type Returned = Rc<Cell<Option<HttpRequest>>>;

/// The application and the request to render with.
pub(crate) struct ActixRender<S> {
    pub(crate) service: Rc<S>,
    pub(crate) request: ServiceRequest,
    pub(crate) returned: Option<Returned>,
}

impl<S, B> Render for ActixRender<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Body = HttpBody<B>;
    type Error = Error;
    type Future = ActixCall<S::Future>;

    fn render(self, context: RenderContext) -> Self::Future {
        self.request.extensions_mut().insert(context.clone());
        ActixCall {
            future: self.service.call(self.request),
            context,
            returned: self.returned,
        }
    }
}

pin_project! {
    /// The application's answer, translated for the engine.
    pub(crate) struct ActixCall<F> {
        #[pin]
        future: F,
        context: RenderContext,
        returned: Option<Returned>,
    }
}

impl<F, B> Future for ActixCall<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody,
{
    type Output = Result<http::Response<HttpBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.future.poll(cx))?;
        let (request, response) = response.into_parts();
        // The route pattern names the page in logs and in the purge endpoint's listing.
        if let Some(pattern) = request.match_pattern() {
            this.context.set_route(pattern);
        }
        if let Some(returned) = this.returned {
            returned.set(Some(request));
        }
        Poll::Ready(Ok(to_http_response(response)))
    }
}
