//! Responses built from entries: `HIT`, `STALE`, `MISS`, `HEAD` and `304 Not Modified`.

use http::header::{AGE, CACHE_CONTROL, CONTENT_LOCATION, DATE, ETAG, EXPIRES, VARY};
use http::{HeaderValue, Response, StatusCode};
use http_body::Body;

use super::CacheStatus;
use crate::body::IsrBody;
use crate::clock::Micros;
use crate::entry::Entry;

/// The response for a visitor served from `entry`.
///
/// A `HEAD` visitor gets the headers with an empty body; a visitor whose `If-None-Match`
/// matches the entry's tag gets `304 Not Modified` with the headers RFC 9110 §15.4.5 lists.
pub(crate) fn serve_entry<B: Body>(
    entry: &Entry,
    status: CacheStatus,
    now: Micros,
    head: bool,
    if_none_match: Option<&HeaderValue>,
) -> Response<IsrBody<B>> {
    // RFC 9110 §13.2.1: conditions apply only to what would be a 2xx answer.
    let not_modified = entry.status.is_success()
        && if_none_match.is_some_and(|inm| etag_matches(inm, &entry.etag));
    let mut response = if not_modified {
        let mut response = Response::new(IsrBody::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        let headers = response.headers_mut();
        for name in [CACHE_CONTROL, CONTENT_LOCATION, DATE, ETAG, EXPIRES, VARY] {
            for value in entry.headers.get_all(&name) {
                headers.append(name.clone(), value.clone());
            }
        }
        response
    } else {
        let body = if head {
            IsrBody::empty()
        } else {
            IsrBody::full(entry.body.clone())
        };
        let mut response = Response::new(body);
        *response.status_mut() = entry.status;
        *response.headers_mut() = entry.headers.clone();
        response
    };
    let headers = response.headers_mut();
    headers.insert(AGE, HeaderValue::from(entry.age_secs_at(now)));
    headers.insert(CacheStatus::HEADER, status.header_value());
    response
}

/// `If-None-Match` uses the weak comparison (RFC 9110 §13.1.2).
pub(crate) fn etag_matches(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let (Ok(list), Ok(etag)) = (if_none_match.to_str(), etag.to_str()) else {
        return false;
    };
    let etag = opaque(etag);
    list.split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || opaque(candidate) == etag)
}

fn opaque(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
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
        assert!(!etag_matches(&HeaderValue::from_static("\"abd\""), &etag));
    }
}
