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

/// The headers whose values are the entry's own: set from the entry on every answer.
const OWN: [HeaderName; 3] = [CONTENT_LENGTH, ETAG, LAST_MODIFIED];

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
        for name in OWN.iter().chain([&AGE, &CacheStatus::HEADER]) {
            headers.remove(name);
        }
        for name in OWN.iter().chain([&AGE, &CacheStatus::HEADER]) {
            headers.insert(name.clone(), PLACE);
        }
        intern(with_room(headers))
    }

    /// The headers of `coding`'s answers, with the places of [`of_page`](Self::of_page).
    pub(crate) fn map(&self, coding: ContentCoding) -> &HeaderMap {
        if coding == ContentCoding::Identity {
            return &self.identity;
        }
        self.encoded[coding.index()].get_or_init(|| {
            let mut headers = self.identity.clone();
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding.as_str()));
            with_room(headers)
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

/// `headers` with room for one more: `HeaderMap::insert` grows a full map (new tables, every
/// header hashed again) before it looks for the name, even when the name is there already.
/// A copy keeps the tables' size, so with room in the head, the values a hit sets go in place.
fn with_room(mut headers: HeaderMap) -> HeaderMap {
    if headers.len() >= headers.capacity() {
        headers.reserve(1);
    }
    headers
}

/// What headers weigh in a store: names, values and a fixed cost each.
pub(crate) fn headers_weight(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 32)
        .sum()
}

/// The entry's own values in a copy of its head's map (the places [`Head::of_page`] keeps).
pub(crate) fn set_own(
    headers: &mut HeaderMap,
    content_length: &HeaderValue,
    etag: &HeaderValue,
    last_modified: Option<&HeaderValue>,
) {
    headers.insert(CONTENT_LENGTH, content_length.clone());
    headers.insert(ETAG, etag.clone());
    match last_modified {
        Some(value) => headers.insert(LAST_MODIFIED, value.clone()),
        None => headers.remove(LAST_MODIFIED),
    };
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

    #[test]
    fn a_copy_takes_the_entrys_values_in_the_places_kept() {
        let (head, _) = Head::of_page(page_headers("\"a\"", None));
        for coding in [ContentCoding::Identity, ContentCoding::Gzip] {
            let map = head.map(coding);
            let mut copy = map.clone();
            let capacity = copy.capacity();
            set_own(
                &mut copy,
                &HeaderValue::from_static("3"),
                &HeaderValue::from_static("\"x\""),
                Some(&HeaderValue::from_static("Tue, 01 Dec 2026 00:00:00 GMT")),
            );
            copy.insert(AGE, HeaderValue::from_static("7"));
            copy.insert(CacheStatus::HEADER, CacheStatus::Hit.header_value());
            assert_eq!(copy.len(), map.len(), "no header added");
            assert_eq!(copy.capacity(), capacity, "the copy did not grow");
            assert_eq!(copy[CONTENT_LENGTH], "3");
            assert_eq!(copy[ETAG], "\"x\"");
            assert_eq!(copy["content-type"], "text/html");
            assert_eq!(
                copy.get(CONTENT_ENCODING).map(|v| v.to_str().unwrap()),
                (coding != ContentCoding::Identity).then_some("gzip")
            );
        }
    }
}
