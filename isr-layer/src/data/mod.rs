//! The data cache: cached, tagged outbound fetches (the handbook's "Data Cache").
//!
//! [`DataCache`] caches any value by key with [`FetchOptions`] (revalidate, tags, no-store);
//! [`DataCacheLayer`] does the same around any tower HTTP client; with the `reqwest` feature,
//! `DataCacheMiddleware` does it for `reqwest-middleware`.

mod cache;
mod layer;
mod options;
#[cfg(feature = "reqwest")]
mod reqwest;

pub use self::cache::{DataCache, DataError, DataStats};
pub use self::layer::{DATA_CACHE_HEADER, DataCacheLayer, DataCacheService};
pub use self::options::FetchOptions;
#[cfg(feature = "reqwest")]
pub use self::reqwest::DataCacheMiddleware;
