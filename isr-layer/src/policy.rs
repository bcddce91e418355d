//! Revalidate policies and how the policy of one render is resolved.
//!
//! A page's time to live can be set at several levels: the layer's default, a layout layer on
//! a nested router ([`IsrPolicyLayer`](crate::IsrPolicyLayer)), the handler (through the
//! [`RenderContext`] or a [`Revalidate`] in the response extensions), a `Cache-Control` header
//! from the inner service, and every data fetch made during the render. As in Next.js, **the
//! lowest revalidate wins**, and [`Revalidate::Dynamic`] anywhere makes the page uncached.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long a rendered page stays fresh.
///
/// Ordered from shortest to longest: `Dynamic < After(a) < After(b) < Never` for `a < b`, so
/// `min` gives the policy that wins.
///
/// ```
/// use std::time::Duration;
/// use isr_layer::Revalidate;
///
/// assert_eq!(Revalidate::secs(0), Revalidate::Dynamic);
/// assert_eq!(Revalidate::secs(60), Revalidate::After(Duration::from_secs(60)));
/// assert_eq!(Revalidate::secs(60).min(Revalidate::Never), Revalidate::secs(60));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Revalidate {
    /// Never cached: the page renders for every request (Next.js `revalidate = 0`).
    Dynamic,
    /// Fresh for this long; after that it is served stale while one regeneration runs.
    After(Duration),
    /// Cached until invalidated by path or tag (Next.js `revalidate = false`).
    Never,
}

impl Revalidate {
    /// A revalidate in whole seconds; `0` means [`Revalidate::Dynamic`], as in Next.js.
    pub const fn secs(secs: u64) -> Self {
        if secs == 0 {
            Self::Dynamic
        } else {
            Self::After(Duration::from_secs(secs))
        }
    }

    /// Whether this policy means "never cache".
    pub const fn is_dynamic(self) -> bool {
        matches!(self, Self::Dynamic)
    }

    /// The time to live, if the page expires by time at all.
    pub const fn ttl(self) -> Option<Duration> {
        match self {
            Self::After(d) => Some(d),
            Self::Dynamic | Self::Never => None,
        }
    }
}

impl fmt::Display for Revalidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dynamic => f.write_str("0 (dynamic)"),
            Self::After(d) => write!(f, "{}s", d.as_secs_f64()),
            Self::Never => f.write_str("never"),
        }
    }
}

/// Where a revalidate policy came from; the debug log names it when it made a page dynamic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicySource {
    /// The layer's default ([`IsrBuilder::revalidate`](crate::IsrBuilder::revalidate)).
    Layer,
    /// A layout layer on a nested router ([`IsrPolicyLayer`](crate::IsrPolicyLayer)).
    Layout,
    /// The handler, through the [`RenderContext`] or a [`Revalidate`] response extension.
    Handler,
    /// `Cache-Control: s-maxage` or `max-age` on the inner service's response.
    CacheControl,
    /// A data fetch made during the render.
    Fetch,
}

impl PolicySource {
    /// A short lowercase name, as used in logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Layer => "layer",
            Self::Layout => "layout",
            Self::Handler => "handler",
            Self::CacheControl => "cache-control",
            Self::Fetch => "fetch",
        }
    }
}

impl fmt::Display for PolicySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resolved policy: the lowest revalidate seen and the level that set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub(crate) revalidate: Revalidate,
    pub(crate) source: PolicySource,
}

impl Resolved {
    pub(crate) fn new(revalidate: Revalidate, source: PolicySource) -> Self {
        Self { revalidate, source }
    }

    /// Lowers the policy to `revalidate` when that is lower. On a tie the first source stays.
    pub(crate) fn lower(&mut self, revalidate: Revalidate, source: PolicySource) {
        if revalidate < self.revalidate {
            *self = Self { revalidate, source };
        }
    }
}

/// Cache tags attached to a page, for [`Revalidator::revalidate_tag`](crate::Revalidator::revalidate_tag).
///
/// Put it into the response extensions, or add tags through the [`RenderContext`]:
///
/// ```
/// use isr_layer::CacheTags;
///
/// let mut response = http::Response::new(String::from("<h1>Blue sneakers</h1>"));
/// response.extensions_mut().insert(CacheTags::new(["product-blue-sneakers", "all-products"]));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheTags(Vec<Arc<str>>);

impl CacheTags {
    /// Tags from any list of strings.
    pub fn new<I, T>(tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        Self(tags.into_iter().map(|t| Arc::from(t.as_ref())).collect())
    }

    /// The tags, in the order they were given.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|t| &**t)
    }

    pub(crate) fn as_slice(&self) -> &[Arc<str>] {
        &self.0
    }
}

/// What one render has collected so far: policy, tags and a route name.
///
/// The layer puts a `RenderContext` into the request extensions of every request it renders
/// (never on a cache hit, which does not reach the inner service). Layout layers, handlers and
/// data fetches write into it; the layer reads it when the response comes back. It is a cheap
/// `Clone` handle: clones share one state, so it can be moved into tasks the handler spawns.
///
/// ```
/// use isr_layer::{adapter::PolicySource, RenderContext, Revalidate};
///
/// let cx = RenderContext::new();
/// cx.revalidate(Revalidate::secs(60), PolicySource::Handler);
/// cx.revalidate(Revalidate::secs(300), PolicySource::Fetch); // higher: the 60 s stays
/// cx.tag("all-products");
/// assert_eq!(cx.current_revalidate(), Some(Revalidate::secs(60)));
/// assert_eq!(cx.tags(), vec!["all-products".to_owned()]);
/// ```
///
/// # What a render sees of the visitor's request
///
/// A page rendered for the cache is served to everyone, so its render is not sent what would
/// make it one visitor's page: the `Cookie` header, and the query parameters its key leaves out
/// (by default all of them, as Next.js keys a static page by its path). They are kept aside
/// here, and a route gets them back by saying it reads them:
///
/// - [`query_param`](Self::query_param) and [`cookie`](Self::cookie) declare that the page
///   depends on one parameter or cookie and return its value: the page is then stored once per
///   value (like `Vary`), and the next visitor is looked up under the value they sent;
/// - [`query`](Self::query) and [`cookies`](Self::cookies) return everything and make the page
///   dynamic (never cached), as reading `cookies()` or `searchParams` does in Next.js;
/// - [`IsrPolicyLayer`](crate::IsrPolicyLayer) gives them back to a whole nested router:
///   `dynamic()` restores the whole query and every cookie, `query_params` and `cookies`
///   restore the named ones.
///
/// ```
/// use isr_layer::RenderContext;
///
/// let cx = RenderContext::new(); // not rendering a visitor's request: nothing kept aside
/// assert_eq!(cx.query_param("page"), None);
/// assert_eq!(cx.current_revalidate(), None);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RenderContext {
    state: Arc<Mutex<Collected>>,
    withheld: Option<Arc<Withheld>>,
}

/// What the cache kept back from a render's request.
#[derive(Debug, Default)]
pub(crate) struct Withheld {
    /// The visitor's query (escapes normalised, tracking parameters removed).
    pub(crate) query: Option<String>,
    /// The visitor's `Cookie` lines, joined by `; `.
    pub(crate) cookies: Option<String>,
}

impl Withheld {
    /// The query and the `Cookie` lines of a request (lines that are not UTF-8 are left out).
    pub(crate) fn of<'a>(
        query: Option<String>,
        cookie_lines: impl IntoIterator<Item = &'a [u8]>,
    ) -> Self {
        let mut cookies = String::new();
        for line in cookie_lines {
            if let Ok(line) = std::str::from_utf8(line) {
                if !cookies.is_empty() {
                    cookies.push_str("; ");
                }
                cookies.push_str(line);
            }
        }
        Self {
            query,
            cookies: (!cookies.is_empty()).then_some(cookies),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.query.is_none() && self.cookies.is_none()
    }
}

tokio::task_local! {
    /// The render context of the page the current task is rendering.
    static CURRENT: RenderContext;
}

#[derive(Debug, Default)]
struct Collected {
    policy: Option<Resolved>,
    tags: Vec<Arc<str>>,
    route: Option<Arc<str>>,
    allow_authorization: bool,
    query: Vec<Arc<str>>,
    cookies: Vec<Arc<str>>,
}

impl RenderContext {
    /// An empty context; the layer makes one for every render, so handlers rarely need this.
    pub fn new() -> Self {
        Self::default()
    }

    /// A context for a render whose request was sent without `withheld`.
    pub(crate) fn withholding(withheld: Withheld) -> Self {
        Self {
            state: Arc::default(),
            withheld: (!withheld.is_empty()).then(|| Arc::new(withheld)),
        }
    }

    /// Declares that the page depends on the query parameter `name`, and returns its value in
    /// the visitor's request (percent-decoded, `+` read as a space, like a form; the first one
    /// if repeated). The page is stored once per value of `name`; other parameters still never
    /// reach the render.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.declare_query([name]);
        let query = self.withheld.as_ref()?.query.as_deref()?;
        form_urlencoded::parse(query.as_bytes())
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.into_owned())
    }

    /// Declares that the page depends on the cookie `name`, and returns its value in the
    /// visitor's request. The page is stored once per value (and once without the cookie), so
    /// declare only cookies with a few values (a theme, a language), never a session: its
    /// value would become part of the key, and of the debug log.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.declare_cookies([name]);
        let cookies = self.withheld.as_ref()?.cookies.as_deref()?;
        crate::key::cookie_in(cookies, name).map(str::to_owned)
    }

    /// The visitor's whole query string (tracking parameters removed), making the page
    /// dynamic: it is never cached, as every visitor may get another page.
    pub fn query(&self) -> Option<String> {
        self.revalidate(Revalidate::Dynamic, PolicySource::Handler);
        self.withheld.as_ref()?.query.clone()
    }

    /// The visitor's `Cookie` header, making the page dynamic: it is never cached, so one
    /// visitor's page never reaches another.
    pub fn cookies(&self) -> Option<String> {
        self.revalidate(Revalidate::Dynamic, PolicySource::Handler);
        self.withheld.as_ref()?.cookies.clone()
    }

    /// Declares query parameters the page depends on (see [`query_param`](Self::query_param)).
    pub(crate) fn declare_query<I, T>(&self, names: I)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.with(|c| add_names(&mut c.query, names));
    }

    /// Declares cookies the page depends on (see [`cookie`](Self::cookie)).
    pub(crate) fn declare_cookies<I, T>(&self, names: I)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.with(|c| add_names(&mut c.cookies, names));
    }

    /// What the cache kept back from this render's request.
    pub(crate) fn withheld(&self) -> Option<&Withheld> {
        self.withheld.as_deref()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Collected) -> R) -> R {
        // A panic while holding this lock cannot leave the data half-written in a way that
        // matters (each write is one assignment), so a poisoned lock is used as is.
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }

    /// The context of the page the current task is rendering, if any.
    ///
    /// The layer makes it current while the inner service handles the request, which is how
    /// a [`DataCache`](crate::DataCache) fetch finds the page to tag. A task the handler spawns
    /// does not inherit it; carry it there with [`scope`](Self::scope).
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// Runs `future` with this context as the current one, e.g. in a task the handler spawns:
    ///
    /// ```
    /// use isr_layer::RenderContext;
    ///
    /// # async fn handler() {
    /// if let Some(cx) = RenderContext::current() {
    ///     tokio::spawn(cx.scope(async {
    ///         // DataCache fetches here still tag the page being rendered.
    ///     }));
    /// }
    /// # }
    /// ```
    pub fn scope<F: std::future::Future>(
        self,
        future: F,
    ) -> impl std::future::Future<Output = F::Output> {
        CURRENT.scope(self, future)
    }

    /// Lowers the page's revalidate to `revalidate` if that is lower than what was set so far.
    pub fn revalidate(&self, revalidate: Revalidate, source: PolicySource) {
        self.with(|c| match &mut c.policy {
            Some(resolved) => resolved.lower(revalidate, source),
            None => c.policy = Some(Resolved::new(revalidate, source)),
        });
    }

    /// Adds a cache tag to the page.
    pub fn tag(&self, tag: impl AsRef<str>) {
        let tag = tag.as_ref();
        self.with(|c| {
            if !c.tags.iter().any(|t| &**t == tag) {
                c.tags.push(Arc::from(tag));
            }
        });
    }

    /// Adds several cache tags to the page.
    pub fn add_tags<I, T>(&self, tags: I)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        for tag in tags {
            self.tag(tag);
        }
    }

    /// Names the route (e.g. `/docs/{slug}`) for logs and the inspect listing.
    pub fn set_route(&self, route: impl AsRef<str>) {
        let route = Arc::from(route.as_ref());
        self.with(|c| c.route = Some(route));
    }

    /// Lets this page be cached even though the request carried `Authorization`.
    ///
    /// Only for pages whose content does not depend on who asked: the cached copy is served
    /// to every visitor. The same opt-in is available to any service through
    /// `Cache-Control: public` (RFC 9111 §3.5).
    pub fn allow_authorization(&self) {
        self.with(|c| c.allow_authorization = true);
    }

    /// The lowest revalidate set so far, if any level set one.
    pub fn current_revalidate(&self) -> Option<Revalidate> {
        self.with(|c| c.policy.map(|p| p.revalidate))
    }

    /// The tags added so far, as owned strings.
    pub fn tags(&self) -> Vec<String> {
        self.with(|c| c.tags.iter().map(|t| t.to_string()).collect())
    }

    pub(crate) fn take(&self) -> Collection {
        self.with(|c| Collection {
            policy: c.policy,
            tags: std::mem::take(&mut c.tags),
            route: c.route.clone(),
            allow_authorization: c.allow_authorization,
            query: sorted(&c.query),
            cookies: sorted(&c.cookies),
        })
    }
}

fn add_names<I, T>(names: &mut Vec<Arc<str>>, new: I)
where
    I: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    for name in new {
        let name = name.as_ref();
        if !name.is_empty() && !names.iter().any(|n| &**n == name) {
            names.push(Arc::from(name));
        }
    }
}

/// Names in one order whatever the order of the calls, so one page has one variant key.
fn sorted(names: &[Arc<str>]) -> Vec<Arc<str>> {
    let mut names = names.to_vec();
    names.sort();
    names
}

/// What the layer reads out of a [`RenderContext`] when the response arrives.
#[derive(Debug, Default)]
pub(crate) struct Collection {
    pub(crate) policy: Option<Resolved>,
    pub(crate) tags: Vec<Arc<str>>,
    pub(crate) route: Option<Arc<str>>,
    pub(crate) allow_authorization: bool,
    /// Query parameters the page declared it reads, sorted.
    pub(crate) query: Vec<Arc<str>>,
    /// Cookies the page declared it reads, sorted.
    pub(crate) cookies: Vec<Arc<str>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_revalidate_wins_and_keeps_its_source() {
        let mut r = Resolved::new(Revalidate::Never, PolicySource::Layer);
        r.lower(Revalidate::secs(600), PolicySource::Layout);
        r.lower(Revalidate::secs(900), PolicySource::Handler);
        assert_eq!(
            r,
            Resolved::new(Revalidate::secs(600), PolicySource::Layout)
        );
        r.lower(Revalidate::Dynamic, PolicySource::Fetch);
        assert_eq!(r, Resolved::new(Revalidate::Dynamic, PolicySource::Fetch));
    }

    #[test]
    fn ordering_puts_dynamic_first_and_never_last() {
        assert!(Revalidate::Dynamic < Revalidate::secs(1));
        assert!(Revalidate::secs(1) < Revalidate::secs(2));
        assert!(Revalidate::secs(u64::MAX) < Revalidate::Never);
    }

    #[test]
    fn context_dedupes_tags() {
        let cx = RenderContext::new();
        cx.add_tags(["a", "b", "a"]);
        assert_eq!(cx.tags(), vec!["a", "b"]);
    }
}
