//! Admission: what happens to a rendered response — stored, passed through, or a failure.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{AGE, CACHE_CONTROL, CONTENT_LENGTH, ETAG};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::BodyExt;

use super::{CacheStatus, Engine};
use crate::body::IsrBody;
use crate::clock::Micros;
use crate::entry::Entry;
use crate::filters::{self, BypassReason, Directives};
use crate::invalidate::{MAX_TAG_LEN, MAX_TAGS_PER_ENTRY};
use crate::key::variant_key;
use crate::policy::{CacheTags, Collection, PolicySource, Resolved, Revalidate};

/// What a render is for.
#[derive(Clone, Debug)]
pub(crate) struct RenderTarget {
    /// The key before `Vary` is applied.
    pub(crate) primary: Arc<str>,
    /// Where the canonical path sits in `primary`, for implicit path tags.
    pub(crate) path: Range<usize>,
    /// The request headers, for `Vary` variant keys.
    pub(crate) request_headers: HeaderMap,
    /// The request carried `Authorization`.
    pub(crate) authorized: bool,
    /// The visitor who asked sent `HEAD`: a passed-through body is dropped.
    pub(crate) head: bool,
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

/// Decides what to do with `response`, buffering its body when it is to be stored.
pub(crate) async fn admit<B>(
    engine: &Engine,
    target: &RenderTarget,
    started: Micros,
    collected: Collection,
    response: Response<B>,
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

    let body = match buffer(body, engine.config.max_body_bytes).await {
        Buffered::Complete(bytes) => bytes,
        Buffered::Overflow(replay, reason) => {
            let response = passed(parts, replay, target.head);
            return Admission::Pass { response, reason };
        }
        Buffered::Failed(replay) => {
            let response = passed(parts, replay, target.head);
            return Admission::Fail {
                response,
                failure: Failure::Body,
            };
        }
    };

    let vary = filters::vary_names(&parts.headers).unwrap_or_default();
    let key = if vary.is_empty() {
        engine.learn_vary(&target.primary, None);
        Arc::clone(&target.primary)
    } else {
        let key = variant_key(&target.primary, &vary, &target.request_headers);
        if key.len() > engine.config.key.max_len {
            // Huge values of a varying header must not make huge keys.
            let response = passed(parts, IsrBody::full(body), target.head);
            let reason =
                BypassReason::Key("cache key with its Vary headers is longer than the limit");
            return Admission::Pass { response, reason };
        }
        engine.learn_vary(&target.primary, Some(vary.into()));
        Arc::from(key)
    };

    let mut headers = parts.headers;
    filters::strip_hop_by_hop(&mut headers);
    headers.remove(AGE);
    headers.remove(CacheStatus::HEADER);
    let etag = match headers.get(ETAG) {
        Some(etag) => etag.clone(),
        None => {
            let etag = strong_etag(&body);
            headers.insert(ETAG, etag.clone());
            etag
        }
    };
    headers.insert(CONTENT_LENGTH, super::integer_value(body.len() as u64));
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

    Admission::Store(Arc::new(Entry {
        key,
        path: target.path.clone(),
        route: collected.route,
        status: parts.status,
        headers,
        body,
        etag,
        rendered_at: started,
        stored_at: engine.clock.now(),
        revalidate: policy.revalidate,
        tags,
        shared_with_authorization,
        failures: Default::default(),
    }))
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
        parts
            .headers
            .insert(CONTENT_LENGTH, super::integer_value(len));
    }
    Response::from_parts(parts, IsrBody::empty())
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

pub(crate) enum Buffered<B: Body> {
    Complete(Bytes),
    Overflow(IsrBody<B>, BypassReason),
    Failed(IsrBody<B>),
}

/// Reads the body up to `limit` bytes. Past the limit (or at trailers) it stops reading and
/// hands back what it read followed by the rest of the stream, so nothing is buffered beyond
/// the limit and nothing is lost.
pub(crate) async fn buffer<B>(body: B, limit: usize) -> Buffered<B>
where
    B: Body<Data = Bytes>,
{
    let mut body = Box::pin(body);
    let mut chunks: VecDeque<Frame<Bytes>> = VecDeque::new();
    let mut size = 0usize;
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    size += data.len();
                    chunks.push_back(frame);
                    if size > limit {
                        return Buffered::Overflow(
                            IsrBody::replay(chunks, None, Some(body)),
                            BypassReason::TooLarge,
                        );
                    }
                } else {
                    chunks.push_back(frame);
                    return Buffered::Overflow(
                        IsrBody::replay(chunks, None, Some(body)),
                        BypassReason::Trailers,
                    );
                }
            }
            Some(Err(error)) => {
                return Buffered::Failed(IsrBody::replay(chunks, Some(error), None));
            }
        }
    }
    // Always one exact-size copy: a body frame may share an allocation much larger than itself
    // (a `String`'s spare capacity, a read buffer), and a cached body would keep all of it
    // alive for as long as the entry lives, unseen by the store's byte bound.
    let mut all = BytesMut::with_capacity(size);
    for frame in chunks {
        if let Ok(data) = frame.into_data() {
            all.extend_from_slice(&data);
        }
    }
    let bytes = all.freeze();
    Buffered::Complete(bytes)
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
        if tag.is_empty() || tag.len() > MAX_TAG_LEN {
            tracing::warn!(target: "isr", key, tag = %tag, "dropped a tag that is empty or longer than {MAX_TAG_LEN} bytes");
        } else if kept.len() >= MAX_TAGS_PER_ENTRY {
            tracing::warn!(target: "isr", key, tag = %tag, "dropped a tag past the limit of {MAX_TAGS_PER_ENTRY} per entry");
        } else {
            kept.push(tag);
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
    }
}
