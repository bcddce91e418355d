//! Static params (Next.js `generateStaticParams`) and `dynamicParams` for actix-web: the listing
//! of [`isr_layer::static_params`], prerendered through an `App`.

use std::fmt;
use std::future::Future;
use std::rc::Rc;

use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, Error};
use isr_layer::Revalidator;
use isr_layer::static_params::{self, GeneratorError, ParamSet, PatternError, PrerenderReport};

use crate::dynamic_params::StaticParamsMiddleware;

/// The known pages of parameterised routes: Next.js `generateStaticParams` and `dynamicParams`.
///
/// For each route pattern (`/docs/{slug}`; `{*path}` for the rest of a path), an async
/// generator lists its parameter sets. [`prerender`] renders every listed page through an
/// instance of the app at start-up, before the server takes visitors, so the first visitor of
/// each gets a `HIT` (with a persistent store, pages still good are answered from the cache and
/// not rendered again). [`middleware`] enforces `dynamic_params(false)`: an unlisted path of
/// such a route gets `404` without its handler running; with `dynamic_params(true)` (the
/// default) an unlisted path renders on first visit and is then cached.
///
/// The listing is [`isr_layer::static_params::StaticParams`], shared with the other frameworks
/// (`From` converts either way); this type adds what is actix's: the middleware, and a
/// `prerender` that takes an `App`.
///
/// [`prerender`]: StaticParams::prerender
/// [`middleware`]: StaticParams::middleware
///
/// ```
/// use actix_web::{App, web};
/// use isr_actix_adapter::{IsrActix, StaticParams};
/// use isr_layer::IsrLayer;
///
/// # #[actix_web::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let params = StaticParams::new()
///     .route("/docs/{slug}", || async {
///         Ok(vec![vec![("slug".to_owned(), "getting-started".to_owned())]])
///     })?
///     .dynamic_params(false);
/// params.generate().await;
///
/// let isr = IsrLayer::new();
/// let app = {
///     let (isr, params) = (isr.clone(), params.clone());
///     move || {
///         App::new()
///             .route("/docs/{slug}", web::get().to(|slug: web::Path<String>| async move { slug.into_inner() }))
///             .wrap(params.middleware())
///             .wrap(IsrActix::new(isr.clone()))
///     }
/// };
/// let report = params.prerender(app(), 8).await;
/// assert_eq!((report.rendered, report.failed.len()), (1, 0));
/// assert_eq!(isr.stats().renders, 1);
/// // Then serve the same app: `HttpServer::new(app).bind(..)?.run().await`.
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct StaticParams {
    list: static_params::StaticParams,
}

impl fmt::Debug for StaticParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.list.fmt(f)
    }
}

impl StaticParams {
    /// No routes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route pattern (`/docs/{slug}`, `/files/{*path}`) and the generator of its
    /// parameter sets.
    ///
    /// # Errors
    ///
    /// [`PatternError`] when the pattern is not absolute or malformed; actix's regular
    /// expressions (`{id:\d+}`, `{tail:.*}`) are refused: write `{id}` or `{*tail}`.
    pub fn route<F, Fut>(self, pattern: &str, generator: F) -> Result<Self, PatternError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<ParamSet>, GeneratorError>> + Send + 'static,
    {
        Ok(Self {
            list: self.list.route(pattern, generator)?,
        })
    }

    /// Whether unlisted paths of the route added last render on first visit (`true`, the
    /// default) or get `404` without the handler running (`false`).
    #[must_use]
    pub fn dynamic_params(self, dynamic: bool) -> Self {
        Self {
            list: self.list.dynamic_params(dynamic),
        }
    }

    /// Runs every generator and replaces the lists. A generator that fails keeps its previous
    /// list (logged). Returns how many paths are listed in all.
    pub async fn generate(&self) -> usize {
        self.list.generate().await
    }

    /// Every listed path, in no particular order.
    pub fn paths(&self) -> Vec<String> {
        self.list.paths()
    }

    /// Whether `path` (canonical) is listed.
    pub fn is_listed(&self, path: &str) -> bool {
        self.list.is_listed(path)
    }

    /// The middleware enforcing `dynamic_params(false)`, for `App::wrap` (or a scope's, or a
    /// route's). Register it before [`IsrActix`](crate::IsrActix) (actix runs the middleware
    /// registered last first), so it runs inside the cache and the `404` of an unlisted path
    /// is cached like any page.
    pub fn middleware(&self) -> StaticParamsMiddleware {
        StaticParamsMiddleware::new(self.list.clone())
    }

    /// Renders every listed path through `app` (the application with its
    /// [`IsrActix`](crate::IsrActix), as the server's workers build it), at most `concurrency`
    /// at a time, logging progress; failures (a `5xx`, an error, a panic) are reported, never
    /// abort the run.
    ///
    /// The app is started once, on the current thread, and sent a `GET` for each path as a
    /// visitor would send it (no `Host` header, no peer address): the pages go through the
    /// app's middleware and the cache, which stores them for every worker that shares its
    /// [`IsrLayer`](isr_layer::IsrLayer). Call it where actix runs (inside
    /// `#[actix_web::main]`, or a tokio `LocalSet`), before `HttpServer::run` so the first
    /// visitors already get `HIT`s.
    ///
    /// # Panics
    ///
    /// Outside a tokio `LocalSet` (renders are tasks of the current thread, as in the
    /// middleware).
    pub async fn prerender<T, B>(&self, app: App<T>, concurrency: usize) -> PrerenderReport
    where
        T: ServiceFactory<
                ServiceRequest,
                Config = (),
                Response = ServiceResponse<B>,
                Error = Error,
                InitError = (),
            > + 'static,
        B: MessageBody + 'static,
    {
        let factory = actix_service::IntoServiceFactory::into_factory(app);
        let service = match factory.new_service(AppConfig::default()).await {
            Ok(service) => Rc::new(service),
            Err(()) => {
                tracing::warn!(target: "isr", "the app did not start: nothing prerendered");
                return self
                    .list
                    .prerender_with(concurrency, |_| async {
                        Err::<http::StatusCode, _>("the app did not start")
                    })
                    .await;
            }
        };
        self.list
            .prerender_with(concurrency, |path| {
                let service = Rc::clone(&service);
                // A task per page, so a panicking handler fails its page only.
                let task = actix_web::rt::spawn(async move {
                    let uri = actix_web::http::Uri::try_from(path.as_str())
                        .map_err(|e| format!("invalid path: {e}"))?;
                    let mut request = actix_http::Request::new();
                    *request.uri_mut() = uri;
                    let response = service.call(request).await.map_err(|e| e.to_string())?;
                    let status = response.status().as_u16();
                    http::StatusCode::from_u16(status).map_err(|e| e.to_string())
                });
                async move { task.await.map_err(|e| format!("task failed: {e}"))? }
            })
            .await
    }

    /// Re-runs a route's generator whenever a revalidation covers its prefix (a layout at or
    /// above it, or everything), so new pages join the list. Runs until the revalidator's
    /// cache is dropped.
    pub fn refresh_on_revalidation(
        &self,
        revalidator: &Revalidator,
    ) -> actix_web::rt::task::JoinHandle<()> {
        self.list.refresh_on_revalidation(revalidator)
    }
}

impl From<static_params::StaticParams> for StaticParams {
    fn from(list: static_params::StaticParams) -> Self {
        Self { list }
    }
}

impl From<StaticParams> for static_params::StaticParams {
    fn from(params: StaticParams) -> Self {
        params.list
    }
}

impl AsRef<static_params::StaticParams> for StaticParams {
    fn as_ref(&self) -> &static_params::StaticParams {
        &self.list
    }
}
