//! The layer and the shared handle.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::DataCache;
use crate::builder::IsrBuilder;
use crate::engine::Engine;
use crate::revalidator::Revalidator;
use crate::service::IsrService;
use crate::stats::IsrStats;
use crate::store::Store;

/// Incremental Static Regeneration for the service it wraps.
///
/// `IsrLayer` is also the handle to the cache: a cheap `Clone` (an `Arc` inside) from which
/// come the [`Revalidator`] and the [`stats`](IsrLayer::stats). Every clone, and every service
/// it makes, shares one cache.
///
/// ```
/// use std::time::Duration;
/// use axum::{Router, routing::get};
/// use isr_layer::{IsrLayer, Revalidate};
///
/// let isr = IsrLayer::builder()
///     .revalidate(Revalidate::After(Duration::from_secs(60)))
///     .build()
///     .unwrap();
/// let app: Router = Router::new()
///     .route("/", get(|| async { "rendered once a minute at most" }))
///     .layer(isr.clone());
/// let revalidator = isr.revalidator(); // for a webhook, a task or a CLI
/// ```
#[derive(Clone)]
pub struct IsrLayer {
    engine: Arc<Engine>,
    data: DataCache,
}

impl IsrLayer {
    /// A layer with the defaults of [`IsrBuilder::new`].
    pub fn new() -> Self {
        Self::builder()
            .build()
            .expect("the default configuration is valid")
    }

    /// A builder to configure the layer.
    pub fn builder() -> IsrBuilder {
        IsrBuilder::new()
    }

    pub(crate) fn from_engine(engine: Engine, data_store: Arc<dyn Store>) -> Self {
        let engine = Arc::new(engine);
        Self {
            data: DataCache::new(Arc::clone(&engine), data_store),
            engine,
        }
    }

    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The data cache bound to this layer: the same revalidator reaches its values, and fetches
    /// made while a page renders tag the page.
    pub fn data_cache(&self) -> DataCache {
        self.data.clone()
    }

    /// Invalidates pages by path, layout or tag.
    pub fn revalidator(&self) -> Revalidator {
        Revalidator::new(Arc::clone(&self.engine))
    }

    /// The counters so far, and what the store holds.
    pub fn stats(&self) -> IsrStats {
        self.engine.stats()
    }
}

impl Default for IsrLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for IsrLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IsrLayer")
            .field("engine", &self.engine)
            .finish()
    }
}

impl<S> Layer<S> for IsrLayer {
    type Service = IsrService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        IsrService {
            inner,
            engine: Arc::clone(&self.engine),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_configuration_and_the_store() {
        let isr = IsrLayer::builder().max_body_bytes(12_345).build().unwrap();
        let debug = format!("{isr:?}");
        for part in ["IsrLayer", "Engine", "12345", "MemoryStore"] {
            assert!(debug.contains(part), "{part} in {debug}");
        }
    }
}
