//! How the layer answered a request: the `x-isr-cache` header.

use std::fmt;

use http::HeaderValue;

/// The value of the `x-isr-cache` header: how the layer answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CacheStatus {
    /// Served from a fresh entry.
    Hit,
    /// Served from an entry past its revalidate time (or whose fresh render failed); one
    /// regeneration runs in the background.
    Stale,
    /// Rendered for this request (never cached, or invalidated), then cached.
    Miss,
    /// Not cacheable: the inner response was passed through untouched.
    Bypass,
}

impl CacheStatus {
    /// The header name: `x-isr-cache`.
    pub const HEADER: http::HeaderName = http::HeaderName::from_static("x-isr-cache");

    /// `HIT`, `STALE`, `MISS` or `BYPASS`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "HIT",
            Self::Stale => "STALE",
            Self::Miss => "MISS",
            Self::Bypass => "BYPASS",
        }
    }

    pub(crate) const fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.as_str())
    }
}

impl fmt::Display for CacheStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
