//! The layout level of the policy chain: a layer for a nested router or a route.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use tower_layer::Layer;
use tower_service::Service;

use crate::policy::{PolicySource, RenderContext, Revalidate};

/// Sets the revalidate policy and tags of every page under it: the "layout" level of Next.js.
///
/// Apply it to a nested router (or a single route) inside an [`IsrLayer`](crate::IsrLayer).
/// Its revalidate competes with the layer's default and the handler's, and **the lowest wins**;
/// [`IsrPolicyLayer::dynamic`] makes the whole subtree uncached, like a layout that reads
/// cookies. It costs nothing on a cache hit, which never reaches it.
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
}

impl IsrPolicyLayer {
    /// A layout policy with this revalidate.
    pub fn new(revalidate: impl Into<Revalidate>) -> Self {
        Self {
            revalidate: Some(revalidate.into()),
            tags: Arc::new([]),
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
        }
        .tags(tags)
    }

    /// Adds cache tags to every page under this layout.
    pub fn tags<I, T>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let mut all: Vec<Arc<str>> = self.tags.iter().cloned().collect();
        all.extend(tags.into_iter().map(|t| Arc::from(t.as_ref())));
        self.tags = all.into();
        self
    }

    /// Applies this policy to a render: lowers its revalidate (as the layout level) and adds
    /// the tags. For adapters of other frameworks; the layer does it for tower services.
    pub fn apply(&self, render: &RenderContext) {
        if let Some(revalidate) = self.revalidate {
            render.revalidate(revalidate, PolicySource::Layout);
        }
        render.add_tags(self.tags.iter());
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

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if let Some(render) = req.extensions().get::<RenderContext>() {
            self.layer.apply(render);
        }
        self.inner.call(req)
    }
}
