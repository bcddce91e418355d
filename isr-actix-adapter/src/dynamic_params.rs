//! `dynamic_params(false)` in actix: a middleware that answers an unlisted path `404` without
//! calling the application.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpResponse};
use isr_layer::static_params;
use pin_project_lite::pin_project;

/// The middleware made by [`StaticParams::middleware`](crate::StaticParams::middleware): a
/// request for a path a `dynamic_params(false)` route did not list is answered
/// `404 Not Found` without calling the service it wraps.
///
/// Register it before [`IsrActix`](crate::IsrActix), so it runs inside the cache: the `404` is
/// cached like any page, and the path it checks is the canonical one the cache renders.
///
/// ```
/// use actix_web::{App, web};
/// use isr_actix_adapter::{IsrActix, StaticParams};
/// use isr_layer::IsrLayer;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let params = StaticParams::new()
///     .route("/docs/{slug}", || async { Ok(vec![vec![("slug".to_owned(), "a".to_owned())]]) })?
///     .dynamic_params(false);
/// let app = App::new()
///     .route("/docs/{slug}", web::get().to(|| async { "a guide" }))
///     .wrap(params.middleware())
///     .wrap(IsrActix::new(IsrLayer::new()));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct StaticParamsMiddleware {
    params: static_params::StaticParams,
}

impl StaticParamsMiddleware {
    pub(crate) fn new(params: static_params::StaticParams) -> Self {
        Self { params }
    }
}

impl<S, B> Transform<S, ServiceRequest> for StaticParamsMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = StaticParamsMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(StaticParamsMiddlewareService {
            service: Rc::new(service),
            params: self.params.clone(),
        }))
    }
}

/// The service made by [`StaticParamsMiddleware`].
#[derive(Debug)]
pub struct StaticParamsMiddlewareService<S> {
    service: Rc<S>,
    params: static_params::StaticParams,
}

impl<S, B> Service<ServiceRequest> for StaticParamsMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = StaticParamsFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        if self.params.refuses(request.path()) {
            let response = request
                .into_response(HttpResponse::NotFound().body("Not Found"))
                .map_into_right_body();
            return StaticParamsFuture {
                kind: Kind::Refused {
                    response: Some(response),
                },
            };
        }
        StaticParamsFuture {
            kind: Kind::Inner {
                future: self.service.call(request),
            },
        }
    }
}

pin_project! {
    /// The response future of [`StaticParamsMiddlewareService`]: the application's own future,
    /// or the refusal, ready at once.
    pub struct StaticParamsFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Refused { response: Option<ServiceResponse<EitherBody<B>>> },
        Inner { #[pin] future: F },
    }
}

impl<F, B> Future for StaticParamsFuture<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Refused { response } => Poll::Ready(Ok(response
                .take()
                .expect("StaticParamsFuture polled after completion"))),
            KindProj::Inner { future } => {
                future.poll(cx).map_ok(ServiceResponse::map_into_left_body)
            }
        }
    }
}

impl<F, B> std::fmt::Debug for StaticParamsFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticParamsFuture").finish_non_exhaustive()
    }
}
