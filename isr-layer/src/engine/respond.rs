//! Responses built from entries: `HIT`, `STALE`, `MISS`, `HEAD`, `304 Not Modified` and
//! `406 Not Acceptable`, in the representation the visitor's `Accept-Encoding` chooses.

use http::header::{
    ACCEPT_ENCODING, AGE, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_LOCATION, DATE, ETAG, EXPIRES,
    IF_MODIFIED_SINCE, IF_NONE_MATCH, VARY,
};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body::Body;

use super::negotiate::negotiate;
use crate::body::IsrBody;
use crate::clock::Micros;
use crate::decimal::integer_value;
use crate::entry::Entry;
use crate::status::CacheStatus;

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

/// The response for a visitor served from `entry`.
///
/// The representation is the one `Accept-Encoding` prefers among those the entry holds
/// (`406 Not Acceptable` if the visitor refuses them all, identity included). A `HEAD` visitor
/// gets the headers with an empty body. A visitor whose `If-None-Match` matches the
/// representation's tag, or (without `If-None-Match`, RFC 9110 §13.2.2) whose
/// `If-Modified-Since` is not before the page's `Last-Modified`, gets `304 Not Modified` with
/// the headers RFC 9110 §15.4.5 lists.
pub(crate) fn serve_entry<B: Body>(
    entry: &Entry,
    status: CacheStatus,
    now: Micros,
    head: bool,
    conditions: Conditions<'_>,
) -> Response<IsrBody<B>> {
    let chosen = negotiate(conditions.accept_encoding, entry.encodings())
        .and_then(|coding| entry.representation(coding));
    let Some(served) = chosen else {
        return not_acceptable(entry, status, now);
    };
    // RFC 9110 §13.2.1: conditions apply only to what would be a 2xx answer.
    let not_modified = entry.status.is_success()
        && match conditions.if_none_match {
            Some(inm) => etag_matches(inm, served.etag),
            None => conditions
                .if_modified_since
                .is_some_and(|ims| not_modified_since(ims, entry.last_modified, now)),
        };
    let mut response = if not_modified {
        let mut response = Response::new(IsrBody::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        let headers = response.headers_mut();
        for name in [CACHE_CONTROL, CONTENT_LOCATION, DATE, ETAG, EXPIRES, VARY] {
            for value in served.headers.get_all(&name) {
                headers.append(name.clone(), value.clone());
            }
        }
        response
    } else {
        let body = if head {
            IsrBody::empty()
        } else {
            IsrBody::full(served.body.clone())
        };
        let mut response = Response::new(body);
        *response.status_mut() = entry.status;
        *response.headers_mut() = served.headers.clone();
        response
    };
    let headers = response.headers_mut();
    headers.insert(AGE, integer_value(entry.age_secs_at(now)));
    headers.insert(CacheStatus::HEADER, status.header_value());
    response
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
