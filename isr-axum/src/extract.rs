//! The `Isr` extractor: set the policy and tags of the page being rendered from a handler.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use isr_layer::{RenderContext, Revalidate, adapter::PolicySource};

/// The render in progress, from a handler's point of view.
///
/// Its calls write into the [`RenderContext`] the layer gave this render; the lowest revalidate
/// of all levels still wins. It also records the route pattern (axum's [`MatchedPath`]) for the
/// debug log and the inspect listing.
///
/// Used on a route that is not under an [`IsrLayer`](crate::IsrLayer), or on a request that is
/// not being rendered by it (e.g. a `POST`), every call is a no-op and the page works as if the
/// extractor were not there; a warning is logged once per process so the missing layer is
/// noticed.
///
/// ```
/// use std::time::Duration;
/// use axum::{extract::Path, response::Html};
/// use isr_axum::Isr;
///
/// async fn product(isr: Isr, Path(slug): Path<String>) -> Html<String> {
///     isr.revalidate(Duration::from_secs(3600));
///     isr.tags([format!("product-{slug}"), "all-products".to_owned()]);
///     Html(format!("<h1>{slug}</h1>"))
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Isr {
    render: Option<RenderContext>,
    /// Where reads go: the render's context, or one over the request's own query and cookies.
    reads: RenderContext,
}

static WARNED: AtomicBool = AtomicBool::new(false);

impl<S: Send + Sync> FromRequestParts<S> for Isr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let render = parts.extensions.get::<RenderContext>().cloned();
        match &render {
            Some(render) => {
                if let Some(route) = parts.extensions.get::<MatchedPath>() {
                    render.set_route(route.as_str());
                }
            }
            None => {
                if parts.method == axum::http::Method::GET && !WARNED.swap(true, Ordering::Relaxed)
                {
                    tracing::warn!(
                        target: "isr",
                        path = %parts.uri.path(),
                        "the Isr extractor is used on a route without an IsrLayer: its calls do nothing"
                    );
                }
            }
        }
        let reads = match &render {
            Some(render) => render.clone(),
            None => isr_layer::adapter::unrendered_context(
                parts.uri.query(),
                parts
                    .headers
                    .get_all(axum::http::header::COOKIE)
                    .iter()
                    .map(|v| v.as_bytes()),
            ),
        };
        Ok(Self { render, reads })
    }
}

impl Isr {
    /// Whether this request is being rendered by an `IsrLayer` (otherwise calls do nothing).
    pub fn is_active(&self) -> bool {
        self.render.is_some()
    }

    fn with(&self, f: impl FnOnce(&RenderContext)) {
        if let Some(render) = &self.render {
            f(render);
        }
    }

    /// The page stays fresh for `ttl` (if that is the lowest of all levels).
    pub fn revalidate(&self, ttl: Duration) {
        self.with(|r| r.revalidate(Revalidate::After(ttl), PolicySource::Handler));
    }

    /// The page stays fresh for `secs` seconds; `0` makes it dynamic.
    pub fn revalidate_secs(&self, secs: u64) {
        self.with(|r| r.revalidate(Revalidate::secs(secs), PolicySource::Handler));
    }

    /// The page is cached until invalidated (unless another level sets a revalidate).
    pub fn revalidate_never(&self) {
        self.with(|r| r.revalidate(Revalidate::Never, PolicySource::Handler));
    }

    /// The page is never cached: it renders for every request.
    pub fn dynamic(&self) {
        self.with(|r| r.revalidate(Revalidate::Dynamic, PolicySource::Handler));
    }

    /// Tags the page.
    pub fn tag(&self, tag: impl AsRef<str>) {
        self.with(|r| r.tag(tag));
    }

    /// Tags the page with several tags.
    pub fn tags<I, T>(&self, tags: I)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.with(|r| r.add_tags(tags));
    }

    /// The query parameter `name` of the visitor's request (decoded), declaring that the page
    /// depends on it: the page is stored once per value. A render is sent only the parameters
    /// its key holds, so a handler reads declared parameters here (or under an
    /// [`IsrPolicyLayer::query_params`](isr_layer::IsrPolicyLayer::query_params) layout), not
    /// with `Query`. See [`RenderContext::query_param`].
    ///
    /// ```
    /// use axum::response::Html;
    /// use isr_axum::Isr;
    ///
    /// async fn blog(isr: Isr) -> Html<String> {
    ///     let page: u32 = isr.query_param("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    ///     Html(format!("<h1>Posts, page {page}</h1>"))
    /// }
    /// ```
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.reads.query_param(name)
    }

    /// The cookie `name` of the visitor's request, declaring that the page depends on it: the
    /// page is stored once per value (a theme, a language; never a session). See
    /// [`RenderContext::cookie`].
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.reads.cookie(name)
    }

    /// The visitor's whole query string, making the page dynamic (never cached).
    pub fn query(&self) -> Option<String> {
        self.reads.query()
    }

    /// The visitor's `Cookie` header, making the page dynamic (never cached): a page that
    /// shows who is signed in is never served to someone else.
    ///
    /// ```
    /// use isr_axum::Isr;
    ///
    /// async fn account(isr: Isr) -> String {
    ///     let signed_in = isr.cookies().is_some_and(|c| c.contains("session="));
    ///     if signed_in { "your account".into() } else { "please sign in".into() }
    /// }
    /// ```
    pub fn cookies(&self) -> Option<String> {
        self.reads.cookies()
    }

    /// The render context itself, to move into a task the handler spawns (see
    /// [`RenderContext`]).
    pub fn context(&self) -> Option<&RenderContext> {
        self.render.as_ref()
    }
}
