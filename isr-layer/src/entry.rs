//! The stored entry: one rendered page and what is known about it.

use std::any::Any;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{AGE, LAST_MODIFIED};
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::clock::{Micros, saturating_micros};
use crate::compression::ContentCoding;
use crate::decimal::integer_value;
use crate::head::Head;
use crate::policy::Revalidate;

/// One cached page: the response as it is served, and when and how it was made.
///
/// An entry holds the page as rendered (identity) and the encodings it may be served in (see
/// [`compression`](crate::compression)): each is made once, on the first request that accepts
/// it, and kept with the entry from then on.
///
/// Entries are shared (`Arc<Entry>`) and never change what they serve; a regeneration stores a
/// new entry. What is filled in later is each encoding, once, and the retry back-off's count.
#[derive(Debug)]
pub struct Entry {
    pub(crate) key: Arc<str>,
    /// Where the canonical path sits in `key` (empty for fetched data).
    pub(crate) path: Range<usize>,
    pub(crate) route: Option<Arc<str>>,
    pub(crate) status: StatusCode,
    /// The headers this entry shares with others (see [`Head`]).
    pub(crate) head: Arc<Head>,
    /// Whether `head` was in use by another entry when this one was made: its bytes are then
    /// charged to that entry, not to this one.
    pub(crate) head_shared: bool,
    pub(crate) body: Bytes,
    pub(crate) etag: HeaderValue,
    /// `Content-Length` of the identity page.
    pub(crate) content_length: HeaderValue,
    pub(crate) rendered_at: Micros,
    pub(crate) stored_at: Micros,
    pub(crate) revalidate: Revalidate,
    pub(crate) tags: Box<[Arc<str>]>,
    pub(crate) shared_with_authorization: bool,
    /// Failed regenerations of this entry, for the retry back-off.
    pub(crate) failures: Failures,
    /// The page's encodings, made or to be made, in the server's order of preference.
    pub(crate) encoded: Box<[Encoding]>,
    /// `Last-Modified` in seconds since the Unix epoch, for `If-Modified-Since`.
    pub(crate) last_modified: Option<u64>,
    /// `Last-Modified` as served.
    pub(crate) last_modified_value: Option<HeaderValue>,
    /// The identity page's headers in an adapter's own types (see [`ConvertedHeaders`]).
    pub(crate) converted: ConvertedHeaders,
}

/// A representation's headers converted once into a framework adapter's own header type, so
/// that a hit clones them instead of translating every name and value again
/// (see [`Page::converted_headers`](crate::adapter::Page::converted_headers)).
///
/// Made on the first answer that asks, kept for the entry's life; one type per entry (the first
/// adapter to ask owns the slot).
#[derive(Default)]
pub(crate) struct ConvertedHeaders(OnceLock<Box<dyn Any + Send + Sync>>);

impl ConvertedHeaders {
    pub(crate) fn get_or_convert<T: Any + Send + Sync>(
        &self,
        convert: impl FnOnce() -> T,
    ) -> Option<&T> {
        self.0.get_or_init(|| Box::new(convert())).downcast_ref()
    }
}

impl fmt::Debug for ConvertedHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ConvertedHeaders")
            .field(&self.0.get().is_some())
            .finish()
    }
}

/// The failed regenerations of one entry, for the engine's retry back-off: the only state of
/// an entry that changes (two atomics, so the stale-serving path reads it with one load); a
/// successful render replaces the entry, and with it this count.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    count: AtomicU32,
    retry_at: AtomicU64,
}

impl Failures {
    /// Whether the next retry is not due yet at `now`.
    pub(crate) fn is_backing_off(&self, now: Micros) -> bool {
        now < self.retry_at.load(Ordering::Acquire)
    }

    /// Counts a failure at `now`; the next retry is due `delay(failures so far)` later, which
    /// is returned.
    pub(crate) fn record(&self, now: Micros, delay: impl FnOnce(u32) -> Duration) -> Duration {
        let count = self.count.fetch_add(1, Ordering::AcqRel).saturating_add(1);
        let delay = delay(count);
        self.retry_at.store(
            now.saturating_add(saturating_micros(delay)),
            Ordering::Release,
        );
        delay
    }
}

/// One encoding of a page as made. It is served with the entry's head for its coding, and
/// its own `Content-Length` and `ETag`.
#[derive(Debug)]
pub(crate) struct Representation {
    pub(crate) body: Bytes,
    pub(crate) etag: HeaderValue,
    pub(crate) content_length: HeaderValue,
    pub(crate) converted: ConvertedHeaders,
}

impl Representation {
    /// `body`, the page in `coding`, whose identity is tagged `identity_etag`.
    pub(crate) fn new(identity_etag: &HeaderValue, coding: ContentCoding, body: Bytes) -> Self {
        Self {
            etag: representation_etag(identity_etag, coding),
            content_length: integer_value(body.len() as u64),
            body,
            converted: ConvertedHeaders::default(),
        }
    }
}

/// One encoding a page may be served in: planned when the page is stored (its content type and
/// size call for it), made on the first request that accepts it, once per entry.
///
/// Concurrent requests for an encoding not made yet are coalesced: one makes it, the others
/// wait for it (small pages) or are served another representation meanwhile (large pages,
/// whose encoding runs on the blocking pool, see `engine::respond`).
#[derive(Debug)]
pub(crate) struct Encoding {
    pub(crate) coding: ContentCoding,
    /// The level to make it at, from the layer's [`Compression`](crate::compression::Compression).
    pub(crate) level: u8,
    /// A background task has been asked to make it (large pages).
    pub(crate) started: AtomicBool,
    /// `Some(None)`: made, and no smaller than the page, so the page is served as identity.
    pub(crate) made: OnceLock<Option<Box<Representation>>>,
}

impl Encoding {
    /// An encoding to make when it is first asked for.
    pub(crate) fn planned(coding: ContentCoding, level: u32) -> Self {
        Self {
            coding,
            level: u8::try_from(level).unwrap_or(u8::MAX),
            started: AtomicBool::new(false),
            made: OnceLock::new(),
        }
    }

    /// An encoding made already (read with its entry from a store).
    pub(crate) fn made(
        coding: ContentCoding,
        level: u8,
        representation: Option<Representation>,
    ) -> Self {
        Self {
            coding,
            level,
            started: AtomicBool::new(true),
            made: OnceLock::from(representation.map(Box::new)),
        }
    }

    /// The representation, if it has been made and is smaller than the page.
    pub(crate) fn representation(&self) -> Option<&Representation> {
        self.made.get()?.as_deref()
    }

    /// Whether the page may be served in this encoding: not made yet, or made and smaller.
    pub(crate) fn is_offered(&self) -> bool {
        !matches!(self.made.get(), Some(None))
    }
}

/// The `ETag` of a representation: the identity page's tag with a suffix per coding inside the
/// quotes (`"abc"` → `"abc-br"`), weak if the page's tag is weak.
fn representation_etag(etag: &HeaderValue, coding: ContentCoding) -> HeaderValue {
    let bytes = etag.as_bytes();
    let Some(inner) = bytes.strip_suffix(b"\"") else {
        return etag.clone();
    };
    let mut tag = Vec::with_capacity(bytes.len() + 4);
    tag.extend_from_slice(inner);
    tag.extend_from_slice(coding.etag_suffix().as_bytes());
    tag.push(b'"');
    HeaderValue::from_bytes(&tag).unwrap_or_else(|_| etag.clone())
}

/// A view of what one visitor is sent: the identity page or one of its encodings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Served<'a> {
    /// The head's map for this representation, with places for the values below.
    pub(crate) head: &'a HeaderMap,
    pub(crate) body: &'a Bytes,
    pub(crate) etag: &'a HeaderValue,
    pub(crate) content_length: &'a HeaderValue,
    pub(crate) last_modified: Option<&'a HeaderValue>,
    pub(crate) converted: &'a ConvertedHeaders,
    /// Whether `head` is a page's, with places for the values above (see [`Head`]).
    pub(crate) is_page: bool,
}

impl Served<'_> {
    /// The representation's headers as answered with `age` and `cache_status`: the head's,
    /// with the entry's own values and the answer's in the places the head keeps.
    pub(crate) fn answer_headers(
        &self,
        age: HeaderValue,
        cache_status: crate::status::CacheStatus,
    ) -> HeaderMap {
        let mut headers = self.head.clone();
        if self.is_page {
            crate::head::fill(
                &mut headers,
                crate::head::Placed {
                    content_length: self.content_length,
                    etag: self.etag,
                    last_modified: self.last_modified,
                    age,
                    cache_status: cache_status.header_value(),
                },
            );
        } else {
            headers.insert(AGE, age);
            headers.insert(
                crate::status::CacheStatus::HEADER,
                cache_status.header_value(),
            );
        }
        headers
    }

    /// The representation's headers, with places for the answer's `Age` (0) and `x-isr-cache`
    /// (`HIT`).
    pub(crate) fn headers(&self) -> HeaderMap {
        self.answer_headers(
            HeaderValue::from_static("0"),
            crate::status::CacheStatus::Hit,
        )
    }
}

/// `Last-Modified` of `headers`, in seconds since the Unix epoch.
pub(crate) fn last_modified_secs(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(LAST_MODIFIED)?.to_str().ok()?;
    let time = httpdate::parse_http_date(value).ok()?;
    Some(time.duration_since(UNIX_EPOCH).ok()?.as_secs())
}

impl Entry {
    /// An entry of the data cache: a fetched value, with no page path.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fetched(
        key: Arc<str>,
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        rendered_at: Micros,
        stored_at: Micros,
        revalidate: Revalidate,
        tags: Box<[Arc<str>]>,
    ) -> Self {
        Self {
            key,
            path: 0..0,
            route: None,
            status,
            content_length: integer_value(body.len() as u64),
            head: Head::plain(headers),
            head_shared: false,
            body,
            etag: HeaderValue::from_static("\"\""),
            rendered_at,
            stored_at,
            revalidate,
            tags,
            shared_with_authorization: false,
            failures: Default::default(),
            encoded: Box::default(),
            last_modified: None,
            last_modified_value: None,
            converted: ConvertedHeaders::default(),
        }
    }
}

/// Bytes an entry costs besides its key, body, own header values, tags and encodings: the
/// struct and its `Arc`, the memory store's records (moka's node, its places in the access and
/// write orders, about 330 bytes of it) and the allocator's rounding. The headers it shares
/// with other entries (its [`Head`]) are charged to the first entry that used them. Measured
/// with `bench/scale.sh` (BENCHMARKS.md, "Scale"): 988 bytes of resident memory per entry of a
/// 2 KB page besides body and key, and as much charged.
pub(crate) const ENTRY_OVERHEAD: usize = 784;

/// Bytes an encoding costs besides its body and tag: the struct and its box, the tag's bytes
/// and the allocator's rounding, measured the same way (458 bytes per Brotli encoding of a
/// 2 KB page, its ~100 bytes of body included).
pub(crate) const REPRESENTATION_OVERHEAD: usize = 320;

/// Bytes an encoding to be made costs before it is made: its place in the entry.
pub(crate) const ENCODING_OVERHEAD: usize = 32;

impl Entry {
    /// The cache key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The canonical path of the page (its key without host, query and variant).
    pub fn path(&self) -> &str {
        self.key.get(self.path.clone()).unwrap_or_default()
    }

    /// The route name the render reported (e.g. `/docs/{slug}`), if any.
    pub fn route(&self) -> Option<&str> {
        self.route.as_deref()
    }

    /// The response status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers as served in identity (without `Age` and `x-isr-cache`, which are
    /// per answer). Made from the head the entry shares and the entry's own values.
    pub fn headers(&self) -> HeaderMap {
        if !self.head.is_page() {
            return self.head.map(ContentCoding::Identity).clone();
        }
        let mut headers = self.identity().headers();
        headers.remove(AGE);
        headers.remove(crate::status::CacheStatus::HEADER);
        headers
    }

    /// The response body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The entity tag served with the page.
    pub fn etag(&self) -> &HeaderValue {
        &self.etag
    }

    /// The revalidate policy the page was stored with.
    pub fn revalidate(&self) -> Revalidate {
        self.revalidate
    }

    /// The page's explicit cache tags (the implicit path tags are not listed).
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        self.tags.iter().map(|t| &**t)
    }

    /// When the render that produced this entry started.
    pub fn rendered_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(self.rendered_at)
    }

    /// When the entry was stored.
    pub fn stored_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(self.stored_at)
    }

    /// Whether the entry is still fresh by time at `now` (invalidations are checked apart).
    pub fn is_fresh_at(&self, now: SystemTime) -> bool {
        let now = now.duration_since(UNIX_EPOCH).map_or(0, saturating_micros);
        self.is_fresh_at_micros(now)
    }

    pub(crate) fn is_fresh_at_micros(&self, now: Micros) -> bool {
        match self.revalidate {
            Revalidate::Never => true,
            Revalidate::Dynamic => false,
            Revalidate::After(ttl) => now < self.stored_at.saturating_add(saturating_micros(ttl)),
        }
    }

    /// Whole seconds since the entry was stored, for the `Age` header.
    pub(crate) fn age_secs_at(&self, now: Micros) -> u64 {
        now.saturating_sub(self.stored_at) / 1_000_000
    }

    /// The page in `coding`, if the entry holds that encoding (identity: the page itself).
    pub fn encoded_body(&self, coding: ContentCoding) -> Option<&Bytes> {
        if coding == ContentCoding::Identity {
            return Some(&self.body);
        }
        Some(&self.encoding(coding)?.representation()?.body)
    }

    /// The encodings the entry holds besides identity (those made so far), in the server's
    /// order of preference.
    pub fn encodings(&self) -> impl Iterator<Item = ContentCoding> + '_ {
        self.encoded
            .iter()
            .filter(|e| e.representation().is_some())
            .map(|e| e.coding)
    }

    /// The encodings the page may be served in besides identity: made, or to be made when
    /// first asked for.
    pub(crate) fn offered(&self) -> impl Iterator<Item = ContentCoding> + '_ {
        self.encoded
            .iter()
            .filter(|e| e.is_offered())
            .map(|e| e.coding)
    }

    pub(crate) fn encoding(&self, coding: ContentCoding) -> Option<&Encoding> {
        self.encoded.iter().find(|e| e.coding == coding)
    }

    /// What a visitor who gets `coding` is sent (`None` if the entry does not hold it).
    pub(crate) fn representation(&self, coding: ContentCoding) -> Option<Served<'_>> {
        if coding == ContentCoding::Identity {
            return Some(self.identity());
        }
        let r = self.encoding(coding)?.representation()?;
        Some(Served {
            head: self.head.map(coding),
            body: &r.body,
            etag: &r.etag,
            content_length: &r.content_length,
            last_modified: self.last_modified_value.as_ref(),
            converted: &r.converted,
            is_page: self.head.is_page(),
        })
    }

    /// What a visitor who gets the identity page is sent.
    pub(crate) fn identity(&self) -> Served<'_> {
        Served {
            head: self.head.map(ContentCoding::Identity),
            body: &self.body,
            etag: &self.etag,
            content_length: &self.content_length,
            last_modified: self.last_modified_value.as_ref(),
            converted: &self.converted,
            is_page: self.head.is_page(),
        }
    }

    /// The bytes this entry holds in memory, for byte-bounded stores: every representation
    /// made counts, and the head its headers share with other entries counts for the first
    /// entry that used it.
    pub fn weight(&self) -> usize {
        let head = if self.head_shared {
            0
        } else {
            self.head.weight()
        };
        let own = self.etag.len()
            + self.content_length.len()
            + self
                .last_modified_value
                .as_ref()
                .map_or(0, HeaderValue::len);
        let tags: usize = self.tags.iter().map(|t| t.len() + 16).sum();
        let encoded: usize = self
            .encoded
            .iter()
            .map(|e| {
                ENCODING_OVERHEAD
                    + e.representation()
                        .map_or(0, |r| REPRESENTATION_OVERHEAD + r.etag.len() + r.body.len())
            })
            .sum();
        ENTRY_OVERHEAD + self.key.len() + head + own + tags + self.body.len() + encoded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry as the data cache stores one: rendered and stored at 0, never stale, no tags.
    fn fetched(key: &str, status: StatusCode, headers: HeaderMap, body: Bytes) -> Entry {
        Entry::fetched(
            Arc::from(key),
            status,
            headers,
            body,
            0,
            0,
            Revalidate::Never,
            Box::default(),
        )
    }

    /// A small page with no headers, built as [`fetched`] builds one.
    fn page() -> Entry {
        fetched(
            "/page",
            StatusCode::OK,
            HeaderMap::new(),
            Bytes::from_static(b"<p>page</p>"),
        )
    }

    #[test]
    fn the_weight_counts_every_representation() {
        let mut entry = fetched(
            "/page",
            StatusCode::OK,
            HeaderMap::new(),
            Bytes::from(vec![b'x'; 10_000]),
        );
        let identity_only = entry.weight();
        assert!(identity_only >= ENTRY_OVERHEAD + 10_000);
        let etag = HeaderValue::from_static("\"t\"");
        entry.encoded = vec![Encoding::planned(ContentCoding::Gzip, 6)].into_boxed_slice();
        let planned = entry.weight();
        assert_eq!(planned, identity_only + ENCODING_OVERHEAD);
        let made = Representation::new(&etag, ContentCoding::Gzip, Bytes::from(vec![b'g'; 700]));
        entry.encoded[0].made.set(Some(Box::new(made))).unwrap();
        assert!(entry.weight() >= planned + REPRESENTATION_OVERHEAD + 700);
    }

    #[test]
    fn the_weight_adds_the_entrys_own_values_tags_key_and_body() {
        let mut entry = page();
        entry.tags = vec![Arc::from("t1")].into_boxed_slice();
        entry.etag = HeaderValue::from_static("\"abc\"");
        entry.last_modified_value = Some(HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        let own = "\"abc\"".len() + "11".len() + "Wed, 21 Oct 2015 07:28:00 GMT".len();
        assert_eq!(
            entry.weight(),
            ENTRY_OVERHEAD + "/page".len() + entry.head.weight() + own + ("t1".len() + 16) + 11
        );
    }

    #[test]
    fn fetched_data_keeps_its_headers_as_they_came() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("x-upstream", HeaderValue::from_static("1"));
        let entry = fetched(
            "GET https://api.example/items",
            StatusCode::OK,
            headers.clone(),
            Bytes::from_static(b"[]"),
        );
        assert!(!entry.head.is_page());
        assert_eq!(entry.headers(), headers, "no tag, length or date added");
    }

    #[test]
    fn a_shared_head_is_charged_to_the_first_entry_only() {
        let with_shared_head = || {
            let mut entry = page();
            let mut headers = HeaderMap::new();
            headers.insert("x-shared", HeaderValue::from_static("weight-share-test"));
            (entry.head, entry.head_shared) = Head::of_page(headers);
            entry
        };
        let (first, second) = (with_shared_head(), with_shared_head());
        assert!(!first.head_shared && second.head_shared);
        assert!(first.head.weight() > 0);
        assert_eq!(first.weight() - second.weight(), first.head.weight());
    }

    #[test]
    fn an_entry_answers_with_the_status_it_was_stored_with() {
        let entry = fetched(
            "/missing",
            StatusCode::NOT_FOUND,
            HeaderMap::new(),
            Bytes::from_static(b"not here"),
        );
        assert_eq!(entry.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn the_public_accessors_read_times_freshness_and_bodies() {
        let mut entry = page();
        entry.rendered_at = 1_000_000;
        entry.stored_at = 3_000_000;
        entry.revalidate = Revalidate::After(Duration::from_secs(10));
        let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(entry.rendered_at(), at(1));
        assert_eq!(entry.stored_at(), at(3));
        assert!(entry.is_fresh_at(at(12)), "stored at 3 s, fresh for 10 s");
        assert!(!entry.is_fresh_at(at(13)));
        assert_eq!(
            entry.encoded_body(ContentCoding::Identity).map(|b| &b[..]),
            Some(&b"<p>page</p>"[..])
        );
        assert_eq!(
            entry.encoded_body(ContentCoding::Gzip),
            None,
            "none planned"
        );
        entry.encoded = vec![Encoding::planned(ContentCoding::Gzip, 6)].into_boxed_slice();
        assert_eq!(
            entry.encoded_body(ContentCoding::Gzip),
            None,
            "planned, not made"
        );
        let made = Representation::new(
            &HeaderValue::from_static("\"t\""),
            ContentCoding::Gzip,
            Bytes::from_static(b"gz"),
        );
        entry.encoded[0].made.set(Some(Box::new(made))).unwrap();
        assert_eq!(
            entry.encoded_body(ContentCoding::Gzip).map(|b| &b[..]),
            Some(&b"gz"[..])
        );
    }

    #[test]
    fn last_modified_is_read_in_whole_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(last_modified_secs(&headers), None);
        headers.insert(
            LAST_MODIFIED,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(last_modified_secs(&headers), Some(1_445_412_480));
        headers.insert(LAST_MODIFIED, HeaderValue::from_static("yesterday"));
        assert_eq!(last_modified_secs(&headers), None);
    }

    #[test]
    fn representation_tags_stay_strong_or_weak() {
        let tag = |v: &'static str, c| representation_etag(&HeaderValue::from_static(v), c);
        assert_eq!(tag("\"abc\"", ContentCoding::Brotli), "\"abc-br\"");
        assert_eq!(tag("W/\"abc\"", ContentCoding::Gzip), "W/\"abc-gz\"");
        assert_eq!(tag("\"abc\"", ContentCoding::Zstd), "\"abc-zst\"");
    }
}
