//! `dynamic_params(false)` for tower services: the layer and its service.

use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use super::StaticParams;
use super::future::ResponseFuture;

/// The layer made by [`StaticParams::layer`]: a request for a path a `dynamic_params(false)`
/// route did not list is answered `404 Not Found` without calling the inner service.
///
/// Put it inside the [`IsrLayer`](crate::IsrLayer), so the `404` is cached like any page and
/// the path it checks is the canonical one the cache gives renders.
///
/// ```
/// use std::convert::Infallible;
///
/// use http::{Request, Response, StatusCode};
/// use isr_layer::static_params::StaticParams;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let params = StaticParams::new()
///     .route("/docs/{slug}", || async {
///         Ok(vec![vec![("slug".to_owned(), "routing".to_owned())]])
///     })?
///     .dynamic_params(false);
/// params.generate().await;
/// let app = ServiceBuilder::new()
///     .layer(params.layer())
///     .service(service_fn(|_: Request<String>| async {
///         Ok::<_, Infallible>(Response::new(String::from("a guide")))
///     }));
/// let unlisted = app.clone().oneshot(Request::get("/docs/nope").body(String::new())?).await?;
/// assert_eq!(unlisted.status(), StatusCode::NOT_FOUND);
/// let listed = app.oneshot(Request::get("/docs/routing").body(String::new())?).await?;
/// assert_eq!(listed.status(), StatusCode::OK);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct StaticParamsLayer {
    params: StaticParams,
}

impl StaticParamsLayer {
    pub(super) fn new(params: StaticParams) -> Self {
        Self { params }
    }
}

impl<S> Layer<S> for StaticParamsLayer {
    type Service = StaticParamsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StaticParamsService {
            inner,
            params: self.params.clone(),
        }
    }
}

/// The service made by [`StaticParamsLayer`].
///
/// Its refusal's body is `Not Found`, made with the inner service's body type (any
/// `From<&'static str>`: axum's `Body`, `Full<Bytes>`, `String`, …); the inner service's
/// errors pass through unchanged.
#[derive(Clone, Debug)]
pub struct StaticParamsService<S> {
    inner: S,
    params: StaticParams,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for StaticParamsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<&'static str>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if self.params.refuses(request.uri().path()) {
            let mut response = Response::new(ResBody::from("Not Found"));
            *response.status_mut() = StatusCode::NOT_FOUND;
            return ResponseFuture::refused(response);
        }
        ResponseFuture::inner(self.inner.call(request))
    }
}
