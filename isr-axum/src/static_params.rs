//! Static params (Next.js `generateStaticParams`) and `dynamicParams` for axum: the listing of
//! [`isr_layer::static_params`], prerendered through a `Router`.

use std::fmt;
use std::future::Future;

use axum::body::Body;
use axum::http::{Request, Response};
use isr_layer::Revalidator;
use isr_layer::static_params::{self, GeneratorError, ParamSet, PatternError, PrerenderReport};
use tower::Service;

use crate::StaticParamsLayer;

/// The known pages of parameterised routes: Next.js `generateStaticParams` and `dynamicParams`.
///
/// For each route pattern, an async generator lists its parameter sets. [`prerender`] renders
/// every listed page through the real app at start-up (with a persistent store, pages still
/// good are answered from the cache and not rendered again). [`layer`] enforces
/// `dynamic_params(false)`: an unlisted path of such a route gets `404` without its handler
/// running; with `dynamic_params(true)` (the default) an unlisted path renders on first visit
/// and is then cached.
///
/// The listing is [`isr_layer::static_params::StaticParams`], shared with the other frameworks
/// (`From` converts either way); this type adds a `prerender` that takes a `Router`.
///
/// [`prerender`]: StaticParams::prerender
/// [`layer`]: StaticParams::layer
///
/// ```
/// use axum::{Router, extract::Path, routing::get};
/// use isr_axum::{IsrLayer, StaticParams};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let params = StaticParams::new()
///     .route("/docs/{slug}", || async {
///         Ok(vec![vec![("slug".to_owned(), "getting-started".to_owned())]])
///     })?
///     .dynamic_params(false);
/// params.generate().await;
///
/// let isr = IsrLayer::new();
/// let app: Router = Router::new()
///     .route("/docs/{slug}", get(|Path(slug): Path<String>| async move { slug }))
///     .layer(params.layer())
///     .layer(isr.clone());
/// let report = params.prerender(app.clone(), 8).await;
/// assert_eq!((report.rendered, report.failed.len()), (1, 0));
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
    /// [`PatternError`] when the pattern is not absolute or malformed.
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

    /// The layer enforcing `dynamic_params(false)`. Put it inside the `IsrLayer` so the `404`
    /// of an unlisted path is cached like any page.
    pub fn layer(&self) -> StaticParamsLayer {
        self.list.layer()
    }

    /// Renders every listed path through `app` (the router with its `IsrLayer`), at most
    /// `concurrency` at a time, logging progress; failures are reported, never abort the run.
    pub async fn prerender<S, B>(&self, app: S, concurrency: usize) -> PrerenderReport
    where
        S: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: fmt::Display + Send + 'static,
        B: Send + 'static,
    {
        self.list.prerender::<S, Body, B>(app, concurrency).await
    }

    /// Re-runs a route's generator whenever a revalidation covers its prefix (a layout at or
    /// above it, or everything), so new pages join the list. Runs until the layer is dropped.
    pub fn refresh_on_revalidation(
        &self,
        revalidator: &Revalidator,
    ) -> tokio::task::JoinHandle<()> {
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
