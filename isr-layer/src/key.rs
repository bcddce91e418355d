//! Cache keys and their normalisation.
//!
//! Two spellings of one page must share one entry, and no spelling may land on another page's
//! entry. The key is built from the *canonical* form of the path and query, and when a request
//! was spelled differently the layer rewrites its URI to that canonical form before the inner
//! service sees it. So the key always names exactly what the service rendered: a crafted path
//! cannot make the service render one thing and the cache file it under another.
//!
//! Canonical form (RFC 3986 §6.2.2): percent-encoded unreserved characters are decoded
//! (`%62` → `b`), other escapes get upper-case hex (`%2f` → `%2F`), dot segments are resolved
//! (`/a/../b` → `/b`, also when spelled `%2E%2E`), and runs of slashes are merged (`//b` → `/b`).
//! An encoded slash (`%2F`) stays encoded: decoding it would change how routers split the path.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, Uri};

/// Query parameters that mark a click or a campaign, never a page: they never enter a key and
/// the inner service never sees them, in every [`QueryMode`] (unless an allow-list names one).
/// Names starting with `utm_` count too; [`IsrBuilder::tracking_param`] adds more.
///
/// Every click from a social network, an ad or a newsletter carries a unique value of one of
/// these; keyed, each click would be a new entry and a render.
///
/// [`IsrBuilder::tracking_param`]: crate::IsrBuilder::tracking_param
pub const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "gclsrc",
    "gbraid",
    "wbraid",
    "dclid",
    "msclkid",
    "yclid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "igshid",
    "ttclid",
    "twclid",
    "li_fat_id",
    "srsltid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "epik",
    "rdt_cid",
    "sccid",
    "vero_id",
    "oly_anon_id",
    "oly_enc_id",
    "s_cid",
    "ref_src",
];

/// Whether `name` is a tracking parameter: in [`TRACKING_PARAMS`], starting with `utm_`, or
/// one of `extra` (all compared without regard to ASCII case).
fn is_tracking(name: &str, extra: &[String]) -> bool {
    name.get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("utm_"))
        || TRACKING_PARAMS.iter().any(|t| t.eq_ignore_ascii_case(name))
        || extra.iter().any(|t| t.eq_ignore_ascii_case(name))
}

/// How the query string takes part in the cache key.
///
/// Whatever the mode, the inner service sees the same query the key was built from: the other
/// parameters are removed from the request, so they cannot change a page that is then served
/// to everyone. Tracking parameters ([`TRACKING_PARAMS`]) are removed in every mode.
///
/// The default is [`QueryMode::Ignore`], as Next.js keys a static page by its path alone: an ISR
/// page reads no parameter unless its route declares it, with
/// [`RenderContext::query_param`](crate::RenderContext::query_param) (the extractors' `query_param`) or
/// [`IsrPolicyLayer::query_params`](crate::IsrPolicyLayer::query_params), so an unknown
/// `?x=<random>` can neither create an entry nor force a render. Declared parameters add to
/// [`QueryMode::Ignore`] (none) and [`QueryMode::AllowList`] (the names given); in
/// [`QueryMode::Full`] and [`QueryMode::Sorted`], for API-like routes, every parameter is part
/// of the key and reaches the render already.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryMode {
    /// The query string as sent (with percent-encoding normalised).
    Full,
    /// Parameters sorted by name, so `?b=2&a=1` and `?a=1&b=2` share one entry.
    Sorted,
    /// No query but the parameters a route declares (the default): `/a?x=1` and `/a` share one
    /// entry, and the service sees `/a`.
    #[default]
    Ignore,
    /// Only the named parameters (and those a route declares), sorted by name; the service sees
    /// only those.
    AllowList(Arc<[String]>),
}

impl QueryMode {
    /// Keeps only the given parameter names.
    pub fn allow_list<I, T>(names: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Self::AllowList(names.into_iter().map(Into::into).collect())
    }
}

/// How keys are built; set through [`IsrBuilder`](crate::IsrBuilder).
#[derive(Clone, Debug)]
pub(crate) struct KeyOptions {
    pub(crate) query: QueryMode,
    /// Tracking parameters besides [`TRACKING_PARAMS`].
    pub(crate) tracking: Vec<String>,
    pub(crate) include_host: bool,
    pub(crate) headers: Vec<HeaderName>,
    pub(crate) max_len: usize,
}

impl Default for KeyOptions {
    fn default() -> Self {
        Self {
            query: QueryMode::default(),
            tracking: Vec::new(),
            include_host: false,
            headers: Vec::new(),
            max_len: 4096,
        }
    }
}

/// Why a request has no cache key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// The path is not an absolute path (`*`, authority form).
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// Longer than the configured limit.
    TooLong,
    /// The host is missing or not a valid authority (while the host is part of the key).
    BadHost,
}

impl KeyError {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::NotAbsolute => "request target is not an absolute path",
            Self::BadEscape => "malformed percent-encoding in the request target",
            Self::TooLong => "cache key longer than the limit",
            Self::BadHost => "missing or malformed Host header",
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The key of one request.
#[derive(Debug)]
pub(crate) struct RequestKey<'a> {
    /// The key: `[host]path[?query][\nheader:value]*`.
    pub(crate) key: Cow<'a, str>,
    /// Where the canonical path sits inside `key`.
    pub(crate) path: Range<usize>,
    /// The canonical path and query, when the request spelled them differently.
    pub(crate) rewrite: Option<PathAndQuery>,
    /// The path itself was spelled differently (not only the query).
    pub(crate) path_rewritten: bool,
}

#[cfg(test)]
impl RequestKey<'_> {
    fn path(&self) -> &str {
        &self.key[self.path.clone()]
    }
}

/// The parts of a request target the key reads, as [`Uri`]'s accessors of the same names
/// return them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target<'a> {
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) path_and_query: Option<&'a str>,
    pub(crate) authority: Option<&'a str>,
}

impl<'a> From<&'a Uri> for Target<'a> {
    fn from(uri: &'a Uri) -> Self {
        Self {
            path: uri.path(),
            query: uri.query(),
            path_and_query: uri.path_and_query().map(|pq| pq.as_str()),
            authority: uri.authority().map(|a| a.as_str()),
        }
    }
}

/// Builds the key of a request.
pub(crate) fn request_key<'a>(
    opts: &KeyOptions,
    target: impl Into<Target<'a>>,
    headers: &HeaderMap,
) -> Result<RequestKey<'a>, KeyError> {
    let target = target.into();
    let raw_path = target.path;
    if !raw_path.starts_with('/') {
        return Err(KeyError::NotAbsolute);
    }
    let path = normalize_path(raw_path)?;
    let raw_query = target.query;
    let query = match (&opts.query, raw_query) {
        (_, None) | (QueryMode::Ignore, _) => None,
        (QueryMode::Full, Some(q)) => Some(without_tracking(normalize_escapes(q)?, opts)),
        (QueryMode::Sorted, Some(q)) => Some(sorted_query(q, None, opts)?),
        (QueryMode::AllowList(names), Some(q)) => Some(sorted_query(q, Some(names), opts)?),
    }
    .filter(|q| !q.is_empty());

    let path_rewritten = path != raw_path;
    let rewrite = if path_rewritten || query.as_deref() != raw_query {
        let mut pq = String::with_capacity(path.len() + query.as_ref().map_or(0, |q| q.len() + 1));
        pq.push_str(&path);
        if let Some(q) = &query {
            pq.push('?');
            pq.push_str(q);
        }
        // The canonical form only removes or decodes characters that were valid already.
        Some(PathAndQuery::try_from(pq).map_err(|_| KeyError::BadEscape)?)
    } else {
        None
    };

    let host = if opts.include_host {
        Some(host_of(target.authority, headers).ok_or(KeyError::BadHost)?)
    } else {
        None
    };
    let key_len = host.as_ref().map_or(0, |h| h.len())
        + path.len()
        + query.as_ref().map_or(0, |q| q.len() + 1);
    if key_len > opts.max_len {
        return Err(KeyError::TooLong);
    }

    // The common case borrows the request's own path and query: no allocation.
    if host.is_none()
        && opts.headers.is_empty()
        && rewrite.is_none()
        && let Some(pq) = target.path_and_query
    {
        return Ok(RequestKey {
            key: Cow::Borrowed(pq),
            path: 0..raw_path.len(),
            rewrite,
            path_rewritten,
        });
    }

    let mut key = String::with_capacity(key_len + 16);
    if let Some(host) = &host {
        key.push_str(host);
    }
    let start = key.len();
    key.push_str(&path);
    let end = key.len();
    if let Some(q) = &query {
        key.push('?');
        key.push_str(q);
    }
    for name in &opts.headers {
        key.push('\n');
        key.push_str(name.as_str());
        key.push(':');
        for value in headers.get_all(name) {
            key.push_str(&String::from_utf8_lossy(value.as_bytes()));
            key.push(',');
        }
    }
    if key.len() > opts.max_len {
        return Err(KeyError::TooLong);
    }
    Ok(RequestKey {
        key: Cow::Owned(key),
        path: start..end,
        rewrite,
        path_rewritten,
    })
}

/// The canonical form of an absolute path, as cache keys, the requests the inner service sees,
/// and [`Revalidator::revalidate_path`](crate::Revalidator::revalidate_path) use it; `None` for
/// a path that does not start with `/` or has malformed percent-encoding.
///
/// ```
/// assert_eq!(isr_layer::key::canonical_path("/a/../b//c/%7e").as_deref(), Some("/b/c/~"));
/// assert_eq!(isr_layer::key::canonical_path("/a%zz"), None);
/// ```
pub fn canonical_path(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    normalize_path(path).ok().map(Cow::into_owned)
}

/// The key of one variant of a page whose response named headers in `Vary`.
///
/// RFC 9111 §4.1: a header absent from the request matches only requests where it is absent
/// too (so absent and empty are different variants), and the values of a header are compared
/// as one combined list (so `a, b` in one line and `a` and `b` in two are the same variant;
/// whitespace around the commas does not count).
pub(crate) fn variant_key(primary: &str, names: &[HeaderName], headers: &HeaderMap) -> String {
    let mut key = String::with_capacity(primary.len() + 32 * names.len());
    key.push_str(primary);
    for name in names {
        key.push_str("\n~");
        key.push_str(name.as_str());
        let mut values = headers.get_all(name).iter().peekable();
        if values.peek().is_none() {
            continue; // absent: no `=` at all
        }
        key.push('=');
        let mut first = true;
        for value in values {
            for item in String::from_utf8_lossy(value.as_bytes()).split(',') {
                if !first {
                    key.push(',');
                }
                first = false;
                key.push_str(item.trim());
            }
        }
    }
    key
}

fn host_of(authority: Option<&str>, headers: &HeaderMap) -> Option<String> {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or(authority)?;
    // Only a real authority may join the key: `example.com/admin` as a Host header must not
    // make the key of another URL.
    let authority: http::uri::Authority = host.parse().ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    Some(
        authority
            .as_str()
            .trim_end_matches('.')
            .to_ascii_lowercase(),
    )
}

/// Canonical form of an absolute path (see the module docs).
pub(crate) fn normalize_path(path: &str) -> Result<Cow<'_, str>, KeyError> {
    if !path_needs_work(path) {
        return Ok(Cow::Borrowed(path));
    }
    let decoded = normalize_escapes(path)?;
    let mut segments: Vec<&str> = Vec::new();
    let mut trailing_slash = false;
    for segment in decoded.split('/') {
        trailing_slash = false;
        match segment {
            "" => trailing_slash = true,
            "." => trailing_slash = true,
            ".." => {
                segments.pop();
                trailing_slash = true;
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len());
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if trailing_slash || out.is_empty() {
        out.push('/');
    }
    Ok(Cow::Owned(out))
}

/// Whether `path` has an escape, an empty segment (`//`) or a dot segment: one pass over its
/// bytes, as this runs on every request.
fn path_needs_work(path: &str) -> bool {
    let bytes = path.as_bytes();
    // Each segment starts at the beginning or after a `/`.
    let mut segment_start = true;
    for (i, &byte) in bytes.iter().enumerate() {
        if byte == b'%' {
            return true;
        }
        if segment_start {
            let rest = &bytes[i..];
            let end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
            if matches!(&rest[..end], b"." | b"..") || (end == 0 && i > 0) {
                return true;
            }
        }
        segment_start = byte == b'/';
    }
    // A path ending in `/` ends with an empty segment, which is no work (`/docs/`).
    false
}

const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

const fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes escaped unreserved characters and upper-cases the hex of the other escapes.
pub(crate) fn normalize_escapes(s: &str) -> Result<Cow<'_, str>, KeyError> {
    if !s.contains('%') {
        return Ok(Cow::Borrowed(s));
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex_value),
                bytes.get(i + 2).copied().and_then(hex_value),
            ) else {
                return Err(KeyError::BadEscape);
            };
            let value = hi << 4 | lo;
            if is_unreserved(value) {
                out.push(value);
            } else {
                out.extend_from_slice(&[b'%', HEX[usize::from(hi)], HEX[usize::from(lo)]]);
            }
            i += 3;
        } else {
            // Raw bytes (UTF-8 included) are copied as they are.
            out.push(b);
            i += 1;
        }
    }
    // Only ASCII replaced ASCII escapes, so the bytes are as valid UTF-8 as the input.
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| KeyError::BadEscape)
}

/// The name of a `name=value` query parameter.
pub(crate) fn param_name(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(name, _)| name)
}

/// `query` without its tracking parameters, in its own order.
fn without_tracking<'a>(query: Cow<'a, str>, opts: &KeyOptions) -> Cow<'a, str> {
    let tracking = |pair: &&str| is_tracking(param_name(pair), &opts.tracking);
    if !query.split('&').any(|pair| tracking(&pair)) {
        return query;
    }
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && !tracking(pair))
        .collect();
    Cow::Owned(kept.join("&"))
}

fn sorted_query<'a>(
    query: &'a str,
    allow: Option<&Arc<[String]>>,
    opts: &KeyOptions,
) -> Result<Cow<'a, str>, KeyError> {
    sorted_pairs(query, |name| match allow {
        // An allow-list is explicit: it may name a tracking parameter.
        Some(names) => names.iter().any(|allowed| allowed == name),
        None => !is_tracking(name, &opts.tracking),
    })
}

/// The parameters of `query` whose names `keep` accepts, escapes normalised, sorted by name
/// (stable: repeated parameters keep their relative order).
fn sorted_pairs(query: &str, keep: impl Fn(&str) -> bool) -> Result<Cow<'_, str>, KeyError> {
    let normalized = normalize_escapes(query)?;
    let mut pairs: Vec<&str> = normalized
        .split('&')
        .filter(|p| !p.is_empty() && keep(param_name(p)))
        .collect();
    pairs.sort_by(|a, b| param_name(a).cmp(param_name(b)));
    Ok(Cow::Owned(pairs.join("&")))
}

/// The query a visitor sent, as the application may be given it back (a dynamic route, a
/// declared parameter): escapes normalised, tracking parameters removed (they never reach a
/// render). `None` when nothing is left.
pub(crate) fn visible_query(raw: Option<&str>, opts: &KeyOptions) -> Option<String> {
    let raw = raw?;
    let normalized = normalize_escapes(raw).ok()?;
    let kept = without_tracking(normalized, opts);
    (!kept.is_empty()).then(|| kept.into_owned())
}

/// The pairs of `query` a route declared it reads (`names`), sorted: the part of a page's key
/// its declared parameters make.
pub(crate) fn declared_query(query: Option<&str>, names: &[Arc<str>]) -> String {
    query
        .and_then(|q| sorted_pairs(q, |name| names.iter().any(|n| &**n == name)).ok())
        .map(Cow::into_owned)
        .unwrap_or_default()
}

/// The `name=value` pairs of the `Cookie` header lines whose names are in `names`, in the
/// order of `names` (the first value of a repeated cookie, as browsers send the most specific
/// first), joined by `; `.
pub(crate) fn declared_cookies(headers: &HeaderMap, names: &[Arc<str>]) -> String {
    cookie_pairs(names, |name| cookie_value(headers, name))
}

/// [`declared_cookies`] of one `Cookie` line.
pub(crate) fn declared_cookies_in(line: &str, names: &[Arc<str>]) -> String {
    cookie_pairs(names, |name| cookie_in(line, name))
}

fn cookie_pairs<'v>(names: &[Arc<str>], value_of: impl Fn(&str) -> Option<&'v str>) -> String {
    let mut out = String::new();
    for name in names {
        if let Some(value) = value_of(name) {
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(name);
            out.push('=');
            out.push_str(value);
        }
    }
    out
}

/// The value of cookie `name` in the request's `Cookie` lines (HTTP/2 may split them over
/// several lines).
pub(crate) fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|line| line.to_str().ok())
        .find_map(|line| cookie_in(line, name))
}

/// The value of cookie `name` in one `Cookie` line (RFC 6265 §5.4: `; `-separated
/// `name=value` pairs); the first one if repeated, as browsers send the most specific first.
pub(crate) fn cookie_in<'l>(line: &'l str, name: &str) -> Option<&'l str> {
    line.split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reason a request bypasses the cache (logged, and listed by the inspector) says
    /// which part of the target is wrong.
    #[test]
    fn a_bad_target_bypasses_with_the_reason_of_its_error() {
        let reason = |target: &str, opts: &KeyOptions| {
            let uri: Uri = target.parse().unwrap();
            let error = request_key(opts, &uri, &HeaderMap::new()).unwrap_err();
            crate::filters::BypassReason::from_key_error(error).to_string()
        };
        let defaults = KeyOptions::default();
        assert_eq!(
            reason("*", &defaults),
            "request target is not an absolute path"
        );
        assert_eq!(
            reason("/a%zz", &defaults),
            "malformed percent-encoding in the request target"
        );
        let short = KeyOptions {
            max_len: 8,
            ..KeyOptions::default()
        };
        assert_eq!(
            reason("/a-long-path", &short),
            "cache key longer than the limit"
        );
        let by_host = KeyOptions {
            include_host: true,
            ..KeyOptions::default()
        };
        assert_eq!(reason("/", &by_host), "missing or malformed Host header");
    }

    #[test]
    fn vary_keys_follow_rfc_9111() {
        let names = [HeaderName::from_static("x-theme")];
        let key = |values: &[&'static str]| {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append("x-theme", http::HeaderValue::from_static(v));
            }
            variant_key("/p", &names, &headers)
        };
        assert_ne!(key(&[]), key(&[""]), "absent is not empty");
        assert_eq!(key(&["a, b"]), key(&["a", "b"]), "one combined list");
        assert_eq!(key(&["a,b"]), key(&[" a ,  b "]));
        assert_ne!(key(&["a"]), key(&["b"]));
        assert_ne!(key(&["a,b"]), key(&["b,a"]), "order is part of the value");
        assert_ne!(
            key(&["a,b"]),
            key(&["ab"]),
            "the commas are part of the value"
        );
        assert_eq!(key(&["a, b", "c"]), "/p\n~x-theme=a,b,c");
    }

    #[test]
    fn tracking_parameters_leave_the_key_in_every_mode() {
        let key = |mode: QueryMode, target: &str| {
            let opts = KeyOptions {
                query: mode,
                tracking: vec!["ref_id".to_owned()],
                ..KeyOptions::default()
            };
            let uri: Uri = target.parse().unwrap();
            request_key(&opts, &uri, &HeaderMap::new())
                .unwrap()
                .key
                .into_owned()
        };
        assert_eq!(key(QueryMode::Full, "/a?b=2&fbclid=x&a=1"), "/a?b=2&a=1");
        assert_eq!(key(QueryMode::Full, "/a?utm_source=x&UTM_MEDIUM=y"), "/a");
        assert_eq!(key(QueryMode::Full, "/a?ref_id=7&x"), "/a?x");
        assert_eq!(key(QueryMode::Full, "/a?utmost=1"), "/a?utmost=1");
        assert_eq!(
            key(QueryMode::Full, "/a?%66bclid=1"),
            "/a",
            "escaped spellings too"
        );
        assert_eq!(key(QueryMode::Sorted, "/a?gclid=1&b=2&a=1"), "/a?a=1&b=2");
        assert_eq!(
            key(QueryMode::allow_list(["utm_source"]), "/a?utm_source=x&y=1"),
            "/a?utm_source=x",
            "an allow-list may name one"
        );
        assert_eq!(key(QueryMode::Full, "/a?x=1"), "/a?x=1");
    }

    #[test]
    fn the_one_pass_check_finds_what_needs_normalising() {
        // The check it replaced, as the reference.
        let reference = |p: &str| {
            p.contains('%') || p.contains("//") || p.split('/').any(|s| s == "." || s == "..")
        };
        let paths = [
            "/", "/a", "/a/", "/a/b", "//", "//a", "/a//b", "/a/b//", "/.", "/..", "/./a", "/a/.",
            "/a/..", "/a/../b", "/.a", "/a.", "/..a", "/a/.../b", "/%2e", "/a%20b", ".", "..", "a",
            "./a", "../a", "", "/a/./", "/a/b/.",
        ];
        for path in paths {
            assert_eq!(path_needs_work(path), reference(path), "{path:?}");
        }
    }

    fn key_with(opts: &KeyOptions, target: &str) -> Result<(String, Option<String>), KeyError> {
        let uri: Uri = target.parse().unwrap();
        let k = request_key(opts, &uri, &HeaderMap::new())?;
        Ok((k.key.into_owned(), k.rewrite.map(|r| r.to_string())))
    }

    fn key(target: &str) -> String {
        key_with(&KeyOptions::default(), target).unwrap().0
    }

    #[test]
    fn paths_normalise_to_one_spelling() {
        let cases = [
            ("/b", "/b"),
            ("/a/../b", "/b"),
            ("//b", "/b"),
            ("/a//b", "/a/b"),
            ("/./b", "/b"),
            ("/%62", "/b"),
            ("/a/%2E%2E/b", "/b"),
            ("/a/%2e%2e/b", "/b"),
            ("/../../b", "/b"),
            ("/docs/", "/docs/"),
            ("/docs//", "/docs/"),
            ("/docs/a/..", "/docs/"),
            ("/docs/.", "/docs/"),
            ("/", "/"),
            ("//", "/"),
            ("/a%2fb", "/a%2Fb"),
            ("/%7Euser", "/~user"),
            ("/caf%c3%a9", "/caf%C3%A9"),
        ];
        for (input, expected) in cases {
            assert_eq!(key(input), expected, "normalising {input}");
        }
    }

    #[test]
    fn raw_utf8_survives_normalisation() {
        assert_eq!(normalize_escapes("/über?q=%7e").unwrap(), "/über?q=~");
    }

    #[test]
    fn a_crafted_host_cannot_name_another_url() {
        let opts = KeyOptions {
            include_host: true,
            ..KeyOptions::default()
        };
        let uri: Uri = "/x".parse().unwrap();
        for bad in ["example.com/admin", "a b", "user@example.com"] {
            let mut headers = HeaderMap::new();
            headers.insert(http::header::HOST, bad.parse().unwrap());
            assert_eq!(
                request_key(&opts, &uri, &headers).unwrap_err(),
                KeyError::BadHost,
                "{bad}"
            );
        }
    }

    #[test]
    fn an_encoded_slash_never_lands_on_another_page() {
        assert_ne!(key("/%2Fb"), key("/b"));
        assert_ne!(key("/a%2F..%2Fb"), key("/b"));
    }

    #[test]
    fn declared_parameters_and_cookies_make_one_variant_per_value() {
        let names: Vec<Arc<str>> = vec![Arc::from("page"), Arc::from("sort")];
        // Sorted, normalised, only the declared names, repeated ones in their order.
        assert_eq!(
            declared_query(Some("x=1&sort=new&page=%32&page=3"), &names),
            "page=2&page=3&sort=new"
        );
        assert_eq!(declared_query(Some("x=1"), &names), "");
        assert_eq!(declared_query(None, &names), "");
        assert_eq!(declared_query(Some("pages=2&sort"), &names), "sort");

        let mut headers = HeaderMap::new();
        headers.append("cookie", "session=a; theme=dark".parse().unwrap());
        headers.append("cookie", "lang=de ; theme=light".parse().unwrap());
        let names: Vec<Arc<str>> = vec![Arc::from("lang"), Arc::from("theme")];
        assert_eq!(declared_cookies(&headers, &names), "lang=de; theme=dark");
        assert_eq!(cookie_value(&headers, "session"), Some("a"));
        assert_eq!(cookie_value(&headers, "sess"), None);
        assert_eq!(declared_cookies(&HeaderMap::new(), &names), "");

        let opts = KeyOptions::default();
        assert_eq!(
            visible_query(Some("q=%72ust&utm_source=x&fbclid=1"), &opts).as_deref(),
            Some("q=rust")
        );
        assert_eq!(visible_query(Some("utm_medium=mail"), &opts), None);
        assert_eq!(visible_query(Some("bad=%zz"), &opts), None);
    }

    #[test]
    fn canonical_requests_borrow_their_key() {
        let uri: Uri = "/docs/a?x=1".parse().unwrap();
        let full = KeyOptions {
            query: QueryMode::Full,
            ..KeyOptions::default()
        };
        let k = request_key(&full, &uri, &HeaderMap::new()).unwrap();
        assert!(matches!(k.key, Cow::Borrowed(_)));
        assert!(k.rewrite.is_none());
        assert_eq!(k.path(), "/docs/a");
    }

    #[test]
    fn non_canonical_requests_are_rewritten_to_the_key() {
        let full = KeyOptions {
            query: QueryMode::Full,
            ..KeyOptions::default()
        };
        let (key, rewrite) = key_with(&full, "/a/../b?x=%7e").unwrap();
        assert_eq!(key, "/b?x=~");
        assert_eq!(rewrite.as_deref(), Some("/b?x=~"));
        // By default no parameter is keyed, and the render is sent none.
        let (key, rewrite) = key_with(&KeyOptions::default(), "/b?x=%7e").unwrap();
        assert_eq!(key, "/b");
        assert_eq!(rewrite.as_deref(), Some("/b"));
    }

    #[test]
    fn query_modes() {
        let mut opts = KeyOptions::default();
        assert_eq!(opts.query, QueryMode::Ignore);
        opts.query = QueryMode::Full;
        assert_eq!(key_with(&opts, "/p?b=2&a=1").unwrap().0, "/p?b=2&a=1");
        opts.query = QueryMode::Sorted;
        assert_eq!(key_with(&opts, "/p?b=2&a=1").unwrap().0, "/p?a=1&b=2");
        assert_eq!(key_with(&opts, "/p?a=1&b=2").unwrap().0, "/p?a=1&b=2");
        assert_eq!(
            key_with(&opts, "/p?b=2&a=3&a=1").unwrap().0,
            "/p?a=3&a=1&b=2"
        );
        opts.query = QueryMode::Ignore;
        assert_eq!(
            key_with(&opts, "/p?b=2&a=1").unwrap(),
            ("/p".into(), Some("/p".into()))
        );
        opts.query = QueryMode::allow_list(["page"]);
        assert_eq!(
            key_with(&opts, "/p?utm=x&page=2").unwrap(),
            ("/p?page=2".into(), Some("/p?page=2".into()))
        );
        opts.query = QueryMode::Full;
        assert_eq!(key_with(&opts, "/p?").unwrap().0, "/p");
    }

    #[test]
    fn bad_input_has_no_key() {
        assert_eq!(
            key_with(&KeyOptions::default(), "/a%zz"),
            Err(KeyError::BadEscape)
        );
        assert_eq!(
            key_with(&KeyOptions::default(), "/a%2"),
            Err(KeyError::BadEscape)
        );
        let opts = KeyOptions {
            max_len: 16,
            ..KeyOptions::default()
        };
        assert_eq!(
            key_with(&opts, "/a-very-long-path-indeed"),
            Err(KeyError::TooLong)
        );
    }

    #[test]
    fn a_key_with_its_headers_may_be_exactly_as_long_as_the_limit() {
        let uri: Uri = "/p".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-tenant", http::HeaderValue::from_static("blue"));
        let with_limit = |max_len| KeyOptions {
            headers: vec![HeaderName::from_static("x-tenant")],
            max_len,
            ..KeyOptions::default()
        };
        let key = request_key(&with_limit(4096), &uri, &headers).unwrap().key;
        assert_eq!(key, "/p\nx-tenant:blue,");
        let exact = request_key(&with_limit(key.len()), &uri, &headers).unwrap();
        assert_eq!(exact.key, key);
        assert_eq!(
            request_key(&with_limit(key.len() - 1), &uri, &headers).unwrap_err(),
            KeyError::TooLong
        );
    }

    #[test]
    fn a_query_counts_toward_the_limit_with_its_question_mark() {
        let uri: Uri = "/p?a=1".parse().unwrap();
        let with_limit = |max_len| KeyOptions {
            query: QueryMode::Full,
            max_len,
            ..KeyOptions::default()
        };
        let headers = HeaderMap::new();
        let exact = request_key(&with_limit(6), &uri, &headers).unwrap();
        assert_eq!(exact.key, "/p?a=1");
        assert_eq!(
            request_key(&with_limit(5), &uri, &headers).unwrap_err(),
            KeyError::TooLong
        );
    }

    #[test]
    fn host_and_headers_join_the_key_when_asked() {
        let opts = KeyOptions {
            include_host: true,
            headers: vec![HeaderName::from_static("x-forwarded-host")],
            ..KeyOptions::default()
        };
        let uri: Uri = "/a".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, "Example.COM".parse().unwrap());
        headers.insert("x-forwarded-host", "evil.test".parse().unwrap());
        let k = request_key(&opts, &uri, &headers).unwrap();
        assert_eq!(k.key, "example.com/a\nx-forwarded-host:evil.test,");
        assert_eq!(k.path(), "/a");
    }

    #[test]
    fn variants_differ_by_header_values() {
        let names = [HeaderName::from_static("accept-language")];
        let mut en = HeaderMap::new();
        en.insert("accept-language", "en".parse().unwrap());
        let mut de = HeaderMap::new();
        de.insert("accept-language", "de".parse().unwrap());
        assert_ne!(
            variant_key("/a", &names, &en),
            variant_key("/a", &names, &de)
        );
        assert_eq!(
            variant_key("/a", &names, &en),
            variant_key("/a", &names, &en.clone())
        );
    }
}
