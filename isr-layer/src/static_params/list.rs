//! The listing: route patterns, their generators, the paths they listed, and `dynamic_params`.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};

use super::layer::StaticParamsLayer;
use super::pattern::{Pattern, PatternError};
use crate::Revalidator;

/// One parameter set: `[("slug", "getting-started")]` for `/docs/{slug}`.
pub type ParamSet = Vec<(String, String)>;

/// The error a generator may return.
pub type GeneratorError = Box<dyn std::error::Error + Send + Sync>;

type Generator = Arc<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Vec<ParamSet>, GeneratorError>> + Send>>
        + Send
        + Sync,
>;

struct Route {
    pattern: Pattern,
    generator: Generator,
    dynamic_params: bool,
    paths: RwLock<Arc<HashSet<String>>>,
}

impl Route {
    fn paths(&self) -> Arc<HashSet<String>> {
        Arc::clone(&self.paths.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether `path` has this route's shape but is not listed, and the route refuses such.
    fn refuses(&self, path: &str) -> bool {
        !self.dynamic_params && self.pattern.matches(path) && !self.paths().contains(path)
    }
}

/// The known pages of parameterised routes: Next.js `generateStaticParams` and `dynamicParams`.
///
/// For each route pattern, an async generator lists its parameter sets; [`generate`] runs the
/// generators and keeps the paths they list. [`prerender`] renders every listed page through
/// the real app at start-up (with a persistent store, pages still good are answered from the
/// cache and not rendered again). [`layer`] enforces `dynamic_params(false)`: an unlisted path
/// of such a route gets `404` without its handler running; with `dynamic_params(true)` (the
/// default) an unlisted path renders on first visit and is then cached.
///
/// Patterns use `{name}` for one segment and `{*name}` for the rest of the path; a listed
/// path is the canonical form the cache gives request paths (percent-encoded), so it matches
/// requests however they spell it.
///
/// The handle is cheap to clone: clones share the routes and their lists.
///
/// [`generate`]: StaticParams::generate
/// [`prerender`]: StaticParams::prerender
/// [`layer`]: StaticParams::layer
///
/// ```
/// use isr_layer::static_params::{ParamSet, StaticParams};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let params = StaticParams::new()
///     .route("/docs/{slug}", || async {
///         Ok(["getting-started", "routing"]
///             .map(|slug| vec![("slug".to_owned(), slug.to_owned())])
///             .to_vec())
///     })?
///     .dynamic_params(false);
/// assert_eq!(params.generate().await, 2);
/// assert!(params.is_listed("/docs/routing"));
/// assert!(params.refuses("/docs/not-a-guide"));
/// assert!(!params.refuses("/about"), "other routes are not the listing's business");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Default)]
pub struct StaticParams {
    routes: Arc<Vec<Arc<Route>>>,
}

impl fmt::Debug for StaticParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|r| r.pattern.source()))
            .finish()
    }
}

impl StaticParams {
    /// No routes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route pattern and the generator of its parameter sets.
    ///
    /// # Errors
    ///
    /// [`PatternError`] when `pattern` does not start with `/`, has a parameter without a name
    /// or one that does not fill its segment, a regular expression (`{id:\d+}`), or a wildcard
    /// before the last segment.
    pub fn route<F, Fut>(self, pattern: &str, generator: F) -> Result<Self, PatternError>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<ParamSet>, GeneratorError>> + Send + 'static,
    {
        let pattern = Pattern::parse(pattern)?;
        let generator: Generator = Arc::new(move || Box::pin(generator()));
        let mut routes: Vec<Arc<Route>> = self.routes.iter().cloned().collect();
        routes.push(Arc::new(Route {
            pattern,
            generator,
            dynamic_params: true,
            paths: RwLock::new(Arc::new(HashSet::new())),
        }));
        Ok(Self {
            routes: Arc::new(routes),
        })
    }

    /// Whether unlisted paths of the route added last render on first visit (`true`, the
    /// default) or get `404` without the handler running (`false`).
    #[must_use]
    pub fn dynamic_params(self, dynamic: bool) -> Self {
        let mut routes: Vec<Arc<Route>> = self.routes.iter().cloned().collect();
        if let Some(last) = routes.pop() {
            routes.push(Arc::new(Route {
                pattern: last.pattern.clone(),
                generator: Arc::clone(&last.generator),
                dynamic_params: dynamic,
                paths: RwLock::new(last.paths()),
            }));
        }
        Self {
            routes: Arc::new(routes),
        }
    }

    /// Runs every generator and replaces the lists. A generator that fails keeps its previous
    /// list (logged). Returns how many paths are listed in all.
    pub async fn generate(&self) -> usize {
        let mut total = 0;
        for route in self.routes.iter() {
            total += generate_route(route).await;
        }
        total
    }

    /// Every listed path, in no particular order.
    pub fn paths(&self) -> Vec<String> {
        self.routes
            .iter()
            .flat_map(|r| r.paths().iter().cloned().collect::<Vec<_>>())
            .collect()
    }

    /// Whether `path` (canonical) is listed.
    pub fn is_listed(&self, path: &str) -> bool {
        self.routes.iter().any(|r| r.paths().contains(path))
    }

    /// Whether `path` (canonical) is refused: it has the shape of a `dynamic_params(false)`
    /// route and is not on its list. A request for it is answered `404` without the handler
    /// running; this is the check [`layer`](Self::layer) and the framework adapters make.
    pub fn refuses(&self, path: &str) -> bool {
        self.routes.iter().any(|route| route.refuses(path))
    }

    /// The tower layer enforcing `dynamic_params(false)`. Put it inside the
    /// [`IsrLayer`](crate::IsrLayer) so the `404` of an unlisted path is cached like any page.
    pub fn layer(&self) -> StaticParamsLayer {
        StaticParamsLayer::new(self.clone())
    }

    /// Re-runs a route's generator whenever a revalidation covers its prefix (a layout at or
    /// above it, or everything), so new pages join the list. Runs until the revalidator's
    /// cache is dropped.
    pub fn refresh_on_revalidation(
        &self,
        revalidator: &Revalidator,
    ) -> tokio::task::JoinHandle<()> {
        let mut events = revalidator.subscribe();
        let routes = Arc::clone(&self.routes);
        tokio::spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                for route in routes.iter() {
                    if event.target.covers_prefix(&route.pattern.static_prefix()) {
                        generate_route(route).await;
                    }
                }
            }
        })
    }
}

async fn generate_route(route: &Route) -> usize {
    match (route.generator)().await {
        Ok(sets) => {
            let mut paths = HashSet::with_capacity(sets.len());
            for set in &sets {
                match route.pattern.render(set) {
                    Ok(path) => {
                        paths.insert(path);
                    }
                    Err(why) => tracing::warn!(target: "isr", %why, "skipped a parameter set"),
                }
            }
            let n = paths.len();
            *route.paths.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(paths);
            tracing::info!(target: "isr", route = %route.pattern.source(), paths = n, "static params generated");
            n
        }
        Err(e) => {
            tracing::warn!(target: "isr", route = %route.pattern.source(), error = %e, "static params generator failed; keeping the previous list");
            route.paths().len()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    fn slugs(list: &[&str]) -> Vec<ParamSet> {
        list.iter()
            .map(|s| vec![("slug".to_owned(), (*s).to_owned())])
            .collect()
    }

    #[tokio::test]
    async fn a_failing_generator_keeps_its_previous_list() {
        let fail = Arc::new(AtomicBool::new(false));
        let failing = Arc::clone(&fail);
        let params = StaticParams::new()
            .route("/docs/{slug}", move || {
                let fail = failing.load(Ordering::SeqCst);
                async move {
                    if fail {
                        Err("the content source is down".into())
                    } else {
                        Ok(slugs(&["a", "b"]))
                    }
                }
            })
            .unwrap();
        assert_eq!(params.generate().await, 2);
        fail.store(true, Ordering::SeqCst);
        assert_eq!(params.generate().await, 2);
        assert!(params.is_listed("/docs/a") && params.is_listed("/docs/b"));
    }

    #[tokio::test]
    async fn only_a_route_without_dynamic_params_refuses_and_only_its_own_shape() {
        let params = StaticParams::new()
            .route("/docs/{slug}", || async { Ok(slugs(&["a"])) })
            .unwrap()
            .dynamic_params(false)
            .route("/blog/{slug}", || async { Ok(slugs(&["b"])) })
            .unwrap();
        params.generate().await;
        assert!(params.refuses("/docs/z"));
        assert!(!params.refuses("/docs/a"));
        assert!(!params.refuses("/docs/a/more"), "not the route's shape");
        assert!(
            !params.refuses("/blog/z"),
            "dynamic_params(true) renders it"
        );
        let mut paths = params.paths();
        paths.sort();
        assert_eq!(paths, ["/blog/b", "/docs/a"]);
        assert_eq!(format!("{params:?}"), r#"["/docs/{slug}", "/blog/{slug}"]"#);
    }

    #[tokio::test]
    async fn a_parameter_set_without_the_pattern_s_names_is_skipped() {
        let params = StaticParams::new()
            .route("/docs/{slug}", || async {
                Ok(vec![
                    vec![("slug".to_owned(), "a".to_owned())],
                    vec![("id".to_owned(), "7".to_owned())],
                ])
            })
            .unwrap();
        assert_eq!(params.generate().await, 1);
        assert_eq!(params.paths(), ["/docs/a"]);
    }
}
