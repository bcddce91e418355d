//! The cache inspector: a page in the browser showing what the cache holds and does, for
//! operators ("trust, but verify").
//!
//! [`Inspector::answer`] takes a request's method, URI and headers and a way to read its body,
//! like the purge endpoint, and gives the [`InspectorReply`] to send; `isr-axum` and
//! `isr-actix-adapter` mount it with one call. Under its path (`/_isr` in the examples):
//!
//! - `GET /_isr` — the sign-in form, or, signed in, the page: the summary (entries, bytes
//!   against the cap, hit ratio since start and over the last minute, renders, failed renders,
//!   deferred regenerations, the store and whether it answers since when), the last purges
//!   with their origin, the **not cached** panel (routes whose answers bypassed the cache
//!   lately, with the reason and a count), and the entries (filtered by `?state=`, `?tag=`,
//!   `?route=`, 50 per `?page=`) with a purge button each. A small script refreshes the
//!   summary every 5 seconds from `GET /_isr/figures` (JSON).
//! - `POST /_isr/sign-in` — a form with the revalidation secret. A wrong secret gets the form
//!   again with an error (`401`); after five wrong secrets in a minute, sign-in is refused
//!   (`429`) until the oldest leaves the minute. The right one sets a session cookie
//!   (`HttpOnly`, `SameSite=Strict`, signed with a key derived from the secret, expiring after
//!   an hour; never the secret itself) and redirects to the page.
//! - `POST /_isr/purge` — revalidates a path, a layout or a tag (`expire` or `stale`), from
//!   the page's forms: signed in, with the session's CSRF token.
//! - `POST /_isr/sign-out` — clears the session cookie in the browser (with its CSRF token).
//!   Sessions are not stored on the server: a copy of the cookie stays valid until it expires
//!   (an hour at most), and changing the secret ends every session.
//!
//! Every answer carries `Cache-Control: no-store, private` and a restrictive
//! `Content-Security-Policy`; mount the inspector beside the cache, not under it. The session
//! cookie is `Secure` behind a proxy that sends `X-Forwarded-Proto: https`, or always with
//! [`Inspector::secure_cookies`].
//!
//! What it shows is this instance's: the entries held in its memory, its counters, the bypasses
//! it answered, and the purges announced in this process (made by its code, its purge endpoint
//! or its inspector; a purge arriving from another instance through Redis applies here but is
//! not listed). The bound on wrong secrets is one for all visitors: it keeps guessing slow, and
//! someone sending wrong secrets can keep sign-in closed, never open it. Hits are not counted
//! per entry: that would put a shared write on every hit.

mod session;
mod view;

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, StatusCode, Uri};
use serde::Deserialize;
use tokio::sync::broadcast;

use self::session::{COOKIE, SESSION_SECS, Session, Sessions, SignInLimit};
use self::view::{Pages, Sample};
use crate::Revalidator;
use crate::invalidate::{Invalidation, InvalidationMode, Origin, PathScope};
use crate::purge::{BodyError, PurgeAuth};

/// The largest form body read.
const MAX_FORM_BODY: usize = 16 * 1024;

/// How many purges the page lists.
const PURGES_SHOWN: usize = 10;

/// Why an [`Inspector`] could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InspectorError {
    /// The path to mount it at is not `/` followed by letters, digits, `-`, `_`, `.` and `/`.
    #[error(
        "the inspector's path must start with / and hold only letters, digits, -, _, . and /: {0:?}"
    )]
    Path(String),
}

/// The cache inspector of one cache: its revalidator, secret, sessions and recent history.
///
/// Cheap to clone (an `Arc`); clones share sessions, the sign-in bound and the history.
#[derive(Clone, Debug)]
pub struct Inspector {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    base: String,
    revalidator: Revalidator,
    auth: PurgeAuth,
    sessions: Sessions,
    sign_in: SignInLimit,
    /// Invalidations announced since the inspector was made, newest last.
    purges: Mutex<(broadcast::Receiver<Invalidation>, VecDeque<Invalidation>)>,
    /// The counters as the figures were last read, for the last minute's hit ratio.
    samples: Mutex<VecDeque<Sample>>,
    pages: Pages,
    /// Whether the session cookie is always `Secure` (else only behind HTTPS that says so).
    secure: AtomicBool,
}

/// The answer to one request of the inspector: status, headers and body.
#[derive(Clone, Debug)]
pub struct InspectorReply {
    /// The status code.
    pub status: StatusCode,
    /// Every header to send (content type, `no-store`, cookies, redirects).
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

#[derive(Debug, Default, Deserialize)]
struct SignInForm {
    #[serde(default)]
    secret: String,
}

/// The purge form (the sign-out form is its `csrf` alone).
#[derive(Debug, Default, Deserialize)]
struct PurgeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    mode: String,
}

/// The query of the page: filters, page number and the message of the last action.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    pub(crate) state: Option<String>,
    pub(crate) tag: Option<String>,
    pub(crate) route: Option<String>,
    pub(crate) page: Option<usize>,
    pub(crate) done: Option<String>,
}

impl Inspector {
    /// An inspector mounted at `path` (e.g. `"/_isr"`), reading and purging the cache of
    /// `revalidator` (its purges are announced with the origin `inspector`), signed in to with
    /// the secret of `auth`.
    pub fn new(
        path: &str,
        revalidator: Revalidator,
        auth: PurgeAuth,
    ) -> Result<Self, InspectorError> {
        let base = path.trim_end_matches('/');
        let valid = path.starts_with('/')
            && base
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
        if !valid {
            return Err(InspectorError::Path(path.to_owned()));
        }
        let revalidator = revalidator.with_origin(Origin::Inspector);
        let purges = Mutex::new((revalidator.subscribe(), VecDeque::new()));
        Ok(Self {
            inner: Arc::new(Inner {
                base: base.to_owned(),
                sessions: Sessions::new(&auth),
                auth,
                revalidator,
                sign_in: SignInLimit::default(),
                purges,
                samples: Mutex::default(),
                pages: Pages::new(),
                secure: AtomicBool::new(false),
            }),
        })
    }

    /// Marks the session cookie `Secure` on every sign-in: for an app that terminates TLS
    /// itself. Without it the cookie is `Secure` when the request says it came over HTTPS
    /// (`X-Forwarded-Proto: https`, as a TLS-terminating proxy sends), and plain otherwise, so
    /// that the inspector also works on `http://127.0.0.1`.
    pub fn secure_cookies(self, always: bool) -> Self {
        self.inner.secure.store(always, Ordering::Relaxed);
        self
    }

    /// The path it is mounted at, without a trailing `/` (empty for the root).
    pub fn path(&self) -> &str {
        &self.inner.base
    }

    /// Whether `path` is the inspector's (its page or one of its actions).
    pub fn owns(&self, path: &str) -> bool {
        let base = self.path();
        path == base
            || path
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('/'))
    }

    /// Answers one request. `read_body(limit)` reads the body, failing with
    /// [`BodyError::TooLarge`] past `limit` bytes; it is only called for a `POST` form.
    pub async fn answer<F, Fut>(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        read_body: F,
    ) -> InspectorReply
    where
        F: FnOnce(usize) -> Fut,
        Fut: Future<Output = Result<Bytes, BodyError>>,
    {
        let base = self.path();
        let Some(action) = uri.path().strip_prefix(base) else {
            return text(StatusCode::NOT_FOUND, "not the inspector's path");
        };
        match (action, method) {
            ("" | "/", &Method::GET | &Method::HEAD) => {
                self.page_off_the_runtime(uri, headers).await
            }
            ("/figures", &Method::GET) => self.figures(headers),
            ("/sign-in", &Method::POST) => self.sign_in(headers, read_body).await,
            ("/purge", &Method::POST) => self.purge(headers, read_body).await,
            ("/sign-out", &Method::POST) => self.sign_out(headers, read_body).await,
            ("" | "/" | "/figures", _) => method_not_allowed("GET"),
            ("/sign-in" | "/purge" | "/sign-out", _) => method_not_allowed("POST"),
            _ => text(StatusCode::NOT_FOUND, "no such page of the inspector"),
        }
    }

    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let now = unix_secs();
        cookies(headers, COOKIE).find_map(|value| self.inner.sessions.verify(value, now))
    }

    /// [`page`](Self::page) on the blocking pool: with many entries the listing takes tens of
    /// milliseconds, which must not hold a runtime worker (actix runs a whole worker on one).
    async fn page_off_the_runtime(&self, uri: &Uri, headers: &HeaderMap) -> InspectorReply {
        let (this, uri, headers) = (self.clone(), uri.clone(), headers.clone());
        tokio::task::spawn_blocking(move || this.page(&uri, &headers, None))
            .await
            .unwrap_or_else(|_| {
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the inspector's page could not be built",
                )
            })
    }

    fn page(&self, uri: &Uri, headers: &HeaderMap, error: Option<String>) -> InspectorReply {
        let Some(session) = self.session(headers) else {
            return self.sign_in_form(StatusCode::OK, None);
        };
        let (query, bad_query) =
            match serde_urlencoded::from_str::<PageQuery>(uri.query().unwrap_or("")) {
                Ok(query) => (query, None),
                Err(e) => (PageQuery::default(), Some(format!("bad query: {e}"))),
            };
        let csrf = self.inner.sessions.csrf(&session);
        let purges = self.recent_purges();
        let figures = self.sample_figures();
        let (status, html) = self.inner.pages.dashboard(
            &self.inner.base,
            &self.inner.revalidator,
            &query,
            error.or(bad_query),
            &csrf,
            &figures,
            &purges,
        );
        html_reply(status, html)
    }

    fn figures(&self, headers: &HeaderMap) -> InspectorReply {
        if self.session(headers).is_none() {
            return json_reply(
                StatusCode::UNAUTHORIZED,
                serde_json::json!({ "error": "sign in first" }),
            );
        }
        let figures = self.sample_figures();
        json_reply(
            StatusCode::OK,
            serde_json::to_value(&figures).unwrap_or_default(),
        )
    }

    async fn sign_in<F, Fut>(&self, headers: &HeaderMap, read_body: F) -> InspectorReply
    where
        F: FnOnce(usize) -> Fut,
        Fut: Future<Output = Result<Bytes, BodyError>>,
    {
        let form: SignInForm = match read_form(headers, read_body).await {
            Ok(form) => form,
            Err(reply) => return reply,
        };
        match self
            .inner
            .sign_in
            .attempt(|| self.inner.auth.verify(&form.secret))
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(target: "isr", "inspector: a wrong secret was given");
                return self.sign_in_form(
                    StatusCode::UNAUTHORIZED,
                    Some("That is not the revalidation secret.".to_owned()),
                );
            }
            Err(wait) => {
                let message = format!(
                    "Too many wrong secrets: try again in {} s.",
                    wait.as_secs().max(1)
                );
                return self.sign_in_form(StatusCode::TOO_MANY_REQUESTS, Some(message));
            }
        }
        let Some(cookie) = self.inner.sessions.open(unix_secs()) else {
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "no randomness available for a session",
            );
        };
        let mut reply = redirect(&self.page_url(None));
        self.set_cookie(&mut reply, headers, &cookie, SESSION_SECS);
        reply
    }

    async fn sign_out<F, Fut>(&self, headers: &HeaderMap, read_body: F) -> InspectorReply
    where
        F: FnOnce(usize) -> Fut,
        Fut: Future<Output = Result<Bytes, BodyError>>,
    {
        if self.session(headers).is_none() {
            return redirect(&self.page_url(None));
        }
        if let Err(reply) = self.signed_form(headers, read_body).await {
            return reply;
        }
        let mut reply = redirect(&self.page_url(None));
        self.set_cookie(&mut reply, headers, "", 0);
        reply
    }

    /// The form of a signed-in visitor's `POST`, if it carries the session's CSRF token.
    async fn signed_form<F, Fut>(
        &self,
        headers: &HeaderMap,
        read_body: F,
    ) -> Result<PurgeForm, InspectorReply>
    where
        F: FnOnce(usize) -> Fut,
        Fut: Future<Output = Result<Bytes, BodyError>>,
    {
        let Some(session) = self.session(headers) else {
            return Err(
                self.sign_in_form(StatusCode::UNAUTHORIZED, Some("Sign in first.".to_owned()))
            );
        };
        let form: PurgeForm = read_form(headers, read_body).await?;
        if !self.inner.sessions.csrf_matches(&session, &form.csrf) {
            return Err(text(
                StatusCode::FORBIDDEN,
                "the form's CSRF token is not this session's",
            ));
        }
        Ok(form)
    }

    async fn purge<F, Fut>(&self, headers: &HeaderMap, read_body: F) -> InspectorReply
    where
        F: FnOnce(usize) -> Fut,
        Fut: Future<Output = Result<Bytes, BodyError>>,
    {
        let form: PurgeForm = match self.signed_form(headers, read_body).await {
            Ok(form) => form,
            Err(reply) => return reply,
        };
        let mode = match form.mode.as_str() {
            "" => InvalidationMode::Expire,
            name => match InvalidationMode::from_name(name) {
                Some(mode) => mode,
                None => {
                    return self.purge_refused(headers, format!("unknown mode {name:?}"));
                }
            },
        };
        let target = form.target.trim();
        let revalidator = &self.inner.revalidator;
        let result = match form.kind.as_str() {
            "path" => {
                revalidator
                    .revalidate_path_scoped(target, PathScope::Page, mode)
                    .await
            }
            "layout" => {
                revalidator
                    .revalidate_path_scoped(target, PathScope::Layout, mode)
                    .await
            }
            "tag" => revalidator.revalidate_tag_with(target, mode).await,
            other => {
                return self.purge_refused(
                    headers,
                    format!("unknown kind {other:?}: expected path, layout or tag"),
                );
            }
        };
        match result {
            Ok(_) => {
                let done = format!("Revalidated {} {target} ({}).", form.kind, mode.as_str());
                redirect(&self.page_url(Some(&done)))
            }
            Err(e) => self.purge_refused(headers, e.to_string()),
        }
    }

    /// The page again, with why a purge was refused (`400`).
    fn purge_refused(&self, headers: &HeaderMap, why: String) -> InspectorReply {
        let mut reply = self.page(&Uri::from_static("/"), headers, Some(why));
        reply.status = StatusCode::BAD_REQUEST;
        reply
    }

    fn sign_in_form(&self, status: StatusCode, error: Option<String>) -> InspectorReply {
        html_reply(status, self.inner.pages.sign_in(&self.inner.base, error))
    }

    /// The page's path (`/` for an inspector at the root): redirects and the cookie's `Path`.
    fn page_path(&self) -> &str {
        if self.inner.base.is_empty() {
            "/"
        } else {
            &self.inner.base
        }
    }

    fn page_url(&self, done: Option<&str>) -> String {
        let base = self.page_path();
        match done {
            None => base.to_owned(),
            Some(done) => format!(
                "{base}?{}",
                serde_urlencoded::to_string([("done", done)]).unwrap_or_default()
            ),
        }
    }

    fn set_cookie(&self, reply: &mut InspectorReply, headers: &HeaderMap, value: &str, age: u64) {
        let path = self.page_path();
        let secure = if self.inner.secure.load(Ordering::Relaxed) || is_https(headers) {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{COOKIE}={value}; Path={path}; Max-Age={age}; HttpOnly; SameSite=Strict{secure}"
        );
        if let Ok(cookie) = HeaderValue::try_from(cookie) {
            reply.headers.append(header::SET_COOKIE, cookie);
        }
    }

    /// The invalidations announced so far (newest first), kept across requests.
    fn recent_purges(&self) -> Vec<Invalidation> {
        let mut purges = self
            .inner
            .purges
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (receiver, kept) = &mut *purges;
        loop {
            match receiver.try_recv() {
                Ok(invalidation) => {
                    kept.push_back(invalidation);
                    if kept.len() > PURGES_SHOWN {
                        kept.pop_front();
                    }
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
        kept.iter().rev().cloned().collect()
    }

    /// The summary now, and the last minute's hit ratio from the samples of earlier reads.
    fn sample_figures(&self) -> view::Figures {
        let stats = self.inner.revalidator.stats();
        let store = self.inner.revalidator.store_status();
        let sample = Sample::of(&stats);
        let mut samples = self
            .inner
            .samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let figures = view::Figures::new(&stats, &store, sample, &samples);
        samples.push_back(sample);
        // Keep what the last minute needs: drop samples older than a minute, but one.
        while samples.len() > 1 && samples[1].at.elapsed() >= view::MINUTE {
            samples.pop_front();
        }
        if samples.len() > 1_000 {
            samples.pop_front();
        }
        figures
    }
}

async fn read_form<T, F, Fut>(headers: &HeaderMap, read_body: F) -> Result<T, InspectorReply>
where
    T: serde::de::DeserializeOwned,
    F: FnOnce(usize) -> Fut,
    Fut: Future<Output = Result<Bytes, BodyError>>,
{
    let is_form = crate::purge::media_type(headers)
        .is_some_and(|mime| mime.eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be a form (application/x-www-form-urlencoded)",
        ));
    }
    let body = match read_body(MAX_FORM_BODY).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return Err(text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the form is larger than 16 KiB",
            ));
        }
        Err(BodyError::Broken) => {
            return Err(text(StatusCode::BAD_REQUEST, "the form could not be read"));
        }
    };
    serde_urlencoded::from_bytes(&body)
        .map_err(|e| text(StatusCode::BAD_REQUEST, &format!("malformed form: {e}")))
}

/// The values of the cookie `name` in every `Cookie` line.
fn cookies<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|line| line.to_str().ok())
        .filter_map(move |line| crate::key::cookie_in(line, name))
}

/// Whether the visitor reached the app over HTTPS (directly or through a proxy saying so).
fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"))
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

fn base_headers(content_type: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    crate::purge::never_cached(&mut headers);
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
}

fn html_reply(status: StatusCode, html: String) -> InspectorReply {
    InspectorReply {
        status,
        headers: base_headers("text/html; charset=utf-8"),
        body: Bytes::from(html),
    }
}

fn json_reply(status: StatusCode, body: serde_json::Value) -> InspectorReply {
    InspectorReply {
        status,
        headers: base_headers("application/json"),
        body: Bytes::from(body.to_string()),
    }
}

fn text(status: StatusCode, message: &str) -> InspectorReply {
    InspectorReply {
        status,
        headers: base_headers("text/plain; charset=utf-8"),
        body: Bytes::from(format!("{message}\n")),
    }
}

fn method_not_allowed(allow: &'static str) -> InspectorReply {
    let mut reply = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here");
    reply
        .headers
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    reply
}

/// `303 See Other` to `location` (after a form, the browser asks for the page with `GET`).
fn redirect(location: &str) -> InspectorReply {
    let mut reply = text(StatusCode::SEE_OTHER, "see the page");
    if let Ok(location) = HeaderValue::try_from(location) {
        reply.headers.insert(header::LOCATION, location);
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IsrLayer;

    const SECRET: &str = "unit-inspector-secret";

    fn inspector(path: &str) -> Result<Inspector, InspectorError> {
        Inspector::new(
            path,
            IsrLayer::new().revalidator(),
            PurgeAuth::new(SECRET).unwrap(),
        )
    }

    async fn sign_in(inspector: &Inspector, extra: Option<(&'static str, &'static str)>) -> String {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        if let Some((name, value)) = extra {
            headers.insert(name, HeaderValue::from_static(value));
        }
        let reply = inspector
            .answer(
                &Method::POST,
                &Uri::from_static("/_isr/sign-in"),
                &headers,
                |_| async { Ok(Bytes::from(format!("secret={SECRET}"))) },
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        reply.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[tokio::test]
    async fn the_cookie_is_secure_behind_https_or_when_asked() {
        let plain = inspector("/_isr").unwrap();
        assert!(!sign_in(&plain, None).await.contains("Secure"));
        let proxied = sign_in(&plain, Some(("x-forwarded-proto", "https"))).await;
        assert!(proxied.ends_with("; Secure"), "{proxied}");
        let always = inspector("/_isr").unwrap().secure_cookies(true);
        assert!(sign_in(&always, None).await.ends_with("; Secure"));
    }

    #[test]
    fn the_path_is_checked_and_owned_with_what_is_under_it() {
        for bad in ["_isr", "/a b", "/<script>", "/\"x", ""] {
            assert_eq!(
                inspector(bad).unwrap_err(),
                InspectorError::Path(bad.to_owned())
            );
        }
        let at = inspector("/ops/_isr/").unwrap();
        assert_eq!(at.path(), "/ops/_isr");
        assert!(at.owns("/ops/_isr") && at.owns("/ops/_isr/") && at.owns("/ops/_isr/purge"));
        assert!(!at.owns("/ops/_isrx") && !at.owns("/ops") && !at.owns("/"));
        let root = inspector("/").unwrap();
        assert_eq!(root.path(), "");
        assert!(root.owns("/") && root.owns("/purge"));
    }

    #[test]
    fn cookies_are_read_from_every_cookie_line() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; isr_inspector=x"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("isr_inspector=y"));
        let found: Vec<_> = cookies(&headers, COOKIE).collect();
        assert_eq!(found, ["x", "y"]);
    }
}
