//! Compressed representations of cached pages.
//!
//! The cache keeps one rendered page per key and serves it as identity, gzip, Brotli or
//! Zstandard, whichever the visitor's `Accept-Encoding` prefers (RFC 9110 §12.5.3). Each
//! encoding is made **at most once per render**, on the first request that accepts it, and kept
//! with the page: the next hits only pick the bytes. Concurrent first requests for an encoding
//! share one compression (they wait for it); a page over 64 KiB is compressed on tokio's
//! blocking pool, and served in another representation it holds (identity at worst) until then.
//! A page only crawlers and scripts ask for (no `Accept-Encoding`) keeps no encoding at all, so
//! a byte-bounded store holds pages, not encodings nobody asked for. Answers carry `Vary: Accept-Encoding`, `Content-Encoding`, the length of the
//! bytes sent and an `ETag` of their own, so `If-None-Match` and `304` work per representation.
//!
//! The raw `Accept-Encoding` header never enters a cache key, so a page is rendered once however
//! browsers spell the header. The render itself is asked for the identity page
//! (`Accept-Encoding: identity`); a body the application encodes anyway (a `Content-Encoding`
//! of gzip, deflate, Brotli or Zstandard) is decoded once and stored like any other page.
//!
//! Each encoding has a cargo feature, on by default: `gzip`, `br`, `zstd`.
//!
//! ```
//! use isr_layer::IsrLayer;
//! use isr_layer::compression::{Compression, ContentCoding};
//!
//! let isr = IsrLayer::builder()
//!     // Brotli at quality 4 and gzip only; pages under 2 KB stay identity.
//!     .compression(
//!         Compression::new()
//!             .level(ContentCoding::Brotli, 4)
//!             .disable(ContentCoding::Zstd)
//!             .min_size(2048),
//!     )
//!     .build()
//!     .unwrap();
//! # drop(isr);
//! ```

use std::fmt;
use std::sync::Arc;

/// A content coding a cached page can be served in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ContentCoding {
    /// No coding: the page as rendered.
    Identity,
    /// `gzip` (RFC 1952), feature `gzip`.
    Gzip,
    /// `br`: Brotli (RFC 7932), feature `br`.
    Brotli,
    /// `zstd`: Zstandard (RFC 8878), feature `zstd`.
    Zstd,
}

impl ContentCoding {
    /// The coding's token in `Content-Encoding` (`identity`, `gzip`, `br`, `zstd`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Gzip => "gzip",
            Self::Brotli => "br",
            Self::Zstd => "zstd",
        }
    }

    /// Whether this build can make the coding (its cargo feature is on).
    pub const fn is_supported(self) -> bool {
        match self {
            Self::Identity => true,
            Self::Gzip => cfg!(feature = "gzip"),
            Self::Brotli => cfg!(feature = "br"),
            Self::Zstd => cfg!(feature = "zstd"),
        }
    }

    /// The encodings the cache can make, in the server's order of preference: on equal
    /// `q`-values a visitor gets the first it accepts.
    pub(crate) const PREFERENCE: [Self; 3] = [Self::Brotli, Self::Zstd, Self::Gzip];

    pub(crate) const fn index(self) -> usize {
        match self {
            Self::Identity => 0,
            Self::Gzip => 1,
            Self::Brotli => 2,
            Self::Zstd => 3,
        }
    }

    /// The suffix that sets this representation's `ETag` apart from the identity page's.
    pub(crate) const fn etag_suffix(self) -> &'static str {
        match self {
            Self::Identity => "",
            Self::Gzip => "-gz",
            Self::Brotli => "-br",
            Self::Zstd => "-zst",
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        [Self::Identity, Self::Gzip, Self::Brotli, Self::Zstd]
            .into_iter()
            .find(|c| c.index() == usize::from(code))
    }
}

impl fmt::Display for ContentCoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decides from a response's `Content-Type` whether its page is worth compressing.
type Predicate = Arc<dyn Fn(Option<&str>) -> bool + Send + Sync>;

/// Which pages are stored compressed, in which encodings and at which levels
/// ([`IsrBuilder::compression`](crate::IsrBuilder::compression)).
///
/// The defaults come from a measurement of ratio against CPU time on real HTML (BENCHMARKS.md,
/// "Compression levels"): Brotli quality 5, gzip level 6 and Zstandard level 3 shrink an 8 KB
/// page to about a third (a 30 KB page to about a fifth) for about 0.65 ms of CPU in all three
/// together, once per render; Brotli is what browsers get, so its ratio matters most, and
/// higher levels cost much more for little (Brotli 6: +20 % CPU for 0.1 point; 9: 15× the
/// CPU). Pages of at least [`min_size`](Self::min_size) bytes (1 KiB) whose `Content-Type`
/// passes the [`predicate`](Self::predicate) are compressed: text, HTML, CSS, JavaScript, JSON,
/// XML, SVG, WebAssembly and uncompressed fonts; not images, audio, video, archives or WOFF
/// fonts, which /// are compressed already.
#[derive(Clone)]
#[must_use]
pub struct Compression {
    /// Level per coding, indexed by [`ContentCoding::index`]; `None`: not made.
    levels: [Option<u32>; 4],
    min_size: usize,
    predicate: Predicate,
}

impl Default for Compression {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compression")
            .field("gzip", &self.levels[ContentCoding::Gzip.index()])
            .field("br", &self.levels[ContentCoding::Brotli.index()])
            .field("zstd", &self.levels[ContentCoding::Zstd.index()])
            .field("min_size", &self.min_size)
            .finish_non_exhaustive()
    }
}

impl Compression {
    /// Default level of gzip (1–9).
    pub const DEFAULT_GZIP_LEVEL: u32 = 6;
    /// Default quality of Brotli (0–11).
    pub const DEFAULT_BROTLI_LEVEL: u32 = 5;
    /// Default level of Zstandard (1–22).
    pub const DEFAULT_ZSTD_LEVEL: u32 = 3;
    /// Default smallest body that is compressed, in bytes.
    pub const DEFAULT_MIN_SIZE: usize = 1024;

    /// Every encoding this build supports at its default level (see the type's docs).
    pub fn new() -> Self {
        let mut levels = [None; 4];
        for (coding, level) in [
            (ContentCoding::Gzip, Self::DEFAULT_GZIP_LEVEL),
            (ContentCoding::Brotli, Self::DEFAULT_BROTLI_LEVEL),
            (ContentCoding::Zstd, Self::DEFAULT_ZSTD_LEVEL),
        ] {
            if coding.is_supported() {
                levels[coding.index()] = Some(level);
            }
        }
        Self {
            levels,
            min_size: Self::DEFAULT_MIN_SIZE,
            predicate: Arc::new(is_compressible),
        }
    }

    /// No compression: every page is stored and served as rendered.
    pub fn off() -> Self {
        Self {
            levels: [None; 4],
            ..Self::new()
        }
    }

    /// Makes `coding` at `level` (clamped to the coding's range: gzip 1–9, Brotli 0–11,
    /// Zstandard 1–22). A coding whose cargo feature is off is never made.
    pub fn level(mut self, coding: ContentCoding, level: u32) -> Self {
        let level = match coding {
            ContentCoding::Identity => return self,
            ContentCoding::Gzip => level.clamp(1, 9),
            ContentCoding::Brotli => level.min(11),
            ContentCoding::Zstd => level.clamp(1, 22),
        };
        if coding.is_supported() {
            self.levels[coding.index()] = Some(level);
        }
        self
    }

    /// Does not make `coding`.
    pub fn disable(mut self, coding: ContentCoding) -> Self {
        if coding != ContentCoding::Identity {
            self.levels[coding.index()] = None;
        }
        self
    }

    /// Bodies shorter than this stay identity only (default 1 KiB: below it a page fits in one
    /// TCP segment either way).
    pub fn min_size(mut self, bytes: usize) -> Self {
        self.min_size = bytes;
        self
    }

    /// Replaces the `Content-Type` predicate: `predicate(content_type)` says whether a page is
    /// compressed (`None` when the response has no `Content-Type`).
    ///
    /// ```
    /// use isr_layer::compression::Compression;
    ///
    /// // Only HTML.
    /// let html_only = Compression::new()
    ///     .predicate(|content_type| content_type.is_some_and(|t| t.starts_with("text/html")));
    /// # drop(html_only);
    /// ```
    pub fn predicate(
        mut self,
        predicate: impl Fn(Option<&str>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.predicate = Arc::new(predicate);
        self
    }

    /// The level `coding` is made at, if it is made.
    pub fn level_of(&self, coding: ContentCoding) -> Option<u32> {
        self.levels[coding.index()]
    }

    /// Whether any encoding is made at all.
    pub(crate) fn is_on(&self) -> bool {
        self.levels.iter().any(Option::is_some)
    }

    /// The encodings to make for a page of `len` bytes and this `Content-Type`, with levels,
    /// in the server's order of preference.
    pub(crate) fn plan(
        &self,
        content_type: Option<&str>,
        len: usize,
    ) -> impl Iterator<Item = (ContentCoding, u32)> + '_ {
        let wanted = self.is_on() && len >= self.min_size && (self.predicate)(content_type);
        ContentCoding::PREFERENCE
            .into_iter()
            .filter(move |_| wanted)
            .filter_map(|coding| Some((coding, self.levels[coding.index()]?)))
    }
}

/// The default predicate: textual types, and binary ones that are not compressed already.
pub(crate) fn is_compressible(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    match kind {
        "text" => true,
        "application" => {
            matches!(
                subtype,
                "json"
                    | "javascript"
                    | "ecmascript"
                    | "xml"
                    | "xhtml+xml"
                    | "rss+xml"
                    | "atom+xml"
                    | "manifest+json"
                    | "ld+json"
                    | "wasm"
                    | "x-javascript"
                    | "graphql-response+json"
                    | "vnd.ms-fontobject"
                    | "x-font-ttf"
            ) || subtype.ends_with("+json")
                || subtype.ends_with("+xml")
        }
        "image" => matches!(subtype, "svg+xml" | "x-icon" | "vnd.microsoft.icon" | "bmp"),
        "font" => matches!(subtype, "ttf" | "otf" | "collection"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_predicate_takes_text_and_leaves_compressed_formats() {
        for yes in [
            "text/html; charset=utf-8",
            "TEXT/CSS",
            "application/json",
            "application/javascript",
            "application/problem+json",
            "application/atom+xml",
            "image/svg+xml",
            "font/ttf",
            "application/wasm",
        ] {
            assert!(is_compressible(Some(yes)), "{yes}");
        }
        for no in [
            "image/png",
            "image/jpeg",
            "image/webp",
            "font/woff2",
            "application/zip",
            "application/gzip",
            "application/octet-stream",
            "video/mp4",
            "garbage",
            "",
        ] {
            assert!(!is_compressible(Some(no)), "{no}");
        }
        assert!(!is_compressible(None));
    }

    #[test]
    fn the_plan_follows_size_type_and_levels() {
        let c = Compression::new().min_size(100);
        let html = Some("text/html");
        let planned: Vec<_> = c.plan(html, 100).map(|(c, _)| c).collect();
        let supported: Vec<_> = ContentCoding::PREFERENCE
            .into_iter()
            .filter(|c| c.is_supported())
            .collect();
        assert_eq!(planned, supported);
        assert_eq!(c.plan(html, 99).count(), 0);
        assert_eq!(c.plan(Some("image/png"), 10_000).count(), 0);
        assert_eq!(Compression::off().plan(html, 10_000).count(), 0);
        let gzip_only = Compression::new()
            .disable(ContentCoding::Brotli)
            .disable(ContentCoding::Zstd)
            .level(ContentCoding::Gzip, 42);
        if ContentCoding::Gzip.is_supported() {
            assert_eq!(
                gzip_only.plan(html, 10_000).collect::<Vec<_>>(),
                [(ContentCoding::Gzip, 9)]
            );
        }
    }
}
