//! Admission: what happens to a rendered response — stored, streamed to its visitor while it
//! is stored, passed through, or a failure.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{
    AGE, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG, LAST_MODIFIED, VARY,
};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::BodyExt;

use super::encode::{self, DecodeFailure};
use super::{Engine, Variance};
use crate::body::IsrBody;
use crate::clock::Micros;
use crate::compression::Compression;
use crate::decimal::integer_value;
use crate::entry::{Encoding, Entry, last_modified_secs};
use crate::filters::{self, BypassReason, Directives};
use crate::head::Head;
use crate::invalidate::{MAX_TAG_LEN, MAX_TAGS_PER_ENTRY, validate_tag};
use crate::policy::{CacheTags, Collection, PolicySource, Resolved, Revalidate};
use crate::status::CacheStatus;

/// What a render is for.
#[derive(Clone, Debug)]
pub(crate) struct RenderTarget {
    /// The key before `Vary` is applied.
    pub(crate) primary: Arc<str>,
    /// Where the canonical path sits in `primary`, for implicit path tags.
    pub(crate) path: Range<usize>,
    /// The visitor's request headers, for `Vary` and declared cookies; the render itself is
    /// sent no `Cookie` (see [`RenderContext`](crate::RenderContext)).
    pub(crate) request_headers: HeaderMap,
    /// The visitor's query as sent, for declared parameters (the render is sent only the
    /// parameters its key holds).
    pub(crate) query: Option<Arc<str>>,
    /// The request carried `Authorization`.
    pub(crate) authorized: bool,
    /// The visitor who asked sent `HEAD`: a passed-through body is dropped.
    pub(crate) head: bool,
    /// The request spelled its path differently from the canonical form: answer, never store
    /// ([`BypassReason::NonCanonicalPath`]).
    pub(crate) path_rewritten: bool,
}

/// Why a render counts as failed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Failure {
    Status(StatusCode),
    Body,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(s) => write!(f, "status {}", s.as_u16()),
            Self::Body => f.write_str("response body failed mid-stream"),
        }
    }
}

/// The verdict on one rendered response.
pub(crate) enum Admission<B: Body> {
    /// Cacheable: store it and serve it.
    Store(Arc<Entry>),
    /// Cacheable, and the body is still coming: the visitor gets it as it comes while it is
    /// read into the cache.
    Stream(Box<Streaming<B>>),
    /// Not cacheable: the response for the visitor, marked `BYPASS`.
    Pass {
        response: Response<IsrBody<B>>,
        reason: BypassReason,
    },
    /// A failed render: the response for a visitor that has no older copy to fall back on.
    Fail {
        response: Response<IsrBody<B>>,
        failure: Failure,
    },
}

/// A cacheable response whose body was not complete when its head arrived.
pub(crate) struct Streaming<B: Body> {
    /// Everything the entry needs but its body.
    pub(crate) page: PendingEntry,
    /// The visitor's answer head (`MISS`).
    pub(crate) head: http::response::Parts,
    /// The frames read before the body paused, and their bytes.
    pub(crate) read: VecDeque<Frame<Bytes>>,
    pub(crate) size: usize,
    /// The rest of the body.
    pub(crate) rest: Pin<Box<B>>,
}

/// An entry made from a response's head, waiting for its body.
pub(crate) struct PendingEntry {
    /// The key before `Vary`, and the names the response varies on, learnt once it is stored.
    primary: Arc<str>,
    vary: Option<Arc<Variance>>,
    key: Arc<str>,
    path: Range<usize>,
    route: Option<Arc<str>>,
    status: StatusCode,
    /// The headers to store (hop-by-hop, `Age` and `x-isr-cache` removed).
    headers: HeaderMap,
    /// The application's `Content-Encoding`, when it encoded the body itself.
    encoded_by_app: Option<HeaderValue>,
    rendered_at: Micros,
    revalidate: Revalidate,
    tags: Box<[Arc<str>]>,
    shared_with_authorization: bool,
}

/// Decides what to do with `response`, buffering its body when it is to be stored.
///
/// With `stream`, a body that is not complete at once is not waited for: the answer is
/// [`Admission::Stream`], and the caller tees the rest to the visitor and into the cache.
pub(crate) async fn admit<B>(
    engine: &Engine,
    target: &RenderTarget,
    started: Micros,
    collected: Collection,
    response: Response<B>,
    stream: bool,
) -> Admission<B>
where
    B: Body<Data = Bytes>,
{
    let (parts, body) = response.into_parts();
    if parts.status.is_server_error() {
        let failure = Failure::Status(parts.status);
        let response = passed(parts, IsrBody::inner(body), target.head);
        return Admission::Fail { response, failure };
    }

    let directives = Directives::parse(&parts.headers);
    let mut policy = Resolved::new(engine.config.revalidate, PolicySource::Layer);
    if let Some(p) = collected.policy {
        policy.lower(p.revalidate, p.source);
    }
    if let Some(revalidate) = parts.extensions.get::<Revalidate>() {
        policy.lower(*revalidate, PolicySource::Handler);
    }
    if let Some(secs) = directives.shared_max_age() {
        policy.lower(Revalidate::secs(secs), PolicySource::CacheControl);
    }
    let shared_with_authorization = collected.allow_authorization || directives.allows_authorized();

    let verdict = check(
        engine,
        target,
        &parts,
        &body,
        &directives,
        policy,
        shared_with_authorization,
    );
    if let Err(reason) = verdict {
        let response = passed(parts, IsrBody::inner(body), target.head);
        return Admission::Pass { response, reason };
    }
    if target.path_rewritten {
        let response = passed(parts, IsrBody::inner(body), target.head);
        let reason = BypassReason::NonCanonicalPath;
        return Admission::Pass { response, reason };
    }

    let variance = Variance {
        headers: filters::vary_names(&parts.headers)
            .unwrap_or_default()
            .into(),
        query: collected.query.into(),
        cookies: collected.cookies.into(),
    };
    let key = if variance.is_empty() {
        Arc::clone(&target.primary)
    } else {
        let key = variance.key(
            &target.primary,
            target.query.as_deref(),
            &target.request_headers,
        );
        if key.len() > engine.config.key.max_len {
            // Huge values of a varying header must not make huge keys.
            let response = passed(parts, IsrBody::inner(body), target.head);
            let reason = BypassReason::Key(
                "cache key with its Vary headers, declared parameters and cookies is longer than the limit",
            );
            return Admission::Pass { response, reason };
        }
        Arc::from(key)
    };

    let encoded_by_app = parts.headers.get(CONTENT_ENCODING).cloned();
    let mut headers = parts.headers.clone();
    filters::strip_hop_by_hop(&mut headers);
    headers.remove(AGE);
    headers.remove(CacheStatus::HEADER);
    if let Some(window) = engine.config.downstream_swr {
        headers.insert(
            CACHE_CONTROL,
            engine.downstream_cache_control(policy.revalidate, window),
        );
    }
    let mut tags = collected.tags;
    if let Some(extra) = parts.extensions.get::<CacheTags>() {
        for tag in extra.as_slice() {
            if !tags.contains(tag) {
                tags.push(Arc::clone(tag));
            }
        }
    }
    let tags = checked_tags(tags, &key);
    let page = PendingEntry {
        primary: Arc::clone(&target.primary),
        vary: (!variance.is_empty()).then(|| Arc::new(variance)),
        key,
        path: target.path.clone(),
        route: collected.route.as_deref().map(crate::intern::string),
        status: parts.status,
        headers,
        encoded_by_app,
        rendered_at: started,
        revalidate: policy.revalidate,
        tags,
        shared_with_authorization,
    };

    // A body the application encoded is decoded before it is served to anyone, and a HEAD
    // visitor has no bytes to stream to: both wait for the whole body.
    let stream = stream && !target.head && page.encoded_by_app.is_none();
    // A body that was too large (or had trailers) last time is passed through without reading
    // it, until the key is forgotten (`uncacheable_memory`): no tee, no buffer for nothing.
    if let Some(reason @ (BypassReason::TooLarge | BypassReason::Trailers)) =
        engine.uncacheable_reason(&target.primary)
    {
        let response = passed(parts, IsrBody::inner(body), target.head);
        return Admission::Pass { response, reason };
    }
    let body = match read(body, engine.config.max_body_bytes, stream).await {
        Read::Complete(bytes) => bytes,
        Read::Pending { read, size, rest } => {
            let head = page.streamed_head(engine, parts);
            return Admission::Stream(Box::new(Streaming {
                page,
                head,
                read,
                size,
                rest,
            }));
        }
        Read::Overflow(replay, reason) => {
            let response = passed(parts, replay, target.head);
            return Admission::Pass { response, reason };
        }
        Read::Failed(replay) => {
            let response = passed(parts, replay, target.head);
            return Admission::Fail {
                response,
                failure: Failure::Body,
            };
        }
    };
    match page.finish(engine, body.clone()).await {
        Ok(entry) => Admission::Store(entry),
        Err(reason) => {
            // The application's own bytes go to the visitor, as it sent them.
            let response = passed(parts, IsrBody::full(body), target.head);
            Admission::Pass { response, reason }
        }
    }
}

impl PendingEntry {
    /// The entry with its body: the application's encoding read (on the blocking pool for a
    /// large body), the tag and `Last-Modified` set, and the encodings planned. `Err` when an
    /// encoded body cannot be read.
    pub(crate) async fn finish(
        self,
        engine: &Engine,
        body: Bytes,
    ) -> Result<Arc<Entry>, BypassReason> {
        let (primary, vary) = (Arc::clone(&self.primary), self.vary.clone());
        let compression = engine.config.compression.clone();
        let limit = engine.config.max_body_bytes;
        let size = body.len();
        let mut entry = if size > encode::INLINE_MAX
            && self.encoded_by_app.is_some()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            match tokio::task::spawn_blocking(move || self.build(&compression, limit, body)).await {
                Ok(entry) => entry?,
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            }
        } else {
            self.build(&compression, limit, body)?
        };
        entry.stored_at = engine.clock.now();
        engine.learn_vary(&primary, vary);
        Ok(Arc::new(entry))
    }

    fn build(
        self,
        compression: &Compression,
        limit: usize,
        body: Bytes,
    ) -> Result<Entry, BypassReason> {
        let Self {
            primary: _,
            vary: _,
            key,
            path,
            route,
            status,
            mut headers,
            encoded_by_app,
            rendered_at,
            revalidate,
            tags,
            shared_with_authorization,
        } = self;
        let body = match &encoded_by_app {
            None => body,
            Some(coding) => {
                let decoded =
                    encode::decode(coding, &body, limit).map_err(|failure| match failure {
                        DecodeFailure::TooLarge => BypassReason::TooLarge,
                        DecodeFailure::Unsupported => BypassReason::Encoding(
                            "the response's Content-Encoding is not one the cache reads",
                        ),
                        DecodeFailure::Corrupt => BypassReason::Encoding(
                            "the response body does not decode in its Content-Encoding",
                        ),
                    })?;
                // The application's tag named its encoded bytes, not the page.
                headers.remove(CONTENT_ENCODING);
                headers.remove(ETAG);
                decoded
            }
        };
        let etag = match headers.get(ETAG) {
            Some(etag) => etag.clone(),
            None => {
                let etag = strong_etag(&body);
                headers.insert(ETAG, etag.clone());
                etag
            }
        };
        let last_modified = match last_modified_secs(&headers) {
            Some(secs) => secs,
            None => {
                let secs = rendered_at / 1_000_000;
                headers.insert(LAST_MODIFIED, crate::head::http_date(secs));
                secs
            }
        };
        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let encoded: Box<[Encoding]> = compression
            .plan(content_type, body.len())
            .map(|(coding, level)| Encoding::planned(coding, level))
            .collect();
        if !encoded.is_empty() {
            add_vary_accept_encoding(&mut headers);
        }
        let last_modified_value = headers.get(LAST_MODIFIED).cloned();
        let (head, head_shared) = Head::of_page(headers);

        Ok(Entry {
            key,
            path,
            route,
            status,
            head,
            head_shared,
            content_length: integer_value(body.len() as u64),
            body,
            etag,
            rendered_at,
            stored_at: rendered_at,
            revalidate,
            tags,
            shared_with_authorization,
            failures: Default::default(),
            encoded,
            last_modified: Some(last_modified),
            last_modified_value,
            converted: Default::default(),
        })
    }

    /// The head of a streamed `MISS`: the application's, with the cache's headers. The body
    /// goes out as the application makes it, as identity.
    fn streamed_head(
        &self,
        engine: &Engine,
        mut parts: http::response::Parts,
    ) -> http::response::Parts {
        let headers = &mut parts.headers;
        headers.remove(CacheStatus::HEADER);
        if let Some(value) = self.headers.get(CACHE_CONTROL) {
            headers.insert(CACHE_CONTROL, value.clone());
        }
        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if engine
            .config
            .compression
            .plan(content_type, usize::MAX)
            .next()
            .is_some()
        {
            add_vary_accept_encoding(headers);
        }
        headers.insert(AGE, integer_value(0));
        headers.insert(CacheStatus::HEADER, CacheStatus::Miss.header_value());
        parts
    }
}

/// Adds `accept-encoding` to `Vary` unless it is named already.
fn add_vary_accept_encoding(headers: &mut HeaderMap) {
    let named = headers.get_all(VARY).iter().any(|value| {
        value.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|name| name.trim().eq_ignore_ascii_case("accept-encoding"))
        })
    });
    if !named {
        headers.append(VARY, HeaderValue::from_static("accept-encoding"));
    }
}

/// Every rule a response must pass to be stored, in the order the debug log reports them.
fn check<B: Body>(
    engine: &Engine,
    target: &RenderTarget,
    parts: &http::response::Parts,
    body: &B,
    directives: &Directives,
    policy: Resolved,
    shared_with_authorization: bool,
) -> Result<(), BypassReason> {
    filters::check_response_headers(parts.status, &parts.headers, directives)?;
    if policy.revalidate.is_dynamic() {
        return Err(BypassReason::Dynamic(policy.source));
    }
    if target.authorized && !shared_with_authorization {
        return Err(BypassReason::Authorization);
    }
    let declared = content_length(&parts.headers).unwrap_or(0);
    if body.size_hint().lower().max(declared) > engine.config.max_body_bytes as u64 {
        return Err(BypassReason::TooLarge);
    }
    Ok(())
}

/// A response passed to the visitor as the inner service made it, marked `BYPASS`.
fn passed<B: Body<Data = Bytes>>(
    mut parts: http::response::Parts,
    body: IsrBody<B>,
    head: bool,
) -> Response<IsrBody<B>> {
    parts
        .headers
        .insert(CacheStatus::HEADER, CacheStatus::Bypass.header_value());
    if !head {
        return Response::from_parts(parts, body);
    }
    // The answer to `HEAD` has no body but announces the page's length, as the GET would.
    if !parts.headers.contains_key(CONTENT_LENGTH)
        && let Some(len) = body.size_hint().exact()
    {
        parts.headers.insert(CONTENT_LENGTH, integer_value(len));
    }
    Response::from_parts(parts, IsrBody::empty())
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// A body read whole (for the data cache).
pub(crate) enum Buffered<B: Body> {
    Complete(Bytes),
    /// Past the limit, or trailers: what was read followed by the rest.
    Overflow(IsrBody<B>),
    Failed(IsrBody<B>),
}

/// Reads the body up to `limit` bytes (see [`read`]).
pub(crate) async fn buffer<B>(body: B, limit: usize) -> Buffered<B>
where
    B: Body<Data = Bytes>,
{
    match read(body, limit, false).await {
        Read::Complete(bytes) => Buffered::Complete(bytes),
        Read::Overflow(replay, _) => Buffered::Overflow(replay),
        Read::Failed(replay) => Buffered::Failed(replay),
        // Not reached: `read` waits for the whole body when asked to.
        Read::Pending { read, rest, .. } => {
            Buffered::Overflow(IsrBody::replay(read, None, Some(rest)))
        }
    }
}

/// How far a body was read.
pub(crate) enum Read<B: Body> {
    /// All of it, in one exact-size buffer.
    Complete(Bytes),
    /// The body paused (only when reading without waiting): what was read, and the rest.
    Pending {
        read: VecDeque<Frame<Bytes>>,
        size: usize,
        rest: Pin<Box<B>>,
    },
    /// Past the limit, or trailers: what was read followed by the rest of the stream.
    Overflow(IsrBody<B>, BypassReason),
    /// The body failed: what was read, then the error.
    Failed(IsrBody<B>),
}

/// Reads the body up to `limit` bytes. Past the limit (or at trailers) it stops reading and
/// hands back what it read followed by the rest of the stream, so nothing is buffered beyond
/// the limit and nothing is lost. With `without_waiting`, it reads only the frames that are
/// ready and hands back the rest as soon as the body would make it wait.
pub(crate) async fn read<B>(body: B, limit: usize, without_waiting: bool) -> Read<B>
where
    B: Body<Data = Bytes>,
{
    let mut body = Box::pin(body);
    let mut chunks: VecDeque<Frame<Bytes>> = VecDeque::new();
    let mut size = 0usize;
    loop {
        let frame = if without_waiting {
            let ready = std::future::poll_fn(|cx| {
                std::task::Poll::Ready(match body.as_mut().poll_frame(cx) {
                    std::task::Poll::Ready(frame) => Some(frame),
                    std::task::Poll::Pending => None,
                })
            })
            .await;
            match ready {
                Some(frame) => frame,
                None => {
                    return Read::Pending {
                        read: chunks,
                        size,
                        rest: body,
                    };
                }
            }
        } else {
            body.frame().await
        };
        match frame {
            None => break,
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    size += data.len();
                    chunks.push_back(frame);
                    if size > limit {
                        return Read::Overflow(
                            IsrBody::replay(chunks, None, Some(body)),
                            BypassReason::TooLarge,
                        );
                    }
                } else {
                    chunks.push_back(frame);
                    return Read::Overflow(
                        IsrBody::replay(chunks, None, Some(body)),
                        BypassReason::Trailers,
                    );
                }
            }
            Some(Err(error)) => {
                return Read::Failed(IsrBody::replay(chunks, Some(error), None));
            }
        }
    }
    Read::Complete(concat(
        chunks.into_iter().filter_map(|f| f.into_data().ok()),
        size,
    ))
}

/// Always one exact-size copy: a body frame may share an allocation much larger than itself
/// (a `String`'s spare capacity, a read buffer), and a cached body would keep all of it alive
/// for as long as the entry lives, unseen by the store's byte bound.
pub(crate) fn concat(chunks: impl Iterator<Item = Bytes>, size: usize) -> Bytes {
    let mut all = BytesMut::with_capacity(size);
    for data in chunks {
        all.extend_from_slice(&data);
    }
    all.freeze()
}

fn strong_etag(body: &[u8]) -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hash = xxhash_rust::xxh3::xxh3_128(body);
    // `"` + 32 hex digits + `"`, written in place: this runs on every stored render.
    let mut tag = [b'"'; 34];
    for (i, digit) in tag[1..33].iter_mut().enumerate() {
        *digit = HEX[((hash >> (124 - 4 * i)) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&tag).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// `Cache-Control` for caches in front of this one (a CDN), so they behave the same.
pub(crate) fn downstream_cache_control(revalidate: Revalidate, window: Duration) -> HeaderValue {
    const YEAR: u64 = 31_536_000;
    let max_age = match revalidate {
        Revalidate::After(ttl) => ttl.as_secs().max(1),
        Revalidate::Never | Revalidate::Dynamic => YEAR,
    };
    let value = if window.is_zero() || revalidate == Revalidate::Never {
        format!("s-maxage={max_age}")
    } else {
        format!(
            "s-maxage={max_age}, stale-while-revalidate={}",
            window.as_secs()
        )
    };
    HeaderValue::try_from(value).unwrap_or(HeaderValue::from_static("s-maxage=0"))
}

/// Applies the tag limits: empty and over-long tags, and tags past the count limit, are
/// dropped with a warning.
pub(crate) fn checked_tags(tags: Vec<Arc<str>>, key: &str) -> Box<[Arc<str>]> {
    let mut kept = Vec::with_capacity(tags.len().min(MAX_TAGS_PER_ENTRY));
    for tag in tags {
        if validate_tag(&tag).is_err() {
            tracing::warn!(target: "isr", key, tag = %tag, "dropped a tag that is empty or longer than {MAX_TAG_LEN} bytes");
        } else if kept.len() >= MAX_TAGS_PER_ENTRY {
            tracing::warn!(target: "isr", key, tag = %tag, "dropped a tag past the limit of {MAX_TAGS_PER_ENTRY} per entry");
        } else {
            kept.push(crate::intern::string(&tag));
        }
    }
    kept.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downstream_cache_control_follows_the_policy() {
        let w = Duration::from_secs(86_400);
        assert_eq!(
            downstream_cache_control(Revalidate::secs(60), w),
            "s-maxage=60, stale-while-revalidate=86400"
        );
        assert_eq!(
            downstream_cache_control(Revalidate::Never, w),
            "s-maxage=31536000"
        );
        assert_eq!(
            downstream_cache_control(Revalidate::secs(60), Duration::ZERO),
            "s-maxage=60"
        );
    }

    #[test]
    fn tag_limits_drop_without_panicking() {
        let mut tags: Vec<Arc<str>> = (0..200).map(|i| Arc::from(format!("t{i}"))).collect();
        tags.push(Arc::from(""));
        tags.insert(0, Arc::from("x".repeat(300)));
        let kept = checked_tags(tags, "/k");
        assert_eq!(kept.len(), MAX_TAGS_PER_ENTRY);
        assert_eq!(&*kept[0], "t0");
    }

    #[test]
    fn etags_are_strong_and_stable() {
        assert_eq!(strong_etag(b"hello"), strong_etag(b"hello"));
        assert_ne!(strong_etag(b"hello"), strong_etag(b"hellO"));
        assert!(!strong_etag(b"x").to_str().unwrap().starts_with("W/"));
        // Every digit of the 128-bit hash, most significant first.
        for body in [&b"hello"[..], b"", b"<html>a page</html>"] {
            let hash = xxhash_rust::xxh3::xxh3_128(body);
            assert_eq!(strong_etag(body), format!("\"{hash:032x}\"").as_str());
        }
    }
}
