//! The request as the lookup reads it: its method, its target, and the few headers that decide
//! how it is answered.

use std::borrow::Cow;

use http::header::{
    ACCEPT_ENCODING, AUTHORIZATION, CONNECTION, COOKIE, HOST, IF_MODIFIED_SINCE, IF_NONE_MATCH,
    UPGRADE,
};
use http::{HeaderMap, HeaderName, Request};

use crate::key::{KeyOptions, Target};

/// A request's head as [`IsrLayer::lookup`](crate::IsrLayer::lookup) reads it.
///
/// An `http::Request` is one (its parts are read in place). An adapter for a framework with
/// request types of its own implements it over its framework's head, so that a hit converts
/// nothing: the lookup reads the method, the target, and only the headers it needs (what makes
/// a request uncacheable, `Host` when the key has it, the key's own headers, the conditions,
/// `Accept-Encoding`, and the headers the page is known to vary on), which it asks for by name
/// with [`copy_headers`](Self::copy_headers). Only a render takes every header
/// ([`header_map`](Self::header_map)).
///
/// The target's parts are what [`http::Uri`]'s accessors of the same names return.
pub trait RequestHead {
    /// The method, as sent (`"GET"`, `"HEAD"`, …).
    fn method(&self) -> &str;

    /// The target's path ([`http::Uri::path`]).
    fn path(&self) -> &str;

    /// The target's query, without `?` ([`http::Uri::query`]).
    fn query(&self) -> Option<&str>;

    /// The target's path and query as one string ([`http::Uri::path_and_query`]).
    fn path_and_query(&self) -> Option<&str>;

    /// The target's authority, when it was sent in absolute form ([`http::Uri::authority`]).
    fn authority(&self) -> Option<&str>;

    /// The request's headers, when they are already an `http` header map: the lookup then reads
    /// them in place and never calls [`copy_headers`](Self::copy_headers). `None` by default.
    fn http_headers(&self) -> Option<&HeaderMap> {
        None
    }

    /// Appends to `to` each header whose (lowercase) name `wanted` accepts, every value of it,
    /// in the request's order. A header that does not translate to `http`'s types is left out.
    fn copy_headers(&self, wanted: &dyn Fn(&str) -> bool, to: &mut HeaderMap);

    /// Every header, for a render (the response's `Vary` may name any of them).
    fn header_map(&self) -> HeaderMap;
}

impl<B> RequestHead for Request<B> {
    fn method(&self) -> &str {
        self.method().as_str()
    }

    fn path(&self) -> &str {
        self.uri().path()
    }

    fn query(&self) -> Option<&str> {
        self.uri().query()
    }

    fn path_and_query(&self) -> Option<&str> {
        self.uri().path_and_query().map(|pq| pq.as_str())
    }

    fn authority(&self) -> Option<&str> {
        self.uri().authority().map(|a| a.as_str())
    }

    fn http_headers(&self) -> Option<&HeaderMap> {
        Some(self.headers())
    }

    fn copy_headers(&self, wanted: &dyn Fn(&str) -> bool, to: &mut HeaderMap) {
        for (name, value) in self.headers() {
            if wanted(name.as_str()) {
                to.append(name.clone(), value.clone());
            }
        }
    }

    fn header_map(&self) -> HeaderMap {
        self.headers().clone()
    }
}

/// The request's target as the key reads it.
pub(crate) fn target_of<H: RequestHead + ?Sized>(head: &H) -> Target<'_> {
    Target {
        path: head.path(),
        query: head.query(),
        path_and_query: head.path_and_query(),
        authority: head.authority(),
    }
}

/// Headers the lookup reads before it knows the page: what makes a request uncacheable
/// (`Upgrade`, `Connection`, `Authorization`), the encodings it accepts and its conditions.
const READ_FIRST: [HeaderName; 6] = [
    UPGRADE,
    CONNECTION,
    AUTHORIZATION,
    ACCEPT_ENCODING,
    IF_NONE_MATCH,
    IF_MODIFIED_SINCE,
];

/// The request headers the lookup reads: the request's own map, or a map of just those headers,
/// copied from an adapter's head as the lookup comes to need them.
pub(crate) struct ReadHeaders<'h, H: ?Sized> {
    head: &'h H,
    key: &'h KeyOptions,
    map: Cow<'h, HeaderMap>,
}

impl<'h, H: RequestHead + ?Sized> ReadHeaders<'h, H> {
    /// The headers read before the page is known: [`READ_FIRST`], `Host` when the key has it,
    /// and the key's own headers.
    pub(crate) fn first(head: &'h H, key: &'h KeyOptions) -> Self {
        let map = match head.http_headers() {
            Some(map) => Cow::Borrowed(map),
            None => {
                let mut map = HeaderMap::new();
                head.copy_headers(&|name| read_first(key, name), &mut map);
                Cow::Owned(map)
            }
        };
        Self { head, key, map }
    }

    /// Adds the headers a page varies on (`names`, and `Cookie` when it reads cookies), once
    /// the page is known.
    pub(crate) fn add(&mut self, names: &[HeaderName], cookie: bool) {
        let Cow::Owned(map) = &mut self.map else {
            return;
        };
        let key = self.key;
        self.head.copy_headers(
            &|name| {
                !read_first(key, name)
                    && ((cookie && name == COOKIE.as_str())
                        || names.iter().any(|vary| vary.as_str() == name))
            },
            map,
        );
    }

    pub(crate) fn map(&self) -> &HeaderMap {
        &self.map
    }
}

/// Whether the lookup reads header `name` before it knows the page.
fn read_first(key: &KeyOptions, name: &str) -> bool {
    READ_FIRST.iter().any(|first| first.as_str() == name)
        || (key.include_host && name == HOST.as_str())
        || key.headers.iter().any(|keyed| keyed.as_str() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An adapter's head: an `http::Request` that hides its header map, so the lookup has to
    /// ask for headers by name.
    struct Copying(Request<()>);

    impl RequestHead for Copying {
        fn method(&self) -> &str {
            self.0.method().as_str()
        }
        fn path(&self) -> &str {
            self.0.uri().path()
        }
        fn query(&self) -> Option<&str> {
            self.0.uri().query()
        }
        fn path_and_query(&self) -> Option<&str> {
            RequestHead::path_and_query(&self.0)
        }
        fn authority(&self) -> Option<&str> {
            RequestHead::authority(&self.0)
        }
        fn copy_headers(&self, wanted: &dyn Fn(&str) -> bool, to: &mut HeaderMap) {
            self.0.copy_headers(wanted, to);
        }
        fn header_map(&self) -> HeaderMap {
            self.0.header_map()
        }
    }

    fn browser_request() -> Request<()> {
        Request::builder()
            .uri("/docs?page=2")
            .header("host", "example.com")
            .header("accept-encoding", "gzip, br")
            .header("accept-language", "fr")
            .header("cookie", "theme=dark")
            .header("if-none-match", "\"a\"")
            .header("user-agent", "test")
            .header("x-tenant", "blue")
            .body(())
            .unwrap()
    }

    fn names(map: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<_> = map.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn an_http_request_is_read_in_place() {
        let request = browser_request();
        let key = KeyOptions::default();
        let mut read = ReadHeaders::first(&request, &key);
        read.add(&[HeaderName::from_static("accept-language")], true);
        assert!(std::ptr::eq(read.map(), request.headers()));
    }

    #[test]
    fn an_adapters_head_gives_the_headers_read_first_then_those_the_page_varies_on() {
        let head = Copying(browser_request());
        let key = KeyOptions::default();
        let mut read = ReadHeaders::first(&head, &key);
        assert_eq!(names(read.map()), ["accept-encoding", "if-none-match"]);

        // A page varying on a header read already (Accept-Encoding) gets it once.
        read.add(
            &[
                HeaderName::from_static("accept-language"),
                HeaderName::from_static("accept-encoding"),
            ],
            true,
        );
        assert_eq!(
            names(read.map()),
            [
                "accept-encoding",
                "accept-language",
                "cookie",
                "if-none-match"
            ]
        );
        assert_eq!(read.map().get_all("accept-encoding").iter().count(), 1);
    }

    #[test]
    fn the_keys_own_headers_and_host_are_read_first_when_configured() {
        let head = Copying(browser_request());
        let key = KeyOptions {
            include_host: true,
            headers: vec![HeaderName::from_static("x-tenant")],
            ..KeyOptions::default()
        };
        let read = ReadHeaders::first(&head, &key);
        assert_eq!(
            names(read.map()),
            ["accept-encoding", "host", "if-none-match", "x-tenant"]
        );
    }

    #[test]
    fn the_target_is_read_as_the_uri_reads_it() {
        let request = Request::get("http://example.com/a/b?x=1").body(()).unwrap();
        let target = target_of(&request);
        assert_eq!(
            (
                target.path,
                target.query,
                target.path_and_query,
                target.authority
            ),
            ("/a/b", Some("x=1"), Some("/a/b?x=1"), Some("example.com"))
        );
    }
}
