//! The layout level of the policy chain: a layer for a nested router or a route.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use tower_layer::Layer;
use tower_service::Service;

use crate::key;
use crate::policy::{PolicySource, RenderContext, Revalidate};

/// Sets the revalidate policy and tags of every page under it: the "layout" level of Next.js.
///
/// Apply it to a nested router (or a single route) inside an [`IsrLayer`](crate::IsrLayer).
/// Its revalidate competes with the layer's default and the handler's, and **the lowest wins**;
/// [`IsrPolicyLayer::dynamic`] makes the whole subtree uncached, like a layout that reads
/// cookies. It costs nothing on a cache hit, which never reaches it.
///
/// It is also where a nested router gets back what the cache keeps from renders (see
/// [`RenderContext`]): under `dynamic()` the inner service gets the visitor's whole query and
/// `Cookie` header; with [`query_params`](Self::query_params) or [`cookies`](Self::cookies) it
/// gets the named ones, and its pages are stored once per value of them.
///
/// ```
/// use axum::{Router, routing::get};
/// use isr_layer::{IsrLayer, IsrPolicyLayer};
///
/// let products = Router::new()
///     .route("/{slug}", get(|| async { "a product" }))
///     .layer(IsrPolicyLayer::revalidate(60).tags(["all-products"]));
/// let dashboard = Router::new()
///     .route("/stats", get(|| async { "per-visitor stats" }))
///     .layer(IsrPolicyLayer::dynamic());
/// let app: Router = Router::new()
///     .nest("/products", products)
///     .nest("/dashboard", dashboard)
///     .layer(IsrLayer::new());
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct IsrPolicyLayer {
    revalidate: Option<Revalidate>,
    tags: Arc<[Arc<str>]>,
    query: Arc<[Arc<str>]>,
    cookies: Arc<[Arc<str>]>,
}

/// What [`IsrPolicyLayer::restore`] gives back to a render's request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Restored {
    /// The query the request should carry instead of its own, if it changes.
    pub query: Option<String>,
    /// The `Cookie` header the request should carry, if any cookie is given back.
    pub cookie: Option<String>,
}

impl Restored {
    /// Gives a request (`http` types) what was restored: its query replaced (its path kept,
    /// which a nested router may have shortened) and its `Cookie` header set.
    pub fn apply_to(self, uri: &mut http::Uri, headers: &mut http::HeaderMap) {
        if let Some(query) = self.query {
            set_query(uri, &query);
        }
        if let Some(cookie) = self.cookie
            && let Ok(value) = http::HeaderValue::try_from(cookie)
        {
            headers.insert(http::header::COOKIE, value);
        }
    }
}

impl IsrPolicyLayer {
    /// A layout policy with this revalidate.
    pub fn new(revalidate: impl Into<Revalidate>) -> Self {
        Self {
            revalidate: Some(revalidate.into()),
            tags: Arc::new([]),
            query: Arc::new([]),
            cookies: Arc::new([]),
        }
    }

    /// Fresh for `secs` seconds (`0` means dynamic, as in Next.js).
    pub fn revalidate(secs: u64) -> Self {
        Self::new(Revalidate::secs(secs))
    }

    /// Cached until invalidated (Next.js `revalidate = false`).
    pub fn never() -> Self {
        Self::new(Revalidate::Never)
    }

    /// Never cached: every page under this layout renders on every request.
    pub fn dynamic() -> Self {
        Self::new(Revalidate::Dynamic)
    }

    /// Only tags, no revalidate of its own.
    pub fn tagged<I, T>(tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        Self {
            revalidate: None,
            tags: Arc::new([]),
            query: Arc::new([]),
            cookies: Arc::new([]),
        }
        .tags(tags)
    }

    /// Adds cache tags to every page under this layout.
    pub fn tags<I, T>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.tags = extended(&self.tags, tags);
        self
    }

    /// Declares query parameters every page under this layer reads: the inner service gets
    /// them (the cache removes undeclared ones), and each page is stored once per value.
    ///
    /// ```
    /// use axum::{Router, extract::Query, routing::get};
    /// use isr_layer::IsrPolicyLayer;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Page { page: Option<u32> }
    ///
    /// let blog: Router = Router::new()
    ///     .route("/", get(|Query(p): Query<Page>| async move { format!("page {}", p.page.unwrap_or(1)) }))
    ///     .layer(IsrPolicyLayer::revalidate(60).query_params(["page"]));
    /// ```
    pub fn query_params<I, T>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.query = extended(&self.query, names);
        self
    }

    /// Declares cookies every page under this layer reads (a theme, a language): the inner
    /// service gets them in its `Cookie` header (the cache sends renders none), and each page
    /// is stored once per value. Never a session cookie: a page per visitor is `dynamic()`.
    pub fn cookies<I, T>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.cookies = extended(&self.cookies, names);
        self
    }

    /// Applies this policy to a render: lowers its revalidate (as the layout level), adds the
    /// tags and declares the query parameters and cookies. For adapters of other frameworks;
    /// the layer does it for tower services, with [`restore`](Self::restore).
    pub fn apply(&self, render: &RenderContext) {
        if let Some(revalidate) = self.revalidate {
            render.revalidate(revalidate, PolicySource::Layout);
        }
        render.add_tags(self.tags.iter());
        render.declare_query(self.query.iter());
        render.declare_cookies(self.cookies.iter());
    }

    /// What the render's request gets back of what the cache kept from it, given the query it
    /// carries now: everything under `dynamic()`, the declared parameters and cookies
    /// otherwise. For adapters of other frameworks; the layer does it for tower services.
    pub fn restore(&self, render: &RenderContext, query: Option<&str>) -> Restored {
        let Some(withheld) = render.withheld() else {
            return Restored::default();
        };
        if self.revalidate == Some(Revalidate::Dynamic) {
            return Restored {
                query: withheld.query.clone().filter(|q| Some(q.as_str()) != query),
                cookie: withheld.cookies.clone(),
            };
        }
        let query = if self.query.is_empty() {
            None
        } else {
            let mut pairs: Vec<&str> = query
                .unwrap_or_default()
                .split('&')
                .filter(|p| !p.is_empty())
                .collect();
            let before = pairs.len();
            for pair in withheld.query.as_deref().unwrap_or_default().split('&') {
                let declared = self.query.iter().any(|n| **n == *key::param_name(pair));
                if declared && !pairs[..before].contains(&pair) {
                    pairs.push(pair);
                }
            }
            (pairs.len() != before).then(|| pairs.join("&"))
        };
        let cookie = if self.cookies.is_empty() {
            None
        } else {
            withheld
                .cookies
                .as_deref()
                .map(|cookies| key::declared_cookies_in(cookies, &self.cookies))
                .filter(|kept| !kept.is_empty())
        };
        Restored { query, cookie }
    }
}

fn extended<I, T>(names: &[Arc<str>], more: I) -> Arc<[Arc<str>]>
where
    I: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    let mut all: Vec<Arc<str>> = names.to_vec();
    for name in more {
        if !all.iter().any(|n| **n == *name.as_ref()) {
            all.push(Arc::from(name.as_ref()));
        }
    }
    all.into()
}

/// Replaces the query of `uri`, keeping its path (which a nested router may have shortened).
pub(crate) fn set_query(uri: &mut http::Uri, query: &str) {
    let path = uri.path();
    let pq = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let mut parts = uri.clone().into_parts();
    if let Ok(pq) = http::uri::PathAndQuery::try_from(pq) {
        parts.path_and_query = Some(pq);
        if let Ok(new) = http::Uri::from_parts(parts) {
            *uri = new;
        }
    }
}

impl<S> Layer<S> for IsrPolicyLayer {
    type Service = IsrPolicy<S>;

    fn layer(&self, inner: S) -> Self::Service {
        IsrPolicy {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`IsrPolicyLayer`].
#[derive(Clone, Debug)]
pub struct IsrPolicy<S> {
    inner: S,
    layer: IsrPolicyLayer,
}

impl<S, B> Service<Request<B>> for IsrPolicy<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if let Some(render) = req.extensions().get::<RenderContext>().cloned() {
            self.layer.apply(&render);
            let restored = self.layer.restore(&render, req.uri().query());
            let (mut parts, body) = req.into_parts();
            restored.apply_to(&mut parts.uri, &mut parts.headers);
            req = Request::from_parts(parts, body);
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Withheld;

    fn rendering(query: Option<&str>, cookies: Option<&str>) -> RenderContext {
        RenderContext::withholding(Withheld {
            query: query.map(str::to_owned),
            cookies: cookies.map(str::to_owned),
        })
    }

    #[test]
    fn a_layout_restores_what_it_declares_and_a_dynamic_one_everything() {
        let render = rendering(Some("x=1&page=2&sort=new"), Some("session=a; theme=dark"));
        let declared = IsrPolicyLayer::never()
            .query_params(["page"])
            .cookies(["theme", "lang"]);
        assert_eq!(
            declared.restore(&render, None),
            Restored {
                query: Some("page=2".into()),
                cookie: Some("theme=dark".into()),
            }
        );
        // What the request carries already stays, and is not repeated.
        assert_eq!(
            declared.restore(&render, Some("page=2")),
            Restored {
                query: None,
                cookie: Some("theme=dark".into()),
            }
        );
        assert_eq!(
            IsrPolicyLayer::dynamic().restore(&render, Some("page=2")),
            Restored {
                query: Some("x=1&page=2&sort=new".into()),
                cookie: Some("session=a; theme=dark".into()),
            }
        );
        // Declaring nothing gives nothing back; nor does a context with nothing kept.
        assert_eq!(
            IsrPolicyLayer::revalidate(60).restore(&render, None),
            Restored::default()
        );
        assert_eq!(
            IsrPolicyLayer::dynamic().restore(&RenderContext::new(), None),
            Restored::default()
        );
    }

    #[test]
    fn restoring_keeps_the_path_a_nested_router_shortened() {
        let mut uri: http::Uri = "/all?page=1".parse().unwrap();
        let mut headers = http::HeaderMap::new();
        Restored {
            query: Some("page=2&x=1".into()),
            cookie: Some("theme=dark".into()),
        }
        .apply_to(&mut uri, &mut headers);
        assert_eq!(uri, "/all?page=2&x=1");
        assert_eq!(headers["cookie"], "theme=dark");
        Restored {
            query: Some(String::new()),
            cookie: None,
        }
        .apply_to(&mut uri, &mut headers);
        assert_eq!(uri, "/all");
    }
}
