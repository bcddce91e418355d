//! Responses built from entries: `HIT`, `STALE`, `MISS`, `HEAD`, `304 Not Modified` and
//! `406 Not Acceptable`, in the representation the visitor's `Accept-Encoding` chooses.

use http::header::{
    ACCEPT_ENCODING, AGE, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_LOCATION, DATE, ETAG, EXPIRES,
    IF_MODIFIED_SINCE, IF_NONE_MATCH, VARY,
};
use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body::Body;

use super::encode;
use super::negotiate::negotiate;
use crate::body::IsrBody;
use crate::clock::Micros;
use crate::compression::ContentCoding;
use crate::decimal::integer_value;
use crate::entry::{Encoding, Entry, Representation, Served};
use crate::status::CacheStatus;
use crate::store::Store;

/// The request headers that shape an answer from the cache, borrowed from the request.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Conditions<'a> {
    pub(crate) accept_encoding: Option<&'a HeaderValue>,
    pub(crate) if_none_match: Option<&'a HeaderValue>,
    pub(crate) if_modified_since: Option<&'a HeaderValue>,
}

impl<'a> Conditions<'a> {
    pub(crate) fn of(headers: &'a HeaderMap) -> Self {
        Self {
            accept_encoding: headers.get(ACCEPT_ENCODING),
            if_none_match: headers.get(IF_NONE_MATCH),
            if_modified_since: headers.get(IF_MODIFIED_SINCE),
        }
    }
}

/// [`Conditions`] kept for a visitor who waits for a render.
#[derive(Clone, Debug, Default)]
pub(crate) struct OwnedConditions {
    accept_encoding: Option<HeaderValue>,
    if_none_match: Option<HeaderValue>,
    if_modified_since: Option<HeaderValue>,
}

impl OwnedConditions {
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        let c = Conditions::of(headers);
        Self {
            accept_encoding: c.accept_encoding.cloned(),
            if_none_match: c.if_none_match.cloned(),
            if_modified_since: c.if_modified_since.cloned(),
        }
    }

    pub(crate) fn borrow(&self) -> Conditions<'_> {
        Conditions {
            accept_encoding: self.accept_encoding.as_ref(),
            if_none_match: self.if_none_match.as_ref(),
            if_modified_since: self.if_modified_since.as_ref(),
        }
    }
}

/// An answer from the cache for one visitor: a page (`HIT` or `STALE`, the whole page or its
/// head), or a `304 Not Modified` or `406 Not Acceptable`.
///
/// [`into_response`](Self::into_response) makes it an `http` response, which is all a tower
/// service needs. An adapter for a framework with header types of its own can build its answer
/// from the [`Page`] instead, and convert a page's stored headers once per entry
/// ([`Page::converted_headers`]) rather than on every hit.
#[derive(Debug)]
#[must_use = "an answer is for the visitor"]
pub enum Answer<B: Body> {
    /// The page in the representation the visitor accepts.
    Page(Page),
    /// `304 Not Modified` or `406 Not Acceptable`: headers only.
    NoPage(Response<IsrBody<B>>),
}

impl<B: Body> Answer<B> {
    /// The answer as an `http` response.
    pub fn into_response(self) -> Response<IsrBody<B>> {
        match self {
            Self::Page(page) => page.into_response(),
            Self::NoPage(response) => response,
        }
    }
}

/// A cached page as one visitor is sent it: the representation `Accept-Encoding` chose, its
/// stored headers, and the two headers that vary per answer (`Age` and `x-isr-cache`).
///
/// Holds the entry (an `Arc`): reading a page copies nothing.
#[derive(Debug)]
pub struct Page {
    entry: Arc<Entry>,
    coding: ContentCoding,
    cache_status: CacheStatus,
    age_secs: u64,
    head: bool,
}

impl Page {
    fn served(&self) -> Served<'_> {
        self.entry
            .representation(self.coding)
            .unwrap_or_else(|| self.entry.identity())
    }

    /// The status the page was rendered with.
    pub fn status(&self) -> StatusCode {
        self.entry.status
    }

    /// The representation's stored headers (`Content-Type`, `Content-Encoding`,
    /// `Content-Length`, `ETag`, `Vary`, …). The answer also carries `Age` and `x-isr-cache`
    /// ([`age_secs`](Self::age_secs), [`cache_status`](Self::cache_status)), which replace
    /// any value of theirs found here.
    pub fn headers(&self) -> HeaderMap {
        self.served().headers()
    }

    /// [`headers`](Self::headers) converted by `convert` into an adapter's own type: made on
    /// the first call for this representation of this entry, then kept with the entry (and
    /// dropped with it), so that a hit clones them rather than converting every header again.
    ///
    /// `None` when the entry already keeps a conversion of another type (two adapters of
    /// different frameworks sharing one layer): convert [`headers`](Self::headers) then.
    /// A conversion is not charged to the store's byte bound.
    pub fn converted_headers<T: Any + Send + Sync>(
        &self,
        convert: impl FnOnce(&HeaderMap) -> T,
    ) -> Option<&T> {
        let served = self.served();
        served
            .converted
            .get_or_convert(|| convert(&served.headers()))
    }

    /// The page's bytes in the chosen representation; the answer to a `HEAD` request sends
    /// none of them (see [`is_head`](Self::is_head)), only their length in `Content-Length`.
    pub fn body(&self) -> &Bytes {
        self.served().body
    }

    /// The visitor sent `HEAD`: the answer has the headers and an empty body.
    pub fn is_head(&self) -> bool {
        self.head
    }

    /// The `Age` of the answer, in seconds.
    pub fn age_secs(&self) -> u64 {
        self.age_secs
    }

    /// The `Age` of the answer as text, without allocating for ages under 10,000 seconds.
    pub fn age_text(&self) -> std::borrow::Cow<'static, str> {
        crate::decimal::integer_text(self.age_secs)
    }

    /// `x-isr-cache` of the answer: [`CacheStatus::Hit`] or [`CacheStatus::Stale`].
    pub fn cache_status(&self) -> CacheStatus {
        self.cache_status
    }

    /// The page as an `http` response.
    pub fn into_response<B: Body>(self) -> Response<IsrBody<B>> {
        let served = self.served();
        let body = if self.head {
            IsrBody::empty()
        } else {
            IsrBody::full(served.body.clone())
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.entry.status;
        *response.headers_mut() =
            served.answer_headers(integer_value(self.age_secs), self.cache_status);
        response
    }
}

/// The answer for a visitor served from `entry`.
///
/// The representation is the one `Accept-Encoding` prefers among those the entry offers
/// (`406 Not Acceptable` if the visitor refuses them all, identity included); an encoding not
/// made yet is made now (see [`choose`]). A `HEAD` visitor gets the headers with an empty
/// body. A visitor whose `If-None-Match` matches the representation's tag, or (without
/// `If-None-Match`, RFC 9110 §13.2.2) whose `If-Modified-Since` is not before the page's
/// `Last-Modified`, gets `304 Not Modified` with the headers RFC 9110 §15.4.5 lists.
pub(crate) fn serve_entry<B: Body>(
    store: &Arc<dyn Store>,
    entry: &Arc<Entry>,
    status: CacheStatus,
    now: Micros,
    head: bool,
    conditions: Conditions<'_>,
) -> Answer<B> {
    let Some((coding, served)) = choose(store, entry, conditions.accept_encoding) else {
        return Answer::NoPage(not_acceptable(entry, status, now));
    };
    // RFC 9110 §13.2.1: conditions apply only to what would be a 2xx answer.
    let not_modified = entry.status.is_success()
        && match conditions.if_none_match {
            Some(inm) => etag_matches(inm, served.etag),
            None => conditions
                .if_modified_since
                .is_some_and(|ims| not_modified_since(ims, entry.last_modified, now)),
        };
    if not_modified {
        let mut response = Response::new(IsrBody::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        let headers = response.headers_mut();
        for name in [CACHE_CONTROL, CONTENT_LOCATION, DATE, EXPIRES, VARY] {
            for value in served.head.get_all(&name) {
                headers.append(name.clone(), value.clone());
            }
        }
        headers.insert(ETAG, served.etag.clone());
        headers.insert(AGE, integer_value(entry.age_secs_at(now)));
        headers.insert(CacheStatus::HEADER, status.header_value());
        return Answer::NoPage(response);
    }
    Answer::Page(Page {
        entry: Arc::clone(entry),
        coding,
        cache_status: status,
        age_secs: entry.age_secs_at(now),
        head,
    })
}

/// The representation `Accept-Encoding` prefers among those `entry` offers, ties going to the
/// server's preference; `None` when the visitor accepts none of them, identity included.
///
/// Encodings are made when first asked for, once per entry: concurrent requests for the same
/// encoding wait for the one that makes it. A page larger than [`encode::INLINE_MAX`] is
/// encoded on the blocking pool instead, and served in the next best representation it holds
/// until then — identity at worst, unless the visitor refused identity: then this request waits
/// for the encoding. An encoding no smaller than the page is not offered again.
///
/// Making an encoding changes what the entry weighs: the store is told, so that its byte
/// bound counts it.
fn choose<'e>(
    store: &Arc<dyn Store>,
    entry: &'e Arc<Entry>,
    accept_encoding: Option<&HeaderValue>,
) -> Option<(ContentCoding, Served<'e>)> {
    let mut passed = [false; 4];
    let mut deferred = None;
    loop {
        let offered = entry.offered().filter(|coding| !passed[coding.index()]);
        let Some(coding) = negotiate(accept_encoding, offered) else {
            // Everything acceptable is being made in the background, identity refused: wait.
            let coding = deferred?;
            made(store, entry, entry.encoding(coding)?, false);
            return Some((coding, entry.representation(coding)?));
        };
        let Some(encoding) = entry.encoding(coding) else {
            return Some((coding, entry.representation(coding)?));
        };
        if made(store, entry, encoding, true)
            && let Some(served) = entry.representation(coding)
        {
            return Some((coding, served));
        }
        passed[coding.index()] = true;
        if encoding.made.get().is_none() {
            deferred.get_or_insert(coding);
        }
    }
}

/// Whether `encoding` of `entry` is made and smaller than the page, making it now if it is
/// not made yet (unless `defer`red to the blocking pool because the page is large).
fn made(store: &Arc<dyn Store>, entry: &Arc<Entry>, encoding: &Encoding, defer: bool) -> bool {
    if let Some(made) = encoding.made.get() {
        return made.is_some();
    }
    if defer
        && entry.body.len() > encode::INLINE_MAX
        && tokio::runtime::Handle::try_current().is_ok()
    {
        if !encoding.started.swap(true, Ordering::AcqRel) {
            let (store, entry, coding) = (Arc::clone(store), Arc::clone(entry), encoding.coding);
            tokio::task::spawn_blocking(move || {
                if let Some(encoding) = entry.encoding(coding) {
                    make(&store, &entry, encoding);
                }
            });
        }
        return false;
    }
    make(store, entry, encoding)
}

/// Makes `encoding` of `entry` unless it is made already (waiting while another thread makes
/// it), and has the store weigh the entry again when this call made it.
fn make(store: &Arc<dyn Store>, entry: &Arc<Entry>, encoding: &Encoding) -> bool {
    let mut made_here = false;
    let made = encoding.made.get_or_init(|| {
        made_here = true;
        let body = encode::compress(encoding.coding, u32::from(encoding.level), &entry.body)?;
        let representation = Representation::new(&entry.etag, encoding.coding, body);
        Some(Box::new(representation))
    });
    if made_here {
        tracing::debug!(
            target: "isr",
            key = &*entry.key,
            coding = encoding.coding.as_str(),
            bytes = made.as_ref().map_or(0, |r| r.body.len()),
            "encoding made"
        );
        store.reweigh(entry);
    }
    made.is_some()
}

/// `406 Not Acceptable`: the visitor refused identity and every encoding the entry holds.
fn not_acceptable<B: Body>(
    entry: &Entry,
    status: CacheStatus,
    now: Micros,
) -> Response<IsrBody<B>> {
    let mut response = Response::new(IsrBody::empty());
    *response.status_mut() = StatusCode::NOT_ACCEPTABLE;
    let headers = response.headers_mut();
    headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    headers.insert(AGE, integer_value(entry.age_secs_at(now)));
    headers.insert(CacheStatus::HEADER, status.header_value());
    response
}

/// `If-Modified-Since` (RFC 9110 §13.1.3): true when the page has not changed since the date.
/// An invalid date, or one in the future, is ignored.
fn not_modified_since(ims: &HeaderValue, last_modified: Option<u64>, now: Micros) -> bool {
    let (Some(last_modified), Ok(ims)) = (last_modified, ims.to_str()) else {
        return false;
    };
    let Ok(since) = httpdate::parse_http_date(ims) else {
        return false;
    };
    let Ok(since) = since.duration_since(std::time::UNIX_EPOCH) else {
        return false;
    };
    since.as_secs() <= now / 1_000_000 && last_modified <= since.as_secs()
}

/// `If-None-Match` (RFC 9110 §13.1.2): `*`, or a list of entity tags compared weakly (`W/`
/// ignored) with `etag`. Tags are read as quoted strings, so a comma inside one is no separator.
pub(crate) fn etag_matches(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let list = if_none_match.as_bytes();
    let etag = opaque(etag.as_bytes());
    if list
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .eq(b"*".iter())
    {
        return true;
    }
    let mut rest = list;
    loop {
        while let [b' ' | b'\t' | b',', tail @ ..] = rest {
            rest = tail;
        }
        if rest.is_empty() {
            return false;
        }
        let tag_start = rest;
        if let [b'W', b'/', tail @ ..] = rest {
            rest = tail;
        }
        let [b'"', tail @ ..] = rest else {
            // Not an entity tag: the field is invalid, and an invalid condition never matches.
            return false;
        };
        let Some(close) = tail.iter().position(|&b| b == b'"') else {
            return false;
        };
        let tag = &tag_start[..tag_start.len() - tail.len() + close + 1];
        if opaque(tag) == etag {
            return true;
        }
        rest = &tail[close + 1..];
    }
}

fn opaque(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Revalidate;
    use http_body_util::Empty;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn page_entry() -> Arc<Entry> {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/html"));
        headers.insert(ETAG, HeaderValue::from_static("\"p\""));
        let mut entry = Entry::fetched(
            Arc::from("/p"),
            StatusCode::OK,
            headers,
            Bytes::from_static(b"<p>page</p>"),
            1_000_000,
            1_000_000,
            Revalidate::Never,
            Box::default(),
        );
        entry.etag = HeaderValue::from_static("\"p\"");
        Arc::new(entry)
    }

    fn answer(entry: &Arc<Entry>, head: bool, headers: &HeaderMap) -> Answer<Empty<Bytes>> {
        let store: Arc<dyn Store> = Arc::new(crate::store::MemoryStore::default());
        serve_entry(
            &store,
            entry,
            CacheStatus::Stale,
            43_000_000,
            head,
            Conditions::of(headers),
        )
    }

    fn page_of(answer: Answer<Empty<Bytes>>) -> Page {
        match answer {
            Answer::Page(page) => page,
            Answer::NoPage(response) => panic!("no page: {}", response.status()),
        }
    }

    #[test]
    fn a_page_answer_carries_the_page_its_age_and_status() {
        let entry = page_entry();
        let response = answer(&entry, false, &HeaderMap::new()).into_response();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/html");
        assert_eq!(response.headers()[AGE], "42");
        assert_eq!(response.headers()[CacheStatus::HEADER], "STALE");
        assert!(!page_of(answer(&entry, false, &HeaderMap::new())).is_head());
        let page = page_of(answer(&entry, true, &HeaderMap::new()));
        assert!(page.is_head());
        assert_eq!(page.body().as_ref(), b"<p>page</p>");
        assert_eq!((page.age_secs(), page.age_text()), (42, "42".into()));
        assert_eq!(page.cache_status(), CacheStatus::Stale);
    }

    #[test]
    fn headers_are_converted_once_per_entry_and_one_type_owns_the_slot() {
        let entry = page_entry();
        let conversions = AtomicUsize::new(0);
        let convert = |headers: &HeaderMap| {
            conversions.fetch_add(1, Ordering::Relaxed);
            headers.len()
        };
        for _ in 0..3 {
            let page = page_of(answer(&entry, false, &HeaderMap::new()));
            assert_eq!(page.converted_headers(convert), Some(&page.headers().len()));
        }
        assert_eq!(conversions.load(Ordering::Relaxed), 1);
        // Another adapter's type finds the slot taken and converts for itself.
        let page = page_of(answer(&entry, false, &HeaderMap::new()));
        assert_eq!(page.converted_headers(|_| "other"), None);
        // A fresh entry (a new render) converts again.
        let page = page_of(answer(&page_entry(), false, &HeaderMap::new()));
        assert!(page.converted_headers(convert).is_some());
        assert_eq!(conversions.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_not_modified_answer_is_no_page() {
        let entry = page_entry();
        let mut conditions = HeaderMap::new();
        conditions.insert(IF_NONE_MATCH, HeaderValue::from_static("\"p\""));
        let Answer::NoPage(response) = answer(&entry, false, &conditions) else {
            panic!("a 304 has no page");
        };
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(response.headers()[ETAG], "\"p\"");
        assert_eq!(response.headers()[AGE], "42");
    }

    #[test]
    fn etags_compare_weakly() {
        let etag = HeaderValue::from_static("\"abc\"");
        assert!(etag_matches(&HeaderValue::from_static("\"abc\""), &etag));
        assert!(etag_matches(&HeaderValue::from_static("W/\"abc\""), &etag));
        assert!(etag_matches(
            &HeaderValue::from_static("\"x\", \"abc\""),
            &etag
        ));
        assert!(etag_matches(&HeaderValue::from_static("*"), &etag));
        assert!(etag_matches(&HeaderValue::from_static(" * "), &etag));
        assert!(!etag_matches(&HeaderValue::from_static("\"abd\""), &etag));
        // Lists, weak tags on either side, odd spacing.
        assert!(etag_matches(
            &HeaderValue::from_static("W/\"x\",W/\"abc\" ,\t\"y\""),
            &etag
        ));
        assert!(etag_matches(
            &HeaderValue::from_static("\"abc\""),
            &HeaderValue::from_static("W/\"abc\"")
        ));
        // A comma inside a tag is part of it, not a separator.
        let with_comma = HeaderValue::from_static("\"a,b\"");
        assert!(etag_matches(
            &HeaderValue::from_static("\"x\", \"a,b\""),
            &with_comma
        ));
        assert!(!etag_matches(
            &HeaderValue::from_static("\"a\", \"b\""),
            &with_comma
        ));
        // Nothing between two tags of the list is read as a tag.
        let between = HeaderValue::from_static("\", \"");
        assert!(!etag_matches(
            &HeaderValue::from_static("\"a\", \"b\""),
            &between
        ));
        // Not entity tags: never a match.
        assert!(!etag_matches(&HeaderValue::from_static("abc"), &etag));
        assert!(!etag_matches(&HeaderValue::from_static("\"abc"), &etag));
        assert!(!etag_matches(&HeaderValue::from_static(""), &etag));
        assert!(!etag_matches(&HeaderValue::from_static("*, \"x\""), &etag));
    }

    #[test]
    fn if_modified_since_compares_whole_seconds() {
        let last_modified = 1_700_000_000;
        let now = (last_modified + 100) * 1_000_000;
        let date = |secs: u64| {
            HeaderValue::from_str(&httpdate::fmt_http_date(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
            ))
            .unwrap()
        };
        assert!(not_modified_since(
            &date(last_modified),
            Some(last_modified),
            now
        ));
        assert!(not_modified_since(
            &date(last_modified + 50),
            Some(last_modified),
            now
        ));
        assert!(!not_modified_since(
            &date(last_modified - 1),
            Some(last_modified),
            now
        ));
        // In the future: invalid, ignored.
        assert!(!not_modified_since(
            &date(last_modified + 500),
            Some(last_modified),
            now
        ));
        assert!(!not_modified_since(
            &HeaderValue::from_static("yesterday"),
            Some(last_modified),
            now
        ));
        assert!(!not_modified_since(&date(last_modified), None, now));
    }
}
