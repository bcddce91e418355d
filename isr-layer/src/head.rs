//! Response heads shared between entries.
//!
//! Most pages of a site are answered with the same headers but for a few values of their own
//! (`Content-Length`, `ETag`, `Last-Modified`). An entry keeps those values and points to a
//! [`Head`] holding the rest, interned: the entries whose other headers are equal share one
//! head. A header map costs about a kilobyte (its tables, one allocation per value); at a
//! million entries that is a gigabyte a per-entry map would spend on the same few headers.
//!
//! A hit clones the head's map for its representation and sets the entry's values in the
//! places the head keeps for them, so answering takes no more allocations than cloning one
//! map per entry did.

use std::hash::Hash;
use std::sync::{Arc, OnceLock};

use http::header::{AGE, CONTENT_ENCODING, CONTENT_LENGTH, ETAG, LAST_MODIFIED};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::compression::ContentCoding;
use crate::intern::Interner;
use crate::status::CacheStatus;

/// The headers every answer of the entries sharing it carries (see the module docs).
#[derive(Debug)]
pub(crate) struct Head {
    /// The identity answer's headers. For a page, with places kept for the entry's own values
    /// and the answer's `Age` and `x-isr-cache` (a copy then takes their values in place
    /// instead of growing).
    identity: HeaderMap,
    /// The same with `Content-Encoding`, per coding (by [`ContentCoding::index`]), made when
    /// first served.
    encoded: [OnceLock<HeaderMap>; 4],
    /// Whether `identity` holds the places of a page's own values.
    page: bool,
}

/// The headers set on every answer of a page: the entry's own values (`Content-Length`,
/// `ETag`, `Last-Modified`) and the answer's (`Age`, `x-isr-cache`). A page's head keeps a place
/// for each, as its last headers, in this order.
static PLACES: [HeaderName; 5] = [
    CONTENT_LENGTH,
    ETAG,
    LAST_MODIFIED,
    AGE,
    CacheStatus::HEADER,
];

/// A value to hold an entry's or an answer's place until the answer sets it.
const PLACE: HeaderValue = HeaderValue::from_static("0");

impl Head {
    /// The headers of a fetched response (the data cache), kept as they are: no values of
    /// the entry's own, nothing shared.
    pub(crate) fn plain(headers: HeaderMap) -> Arc<Self> {
        Arc::new(Self {
            identity: headers,
            encoded: Default::default(),
            page: false,
        })
    }

    /// The shared head of a page answered with `headers`, which lose their own values
    /// (`Content-Length`, `ETag`, `Last-Modified`) and the per-answer `Age` and `x-isr-cache`.
    /// `true` with it when another live entry had the same head already.
    pub(crate) fn of_page(mut headers: HeaderMap) -> (Arc<Self>, bool) {
        for name in &PLACES {
            headers.remove(name);
        }
        intern(with_places(headers))
    }

    /// The headers of `coding`'s answers, with the places of [`of_page`](Self::of_page).
    pub(crate) fn map(&self, coding: ContentCoding) -> &HeaderMap {
        if coding == ContentCoding::Identity {
            return &self.identity;
        }
        self.encoded[coding.index()].get_or_init(|| {
            let mut headers = self.identity.clone();
            if self.page {
                // The last header first: each is then the map's last, removed without moving
                // another into its place.
                for name in PLACES.iter().rev() {
                    headers.remove(name);
                }
            }
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding.as_str()));
            if self.page {
                with_places(headers)
            } else {
                headers
            }
        })
    }

    /// Whether this is a page's head (see [`of_page`](Self::of_page)).
    pub(crate) fn is_page(&self) -> bool {
        self.page
    }

    /// The bytes the head's headers take, counted as [`Entry::weight`](crate::entry::Entry)
    /// counts headers.
    pub(crate) fn weight(&self) -> usize {
        headers_weight(&self.identity)
    }
}

/// `headers` with the [`PLACES`] added last, and room for one more header: `HeaderMap::insert`
/// grows a full map (new tables, every header hashed again) before it looks for the name, even
/// when the name is there already, and a copy keeps the tables' size.
fn with_places(mut headers: HeaderMap) -> HeaderMap {
    for name in &PLACES {
        headers.insert(name.clone(), PLACE);
    }
    if headers.len() >= headers.capacity() {
        headers.reserve(1);
    }
    headers
}

/// What headers weigh in a store: names, values and a fixed cost each.
fn headers_weight(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 32)
        .sum()
}

/// What an answer of a page sets in the places its head keeps (see [`PLACES`]).
#[derive(Debug)]
pub(crate) struct Placed<'a> {
    pub(crate) content_length: &'a HeaderValue,
    pub(crate) etag: &'a HeaderValue,
    pub(crate) last_modified: Option<&'a HeaderValue>,
    pub(crate) age: HeaderValue,
    pub(crate) cache_status: HeaderValue,
}

/// Sets `values` in a copy of a page's head map.
///
/// The places are the map's last five values, where the head put them: they are written there
/// through one pass of the map's iterator, with no hashing (five `insert`s cost about a
/// thousand instructions, a tenth of a hit). Each place's name is checked on the way, and
/// should a map hold them elsewhere, they are set by name instead.
pub(crate) fn fill(headers: &mut HeaderMap, values: Placed<'_>) {
    let Placed {
        content_length,
        etag,
        last_modified,
        age,
        cache_status,
    } = values;
    let values = [
        content_length.clone(),
        etag.clone(),
        last_modified.cloned().unwrap_or(PLACE),
        age,
        cache_status,
    ];
    match places(headers) {
        Some(slots) => {
            for (slot, value) in slots.into_iter().zip(values) {
                *slot = value;
            }
        }
        None => {
            for (name, value) in PLACES.iter().zip(values) {
                headers.insert(name.clone(), value);
            }
        }
    }
    if last_modified.is_none() {
        headers.remove(LAST_MODIFIED);
    }
}

/// The values in the [`PLACES`] of `headers`, if they are its last five.
fn places(headers: &mut HeaderMap) -> Option<[&mut HeaderValue; 5]> {
    let skip = headers.len().checked_sub(PLACES.len())?;
    let mut slots = headers.iter_mut().skip(skip);
    let mut next = |place: &HeaderName| {
        let (name, slot) = slots.next()?;
        (name == place).then_some(slot)
    };
    Some([
        next(&PLACES[0])?,
        next(&PLACES[1])?,
        next(&PLACES[2])?,
        next(&PLACES[3])?,
        next(&PLACES[4])?,
    ])
}

/// `secs` since the Unix epoch as an HTTP date. Pages rendered in the same second (and on
/// the same thread) share the value's bytes.
pub(crate) fn http_date(secs: u64) -> HeaderValue {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(u64, HeaderValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((at, value)) if *at == secs => value.clone(),
        _ => {
            let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            let value = HeaderValue::try_from(httpdate::fmt_http_date(time))
                .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"));
            *last = Some((secs, value.clone()));
            value
        }
    })
}

/// The heads in use (see [`Interner`]).
fn intern(identity: HeaderMap) -> (Arc<Head>, bool) {
    static HEADS: Interner<Head> = Interner::new();
    HEADS.intern(
        identity,
        |identity, hasher| {
            for (name, value) in identity {
                name.hash(hasher);
                value.hash(hasher);
            }
        },
        |head, identity| head.identity == *identity,
        |identity| {
            Arc::new(Head {
                identity,
                encoded: Default::default(),
                page: true,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_headers(etag: &'static str, extra: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/html"));
        headers.insert(ETAG, HeaderValue::from_static(etag));
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("12"));
        if let Some(extra) = extra {
            headers.insert("x-extra", HeaderValue::from_static(extra));
        }
        headers
    }

    #[test]
    fn pages_with_the_same_headers_share_one_head() {
        let (a, a_shared) = Head::of_page(page_headers("\"a\"", Some("interned-test-1")));
        let (b, b_shared) = Head::of_page(page_headers("\"b\"", Some("interned-test-1")));
        assert!(!a_shared && b_shared);
        assert!(Arc::ptr_eq(&a, &b), "their own values do not split them");
        let (c, c_shared) = Head::of_page(page_headers("\"c\"", Some("interned-test-2")));
        assert!(!c_shared && !Arc::ptr_eq(&a, &c));
        // A head nobody holds is not found again.
        drop((a, b));
        let (_, shared) = Head::of_page(page_headers("\"d\"", Some("interned-test-1")));
        assert!(!shared);
    }

    fn placed(last_modified: Option<&HeaderValue>) -> Placed<'_> {
        static LENGTH: HeaderValue = HeaderValue::from_static("3");
        static TAG: HeaderValue = HeaderValue::from_static("\"x\"");
        Placed {
            content_length: &LENGTH,
            etag: &TAG,
            last_modified,
            age: HeaderValue::from_static("7"),
            cache_status: CacheStatus::Hit.header_value(),
        }
    }

    #[test]
    fn a_copy_takes_the_answers_values_in_the_places_kept() {
        let (head, _) = Head::of_page(page_headers("\"a\"", Some("places-test")));
        let date = HeaderValue::from_static("Tue, 01 Dec 2026 00:00:00 GMT");
        for coding in [ContentCoding::Identity, ContentCoding::Gzip] {
            let map = head.map(coding);
            let mut copy = map.clone();
            assert!(
                places(&mut copy).is_some(),
                "the places are the last headers"
            );
            let capacity = copy.capacity();
            fill(&mut copy, placed(Some(&date)));
            assert_eq!(copy.len(), map.len(), "no header added");
            assert_eq!(copy.capacity(), capacity, "the copy did not grow");
            assert_eq!(copy[CONTENT_LENGTH], "3");
            assert_eq!(copy[ETAG], "\"x\"");
            assert_eq!(copy[LAST_MODIFIED], date);
            assert_eq!(copy[AGE], "7");
            assert_eq!(copy[CacheStatus::HEADER], "HIT");
            assert_eq!(copy["content-type"], "text/html");
            assert_eq!(copy["x-extra"], "places-test");
            assert_eq!(
                copy.get(CONTENT_ENCODING).map(|v| v.to_str().unwrap()),
                (coding != ContentCoding::Identity).then_some("gzip")
            );
            // Without Last-Modified, none is sent.
            let mut copy = map.clone();
            fill(&mut copy, placed(None));
            assert!(!copy.contains_key(LAST_MODIFIED));
            assert_eq!(copy[AGE], "7");
        }
    }

    #[test]
    fn places_found_elsewhere_are_set_by_name() {
        let (head, _) = Head::of_page(page_headers("\"a\"", None));
        let mut moved = head.map(ContentCoding::Identity).clone();
        // A header added after the places: they are no longer the last.
        moved.insert("x-late", HeaderValue::from_static("1"));
        assert!(places(&mut moved).is_none());
        fill(&mut moved, placed(None));
        assert_eq!(moved[ETAG], "\"x\"");
        assert_eq!(moved[CONTENT_LENGTH], "3");
        assert_eq!(moved[AGE], "7");
        assert_eq!(moved["x-late"], "1");
        assert_eq!(moved.get_all(ETAG).iter().count(), 1);
    }

    #[test]
    fn a_head_weighs_its_names_values_and_a_fixed_cost_each() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/html"));
        headers.insert("x-a", HeaderValue::from_static("12345"));
        assert_eq!(headers_weight(&headers), (12 + 9 + 32) + (3 + 5 + 32));
        let head = Head::plain(headers);
        assert_eq!(head.weight(), 93);
        // A page's head counts its places too (five names, one-byte values).
        let (page, _) = Head::of_page(page_headers("\"w\"", Some("weight-test")));
        let places: usize = PLACES.iter().map(|name| name.as_str().len() + 1 + 32).sum();
        assert_eq!(page.weight(), (12 + 9 + 32) + (7 + 11 + 32) + places);
    }

    #[test]
    fn dates_are_shared_within_a_second_and_right_across_seconds() {
        let second = 1_764_720_000; // Wed, 03 Dec 2025 00:00:00 GMT
        let a = http_date(second);
        assert_eq!(a, "Wed, 03 Dec 2025 00:00:00 GMT");
        let b = http_date(second);
        assert_eq!(
            a.as_bytes().as_ptr(),
            b.as_bytes().as_ptr(),
            "one allocation"
        );
        assert_eq!(http_date(second + 61), "Wed, 03 Dec 2025 00:01:01 GMT");
        assert_eq!(http_date(second), a);
    }
}
