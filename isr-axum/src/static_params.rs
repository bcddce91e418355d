//! Static params (Next.js `generateStaticParams`) and `dynamicParams`.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use isr_layer::Revalidator;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::{Layer, Service, ServiceExt};

/// One parameter set: `[("slug", "getting-started")]` for `/docs/{slug}`.
pub type ParamSet = Vec<(String, String)>;

/// The error a generator may return.
pub type GeneratorError = Box<dyn std::error::Error + Send + Sync>;

type Generator = Arc<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Vec<ParamSet>, GeneratorError>> + Send>>
        + Send
        + Sync,
>;

/// Why a route pattern was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// The pattern does not start with `/`.
    #[error("route pattern {0:?} must start with '/'")]
    NotAbsolute(String),
    /// A `{` without its `}`, an empty name, or a wildcard that is not last.
    #[error("route pattern {0:?} is malformed: {1}")]
    Malformed(String, &'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Wildcard(String),
}

/// A route pattern in axum's syntax: `/docs/{slug}`, `/files/{*path}`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pattern {
    source: String,
    segments: Vec<Segment>,
}

impl Pattern {
    fn parse(source: &str) -> Result<Self, PatternError> {
        let rest = source
            .strip_prefix('/')
            .ok_or_else(|| PatternError::NotAbsolute(source.to_owned()))?;
        let malformed = |why| PatternError::Malformed(source.to_owned(), why);
        let mut segments = Vec::new();
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        for (i, part) in parts.iter().enumerate() {
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if name.starts_with('*') => {
                    if i + 1 != parts.len() {
                        return Err(malformed("a wildcard must be the last segment"));
                    }
                    Segment::Wildcard(name[1..].to_owned())
                }
                Some("") => return Err(malformed("a parameter needs a name")),
                Some(name) => Segment::Param(name.to_owned()),
                None if part.contains(['{', '}']) => {
                    return Err(malformed("a parameter must fill a whole segment"));
                }
                None => Segment::Literal((*part).to_owned()),
            };
            if let Segment::Param(n) | Segment::Wildcard(n) = &segment
                && n.is_empty()
            {
                return Err(malformed("a parameter needs a name"));
            }
            segments.push(segment);
        }
        Ok(Self {
            source: source.to_owned(),
            segments,
        })
    }

    /// The literal prefix before the first parameter, e.g. `/docs` for `/docs/{slug}`.
    fn static_prefix(&self) -> String {
        let mut prefix = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(l) => {
                    prefix.push('/');
                    prefix.push_str(l);
                }
                _ => break,
            }
        }
        if prefix.is_empty() {
            prefix.push('/');
        }
        prefix
    }

    /// Whether a canonical request path has this pattern's shape.
    fn matches(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut i = 0;
        for segment in &self.segments {
            match segment {
                Segment::Wildcard(_) => return i < parts.len() && !parts[i].is_empty(),
                Segment::Literal(l) => {
                    if parts.get(i) != Some(&l.as_str()) {
                        return false;
                    }
                }
                Segment::Param(_) => {
                    if parts.get(i).is_none_or(|p| p.is_empty()) {
                        return false;
                    }
                }
            }
            i += 1;
        }
        i == parts.len() || (self.segments.is_empty() && path == "/")
    }

    /// The canonical path of one parameter set.
    fn render(&self, params: &ParamSet) -> Result<String, String> {
        let value = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| format!("missing parameter {name:?} for {}", self.source))
        };
        let mut path = String::new();
        for segment in &self.segments {
            path.push('/');
            match segment {
                Segment::Literal(l) => path.push_str(l),
                Segment::Param(name) => path.push_str(&encode_segment(value(name)?)),
                Segment::Wildcard(name) => {
                    let parts: Vec<String> = value(name)?.split('/').map(encode_segment).collect();
                    path.push_str(&parts.join("/"));
                }
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        Ok(path)
    }
}

/// Percent-encodes everything but unreserved characters, with upper-case hex: the canonical
/// form the ISR layer gives request paths.
fn encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        // Unreserved characters, sub-delims, ':' and '@' may stand raw in a path segment and
        // the layer leaves them raw, so listed paths match requests byte for byte.
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
            )
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

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
}

/// The known pages of parameterised routes: Next.js `generateStaticParams` and `dynamicParams`.
///
/// For each route pattern, an async generator lists its parameter sets. [`prerender`] renders
/// every listed page through the real app at start-up (with a persistent store, pages still
/// good are answered from the cache and not rendered again). [`layer`] enforces
/// `dynamic_params(false)`: an unlisted path of such a route gets `404` without its handler
/// running; with `dynamic_params(true)` (the default) an unlisted path renders on first visit
/// and is then cached.
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
    routes: Arc<Vec<Arc<Route>>>,
}

impl fmt::Debug for StaticParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|r| &r.pattern.source))
            .finish()
    }
}

/// What [`StaticParams::prerender`] did.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct PrerenderReport {
    /// Pages answered successfully (rendered now, or already in the cache).
    pub rendered: usize,
    /// Pages that failed, with the reason.
    pub failed: Vec<(String, String)>,
    /// How long it took.
    pub took: Duration,
}

impl StaticParams {
    /// No routes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route pattern and the generator of its parameter sets.
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

    /// The layer enforcing `dynamic_params(false)`. Put it inside the `IsrLayer` so the `404`
    /// of an unlisted path is cached like any page.
    pub fn layer(&self) -> StaticParamsLayer {
        StaticParamsLayer {
            params: self.clone(),
        }
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
        let started = Instant::now();
        let paths = self.paths();
        let total = paths.len();
        let limit = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for path in paths {
            let app = app.clone();
            let limit = Arc::clone(&limit);
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let request = Request::get(&path).body(Body::empty());
                let outcome = match request {
                    Err(e) => Err(format!("invalid path: {e}")),
                    Ok(request) => match app.oneshot(request).await {
                        Ok(res) if res.status().is_server_error() => {
                            Err(format!("status {}", res.status().as_u16()))
                        }
                        Ok(_) => Ok(()),
                        Err(e) => Err(e.to_string()),
                    },
                };
                (path, outcome)
            });
        }
        let mut report = PrerenderReport::default();
        let step = (total / 10).max(1);
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((_, Ok(()))) => report.rendered += 1,
                Ok((path, Err(why))) => {
                    tracing::warn!(target: "isr", %path, %why, "prerender failed");
                    report.failed.push((path, why));
                }
                Err(e) => report
                    .failed
                    .push(("?".to_owned(), format!("task failed: {e}"))),
            }
            let done = report.rendered + report.failed.len();
            if done % step == 0 || done == total {
                tracing::info!(target: "isr", "prerendered {done}/{total} ({} failed)", report.failed.len());
            }
        }
        report.took = started.elapsed();
        report
    }

    /// Re-runs a route's generator whenever a revalidation covers its prefix (a layout at or
    /// above it, or everything), so new pages join the list. Runs until the layer is dropped.
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
            tracing::info!(target: "isr", route = %route.pattern.source, paths = n, "static params generated");
            n
        }
        Err(e) => {
            tracing::warn!(target: "isr", route = %route.pattern.source, error = %e, "static params generator failed; keeping the previous list");
            route.paths().len()
        }
    }
}

/// The layer made by [`StaticParams::layer`].
#[derive(Clone, Debug)]
pub struct StaticParamsLayer {
    params: StaticParams,
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
#[derive(Clone, Debug)]
pub struct StaticParamsService<S> {
    inner: S,
    params: StaticParams,
}

impl<S, B> Service<Request<B>> for StaticParamsService<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let path = request.uri().path();
        let refused = self.params.routes.iter().any(|route| {
            !route.dynamic_params && route.pattern.matches(path) && !route.paths().contains(path)
        });
        if refused {
            let mut response = Response::new(Body::from("Not Found"));
            *response.status_mut() = StatusCode::NOT_FOUND;
            return Box::pin(std::future::ready(Ok(response)));
        }
        Box::pin(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> ParamSet {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn patterns_parse_render_and_match() {
        let p = Pattern::parse("/docs/{slug}").unwrap();
        assert_eq!(p.static_prefix(), "/docs");
        assert_eq!(
            p.render(&set(&[("slug", "getting-started")])).unwrap(),
            "/docs/getting-started"
        );
        assert_eq!(
            p.render(&set(&[("slug", "a b/c")])).unwrap(),
            "/docs/a%20b%2Fc"
        );
        assert_eq!(p.render(&set(&[("slug", "a@b+c")])).unwrap(), "/docs/a@b+c");
        assert!(p.render(&set(&[("other", "x")])).is_err());
        assert!(p.matches("/docs/x"));
        assert!(!p.matches("/docs"));
        assert!(!p.matches("/docs/x/y"));
        assert!(!p.matches("/blog/x"));

        let w = Pattern::parse("/files/{*path}").unwrap();
        assert_eq!(
            w.render(&set(&[("path", "a/b c")])).unwrap(),
            "/files/a/b%20c"
        );
        assert!(w.matches("/files/a/b"));
        assert!(!w.matches("/files"));

        let two = Pattern::parse("/blog/{year}/{slug}").unwrap();
        assert_eq!(
            two.render(&set(&[("slug", "s"), ("year", "2026")]))
                .unwrap(),
            "/blog/2026/s"
        );
        assert!(two.matches("/blog/2026/s"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(matches!(
            Pattern::parse("docs/{slug}"),
            Err(PatternError::NotAbsolute(_))
        ));
        assert!(Pattern::parse("/docs/{}").is_err());
        assert!(Pattern::parse("/docs/{*rest}/more").is_err());
        assert!(Pattern::parse("/docs/a{slug}").is_err());
    }
}
