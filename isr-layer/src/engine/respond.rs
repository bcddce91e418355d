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
    headers.insert(AGE, integer_value(entry.age_secs_at(now)));
    headers.insert(CacheStatus::HEADER, status.header_value());
    response
}

/// Numbers below this are served from [`DIGITS`] without allocating.
const SMALL: usize = 10_000;

/// The bytes of [`DIGITS`]: ten numbers of one digit, ninety of two, and so on.
const DIGITS_LEN: usize = 10 + 90 * 2 + 900 * 3 + 9_000 * 4;

/// The decimal text of every number below [`SMALL`], back to back: 0–9 one byte each, then
/// 10–99 two bytes each, and so on.
static DIGITS: [u8; DIGITS_LEN] = digits();

const fn digits() -> [u8; DIGITS_LEN] {
    let mut out = [0; DIGITS_LEN];
    let mut n = 0;
    let mut at = 0;
    while n < SMALL {
        let width = decimal_width(n);
        let mut rest = n;
        let mut i = width;
        while i > 0 {
            i -= 1;
            out[at + i] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        at += width;
        n += 1;
    }
    out
}

const fn decimal_width(n: usize) -> usize {
    match n {
        0..10 => 1,
        10..100 => 2,
        100..1_000 => 3,
        _ => 4,
    }
}

/// A header value holding `n` in decimal (`Age`, `Content-Length`).
///
/// `HeaderValue::from(u64)` allocates; this runs on every answer (`Age`), so numbers below
/// 10,000 (ages under 2.7 hours, most page sizes) are slices of a static table instead, which
/// also makes them free to clone.
pub(crate) fn integer_value(n: u64) -> HeaderValue {
    let Some(small) = usize::try_from(n).ok().filter(|&n| n < SMALL) else {
        return HeaderValue::from(n);
    };
    let width = decimal_width(small);
    // Where the numbers of this width start, and the first number of this width.
    let (start, first) = match width {
        1 => (0, 0),
        2 => (10, 10),
        3 => (10 + 90 * 2, 100),
        _ => (10 + 90 * 2 + 900 * 3, 1_000),
    };
    let at = start + (small - first) * width;
    match std::str::from_utf8(&DIGITS[at..at + width]) {
        Ok(text) => HeaderValue::from_static(text),
        Err(_) => HeaderValue::from(n),
    }
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
    fn integer_values_read_as_their_number() {
        for n in [
            0,
            1,
            9,
            10,
            42,
            99,
            100,
            999,
            1_000,
            2_075,
            9_999,
            10_000,
            86_400,
            u64::MAX,
        ] {
            assert_eq!(integer_value(n), HeaderValue::from(n), "{n}");
        }
        for n in 0..SMALL as u64 {
            assert_eq!(integer_value(n).to_str().unwrap(), n.to_string());
        }
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
        assert!(!etag_matches(&HeaderValue::from_static("\"abd\""), &etag));
    }
}
