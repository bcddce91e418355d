//! Per-route policy in actix: the [`Isr`] extractor for handlers, response extensions, and
//! [`ScopePolicy`] for a `web::scope` (the layout level). The lowest revalidate wins, as in the
//! tower layer; `Cache-Control: s-maxage` from a handler counts too.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::rc::Rc;
use std::time::Duration;

use actix_web::dev::{Payload, Service, ServiceRequest, Transform, forward_ready};
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest};
use isr_layer::adapter::Restored;
use isr_layer::{IsrPolicyLayer, RenderContext, Revalidate, adapter::PolicySource};

/// Sets the page's revalidate time and tags from a handler.
///
/// Outside a render (the route is not under [`IsrActix`](crate::IsrActix), or the request
/// bypasses the cache) its calls do nothing. A handler may also put a [`Revalidate`] or
/// [`CacheTags`](isr_layer::CacheTags) into its response's extensions.
///
/// ```
/// use actix_web::{App, web};
/// use isr_actix_adapter::{Isr, IsrActix};
///
/// async fn guide(isr: Isr, slug: web::Path<String>) -> String {
///     isr.revalidate_secs(3600);
///     isr.tags(["docs", &format!("guide-{slug}")]);
///     format!("guide {slug}")
/// }
///
/// let app = App::new()
///     .wrap(IsrActix::new(isr_layer::IsrLayer::new()))
///     .route("/docs/{slug}", web::get().to(guide));
/// ```
#[derive(Clone, Debug)]
pub struct Isr {
    render: Option<RenderContext>,
    /// Where reads go: the render's context, or one over the request's own query and cookies.
    reads: RenderContext,
}

impl FromRequest for Isr {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let render = request.extensions().get::<RenderContext>().cloned();
        let reads = match &render {
            Some(render) => render.clone(),
            None => isr_layer::adapter::unrendered_context(
                Some(request.query_string()),
                request
                    .headers()
                    .get_all(actix_web::http::header::COOKIE)
                    .map(|v| v.as_bytes()),
            ),
        };
        ready(Ok(Self { render, reads }))
    }
}

impl Isr {
    /// Whether this request is being rendered for the cache.
    pub fn is_active(&self) -> bool {
        self.render.is_some()
    }

    /// Fresh for `ttl`.
    pub fn revalidate(&self, ttl: Duration) {
        self.lower(Revalidate::After(ttl));
    }

    /// Fresh for `secs` seconds (`0` means dynamic, as in Next.js).
    pub fn revalidate_secs(&self, secs: u64) {
        self.lower(Revalidate::secs(secs));
    }

    /// Cached until invalidated.
    pub fn revalidate_never(&self) {
        self.lower(Revalidate::Never);
    }

    /// Never cached: this response passes through.
    pub fn dynamic(&self) {
        self.lower(Revalidate::Dynamic);
    }

    fn lower(&self, revalidate: Revalidate) {
        if let Some(render) = &self.render {
            render.revalidate(revalidate, PolicySource::Handler);
        }
    }

    /// Tags the page, for `revalidate_tag`.
    pub fn tag(&self, tag: impl AsRef<str>) {
        if let Some(render) = &self.render {
            render.tag(tag);
        }
    }

    /// Tags the page with several tags.
    pub fn tags<I, T>(&self, tags: I)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        if let Some(render) = &self.render {
            render.add_tags(tags);
        }
    }

    /// The query parameter `name` of the visitor's request (decoded), declaring that the page
    /// depends on it: the page is stored once per value. A render is sent only the parameters
    /// its key holds, so a handler reads declared parameters here (or under a
    /// [`ScopePolicy`] with [`IsrPolicyLayer::query_params`]), not with `web::Query`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.reads.query_param(name)
    }

    /// The cookie `name` of the visitor's request, declaring that the page depends on it: the
    /// page is stored once per value (a theme, a language; never a session).
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.reads.cookie(name)
    }

    /// The visitor's whole query string, making the page dynamic (never cached).
    pub fn query(&self) -> Option<String> {
        self.reads.query()
    }

    /// The visitor's `Cookie` header, making the page dynamic (never cached).
    pub fn cookies(&self) -> Option<String> {
        self.reads.cookies()
    }

    /// The render's context, e.g. to pass to code that tags the page itself.
    pub fn context(&self) -> Option<&RenderContext> {
        self.render.as_ref()
    }
}

/// A revalidate time and tags for every page under a `web::scope` (the layout level):
/// `web::scope("/docs").wrap(ScopePolicy::new(IsrPolicyLayer::revalidate(3600)))`.
///
/// ```
/// use actix_web::{App, web};
/// use isr_actix_adapter::{IsrActix, ScopePolicy};
/// use isr_layer::{IsrLayer, IsrPolicyLayer};
///
/// let app = App::new().wrap(IsrActix::new(IsrLayer::new())).service(
///     web::scope("/docs")
///         .wrap(ScopePolicy::new(IsrPolicyLayer::revalidate(3600).tags(["docs"])))
///         .route("/{slug}", web::get().to(|| async { "a guide" })),
/// );
/// ```
#[derive(Clone, Debug)]
pub struct ScopePolicy {
    policy: IsrPolicyLayer,
}

impl ScopePolicy {
    /// Applies `policy` to the pages of the scope it wraps.
    pub fn new(policy: IsrPolicyLayer) -> Self {
        Self { policy }
    }
}

impl<S> Transform<S, ServiceRequest> for ScopePolicy
where
    S: Service<ServiceRequest, Error = Error>,
{
    type Response = S::Response;
    type Error = Error;
    type Transform = ScopePolicyService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ScopePolicyService {
            service: Rc::new(service),
            policy: self.policy.clone(),
        }))
    }
}

/// The service made by [`ScopePolicy`].
#[derive(Debug)]
pub struct ScopePolicyService<S> {
    service: Rc<S>,
    policy: IsrPolicyLayer,
}

impl<S> Service<ServiceRequest> for ScopePolicyService<S>
where
    S: Service<ServiceRequest, Error = Error>,
{
    type Response = S::Response;
    type Error = Error;
    type Future = S::Future;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        let render = request.extensions().get::<RenderContext>().cloned();
        if let Some(render) = render {
            self.policy.apply(&render);
            let query = Some(request.query_string()).filter(|q| !q.is_empty());
            let restored = self.policy.restore(&render, query);
            if restored == Restored::default() {
                return self.service.call(request);
            }
            let head = request.head_mut();
            if let Some(query) = restored.query {
                // Only the query changes: routing inside the scope reads the path it matched.
                let path = head.uri.path();
                let target = if query.is_empty() {
                    path.to_owned()
                } else {
                    format!("{path}?{query}")
                };
                if let Ok(uri) = actix_web::http::Uri::try_from(target) {
                    head.uri = uri;
                }
            }
            if let Some(cookie) = restored.cookie
                && let Ok(value) = actix_web::http::header::HeaderValue::try_from(cookie)
            {
                head.headers.insert(actix_web::http::header::COOKIE, value);
            }
        }
        self.service.call(request)
    }
}
