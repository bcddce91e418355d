//! The data cache: cached, tagged outbound fetches (the handbook's "Data Cache").
//!
//! [`DataCache`](crate::DataCache) caches any value by key with
//! [`FetchOptions`](crate::FetchOptions) (revalidate, tags, no-store);
//! [`DataCacheLayer`] does the same around any tower HTTP client; with the `reqwest` feature,
//! `DataCacheMiddleware` does it for `reqwest-middleware`.

pub(crate) mod cache;
mod layer;
pub(crate) mod options;
#[cfg(feature = "reqwest")]
mod reqwest;

pub use self::cache::{DataError, DataStats};
pub use self::layer::{DATA_CACHE_HEADER, DataCacheLayer, DataCacheService};
#[cfg(feature = "reqwest")]
pub use self::reqwest::DataCacheMiddleware;
