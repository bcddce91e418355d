//! What may be cached: requests the cache answers, and responses it keeps.
//!
//! Only `GET` and `HEAD` are answered from the cache. A response is kept when its status is one
//! of 200, 203, 301, 308, 404 or 410 and nothing in it says it belongs to one visitor
//! (`Set-Cookie`, `Cache-Control: private`, `no-store`, `no-cache`, `Vary: *`), its policy is not
//! dynamic, and its body fits the size limit.

use std::fmt;

use http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONNECTION, CONTENT_SECURITY_POLICY, PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION, SET_COOKIE, TE, TRAILER, TRANSFER_ENCODING, UPGRADE, VARY,
};
use http::{HeaderMap, HeaderName, Method, StatusCode};

use crate::key::KeyError;
use crate::policy::PolicySource;

/// Why a request or response went past the cache (`x-isr-cache: BYPASS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BypassReason {
    /// The method is not `GET` or `HEAD`.
    Method,
    /// A protocol upgrade (e.g. a WebSocket handshake).
    Upgrade,
    /// The request carried `Authorization` and the response did not opt in to sharing.
    Authorization,
    /// The request target has no valid cache key (malformed, or too long).
    Key(&'static str),
    /// The response status is not one that is cached.
    Status(StatusCode),
    /// The response sets a cookie.
    SetCookie,
    /// `Cache-Control: private`.
    Private,
    /// `Cache-Control: no-store`.
    NoStore,
    /// `Cache-Control: no-cache`.
    NoCache,
    /// `Vary: *`.
    VaryAll,
    /// A level of the policy chain made the page dynamic.
    Dynamic(PolicySource),
    /// The body is larger than the size limit; it was streamed through.
    TooLarge,
    /// The body ends with trailers, which are not stored.
    Trailers,
    /// The application encoded the body in a way the cache cannot read (an unknown or stacked
    /// `Content-Encoding`, or bytes that do not decode).
    Encoding(&'static str),
    /// `Content-Security-Policy` (or `-Report-Only`) carries a `'nonce-…'` source: the page is
    /// made for one request, and sharing it would share the nonce.
    CspNonce,
    /// The request spelled its path differently from the canonical form (`//`, `..`, escapes):
    /// it is answered from the canonical page's entry when there is one, but its own render is
    /// not stored, because a router in front of the cache may have routed the spelling, not
    /// the canonical path.
    NonCanonicalPath,
}

impl BypassReason {
    pub(crate) fn from_key_error(e: KeyError) -> Self {
        Self::Key(e.as_str())
    }
}

impl fmt::Display for BypassReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Method => f.write_str("method is not GET or HEAD"),
            Self::Upgrade => f.write_str("protocol upgrade"),
            Self::Authorization => {
                f.write_str("request has Authorization and the response did not opt in")
            }
            Self::Key(why) => f.write_str(why),
            Self::Status(s) => write!(f, "status {} is not cached", s.as_u16()),
            Self::SetCookie => f.write_str("response sets a cookie"),
            Self::Private => f.write_str("Cache-Control: private"),
            Self::NoStore => f.write_str("Cache-Control: no-store"),
            Self::NoCache => f.write_str("Cache-Control: no-cache"),
            Self::VaryAll => f.write_str("Vary: *"),
            Self::Dynamic(source) => write!(f, "dynamic (revalidate 0 set by the {source} level)"),
            Self::TooLarge => f.write_str("body larger than the size limit (streamed through)"),
            Self::Trailers => f.write_str("body has trailers"),
            Self::Encoding(why) => f.write_str(why),
            Self::CspNonce => f.write_str("per-request CSP nonce"),
            Self::NonCanonicalPath => f.write_str(
                "path spelled differently from its canonical form: only the canonical URL's own render is stored",
            ),
        }
    }
}

/// What the request side says about a cacheable request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestClass {
    pub(crate) head: bool,
    pub(crate) authorized: bool,
}

/// Whether a request may be answered from the cache.
pub(crate) fn classify_request(
    method: &str,
    headers: &HeaderMap,
) -> Result<RequestClass, BypassReason> {
    // Methods are case-sensitive (RFC 9110 §9.1).
    let head = if method == Method::GET.as_str() {
        false
    } else if method == Method::HEAD.as_str() {
        true
    } else {
        return Err(BypassReason::Method);
    };
    // One pass over the names (no hashing): this runs on every request.
    let mut authorized = false;
    for name in headers.keys() {
        if name == UPGRADE || (name == CONNECTION && has_token(headers, &CONNECTION, "upgrade")) {
            return Err(BypassReason::Upgrade);
        }
        authorized |= name == AUTHORIZATION;
    }
    Ok(RequestClass { head, authorized })
}

/// `Cache-Control` directives of a response that matter to a shared cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Directives {
    pub(crate) public: bool,
    pub(crate) private: bool,
    pub(crate) no_store: bool,
    pub(crate) no_cache: bool,
    pub(crate) must_revalidate: bool,
    pub(crate) s_maxage: Option<u64>,
    pub(crate) max_age: Option<u64>,
}

impl Directives {
    pub(crate) fn parse(headers: &HeaderMap) -> Self {
        let mut d = Self::default();
        for value in headers.get_all(CACHE_CONTROL) {
            let Ok(value) = value.to_str() else { continue };
            for directive in value.split(',') {
                let directive = directive.trim();
                let (name, arg) = match directive.split_once('=') {
                    Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                    None => (directive, None),
                };
                let seconds = || arg.and_then(|a| a.parse::<u64>().ok());
                match name.to_ascii_lowercase().as_str() {
                    "public" => d.public = true,
                    "private" => d.private = true,
                    "no-store" => d.no_store = true,
                    "no-cache" => d.no_cache = true,
                    "must-revalidate" | "proxy-revalidate" => d.must_revalidate = true,
                    "s-maxage" => d.s_maxage = seconds(),
                    "max-age" => d.max_age = seconds(),
                    _ => {}
                }
            }
        }
        d
    }

    /// The lifetime the response asks shared caches for: `s-maxage`, else `max-age`.
    pub(crate) fn shared_max_age(&self) -> Option<u64> {
        self.s_maxage.or(self.max_age)
    }

    /// RFC 9111 §3.5: a response to a request with `Authorization` may be shared when it says so.
    pub(crate) fn allows_authorized(&self) -> bool {
        self.public || self.s_maxage.is_some() || self.must_revalidate
    }
}

/// Statuses that are cached (DESIGN §3).
pub(crate) fn is_cacheable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 200 | 203 | 301 | 308 | 404 | 410)
}

/// Checks the header-level rules for storing a response.
pub(crate) fn check_response_headers(
    status: StatusCode,
    headers: &HeaderMap,
    directives: &Directives,
) -> Result<(), BypassReason> {
    if !is_cacheable_status(status) {
        return Err(BypassReason::Status(status));
    }
    if headers.contains_key(SET_COOKIE) {
        return Err(BypassReason::SetCookie);
    }
    if directives.private {
        return Err(BypassReason::Private);
    }
    if directives.no_store {
        return Err(BypassReason::NoStore);
    }
    if directives.no_cache {
        return Err(BypassReason::NoCache);
    }
    if vary_names(headers).is_err() {
        return Err(BypassReason::VaryAll);
    }
    if has_csp_nonce(headers) {
        return Err(BypassReason::CspNonce);
    }
    Ok(())
}

/// Whether a `Content-Security-Policy` (or `-Report-Only`) header has a `'nonce-…'` source.
/// A nonce attribute in the HTML without such a header does nothing, and does not count.
fn has_csp_nonce(headers: &HeaderMap) -> bool {
    const REPORT_ONLY: HeaderName = HeaderName::from_static("content-security-policy-report-only");
    [CONTENT_SECURITY_POLICY, REPORT_ONLY].iter().any(|name| {
        headers.get_all(name).iter().any(|value| {
            value
                .as_bytes()
                .windows(b"'nonce-".len())
                .any(|w| w.eq_ignore_ascii_case(b"'nonce-"))
        })
    })
}

/// The header names a response varies on, for its variant key; `Err` for `Vary: *`.
///
/// `Accept-Encoding` is left out: the cache negotiates the encoding itself from one entry, so
/// the header's many spellings never split a page into several entries.
pub(crate) fn vary_names(headers: &HeaderMap) -> Result<Vec<HeaderName>, ()> {
    let mut names = Vec::new();
    for value in headers.get_all(VARY) {
        let Ok(value) = value.to_str() else { continue };
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "*" {
                return Err(());
            }
            if let Ok(name) = HeaderName::from_bytes(name.as_bytes())
                && name != http::header::ACCEPT_ENCODING
                && !names.contains(&name)
            {
                names.push(name);
            }
        }
    }
    names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    Ok(names)
}

fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and `Upgrade`, never stored.
const HOP_BY_HOP: [HeaderName; 9] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION,
    HeaderName::from_static("proxy-connection"),
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
];

/// Removes hop-by-hop headers, and the headers `Connection` names, from stored headers.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most responses carry none of them: one pass over the names (no hashing) finds out.
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_get_and_head_are_answered() {
        let h = HeaderMap::new();
        assert!(classify_request(Method::GET.as_str(), &h).is_ok());
        assert!(classify_request(Method::HEAD.as_str(), &h).unwrap().head);
        assert_eq!(
            classify_request(Method::POST.as_str(), &h).unwrap_err(),
            BypassReason::Method
        );
        // Methods are case-sensitive: `get` is another method.
        assert_eq!(
            classify_request("get", &h).unwrap_err(),
            BypassReason::Method
        );
        let ws = headers(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
        assert_eq!(
            classify_request(Method::GET.as_str(), &ws).unwrap_err(),
            BypassReason::Upgrade
        );
        for upgrade in [
            headers(&[("host", "a"), ("connection", "keep-alive, upgrade")]),
            headers(&[("upgrade", "h2c"), ("host", "a")]),
        ] {
            assert_eq!(
                classify_request(Method::GET.as_str(), &upgrade).unwrap_err(),
                BypassReason::Upgrade
            );
        }
        let plain = headers(&[
            ("host", "a"),
            ("connection", "keep-alive"),
            ("accept", "*/*"),
        ]);
        assert!(
            !classify_request(Method::GET.as_str(), &plain)
                .unwrap()
                .authorized
        );
        let signed = headers(&[("host", "a"), ("authorization", "Bearer x")]);
        assert!(
            classify_request(Method::GET.as_str(), &signed)
                .unwrap()
                .authorized
        );
    }

    #[test]
    fn directives_parse() {
        let d = Directives::parse(&headers(&[(
            "cache-control",
            "public, S-MaxAge=60, max-age=\"5\"",
        )]));
        assert!(d.public);
        assert_eq!(d.s_maxage, Some(60));
        assert_eq!(d.max_age, Some(5));
        assert_eq!(d.shared_max_age(), Some(60));
        assert!(d.allows_authorized());
    }

    #[test]
    fn each_of_rfc_9111s_three_directives_alone_shares_an_answer_to_authorization() {
        let allows = |value: &'static str| {
            Directives::parse(&headers(&[("cache-control", value)])).allows_authorized()
        };
        assert!(allows("public"));
        assert!(allows("s-maxage=60"));
        assert!(allows("must-revalidate"));
        assert!(allows("Proxy-Revalidate"));
        assert!(!allows("max-age=60"));
        assert!(!allows("no-transform"));
    }

    #[test]
    fn a_connection_upgrade_token_alone_bypasses_whatever_else_is_sent() {
        for pairs in [
            &[("connection", "Upgrade")][..],
            &[("accept", "*/*"), ("connection", "keep-alive, upgrade")][..],
        ] {
            assert_eq!(
                classify_request(Method::GET.as_str(), &headers(pairs)).unwrap_err(),
                BypassReason::Upgrade,
                "{pairs:?}"
            );
        }
        let kept_alive = headers(&[("accept", "*/*"), ("connection", "keep-alive")]);
        assert!(classify_request(Method::GET.as_str(), &kept_alive).is_ok());
    }

    #[test]
    fn private_responses_are_refused() {
        let check = |pairs: &[(&'static str, &'static str)]| {
            let h = headers(pairs);
            check_response_headers(StatusCode::OK, &h, &Directives::parse(&h))
        };
        assert_eq!(
            check(&[("set-cookie", "a=b")]),
            Err(BypassReason::SetCookie)
        );
        assert_eq!(
            check(&[("cache-control", "private")]),
            Err(BypassReason::Private)
        );
        assert_eq!(
            check(&[("cache-control", "no-store")]),
            Err(BypassReason::NoStore)
        );
        assert_eq!(
            check(&[("cache-control", "no-cache")]),
            Err(BypassReason::NoCache)
        );
        assert_eq!(check(&[("vary", "accept, *")]), Err(BypassReason::VaryAll));
        assert_eq!(check(&[("vary", "Accept-Language")]), Ok(()));
        assert_eq!(
            check(&[(
                "content-security-policy",
                "script-src 'self' 'NONCE-r4nd0m'"
            )]),
            Err(BypassReason::CspNonce)
        );
        assert_eq!(
            check(&[(
                "content-security-policy-report-only",
                "script-src 'nonce-abc'"
            )]),
            Err(BypassReason::CspNonce)
        );
        // Hash sources are the cache-friendly alternative: cached.
        assert_eq!(
            check(&[(
                "content-security-policy",
                "script-src 'sha256-B2yPHKaXnvFWtRChIbabYmUBFZdVfKKXHbWtWidDVF8='"
            )]),
            Ok(())
        );
        let h = HeaderMap::new();
        assert_eq!(
            check_response_headers(StatusCode::FOUND, &h, &Directives::default()),
            Err(BypassReason::Status(StatusCode::FOUND))
        );
    }

    #[test]
    fn hop_by_hop_headers_are_not_stored() {
        let mut h = headers(&[
            ("connection", "x-private-hop"),
            ("x-private-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("content-type", "text/html"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("content-type"));
    }
}
