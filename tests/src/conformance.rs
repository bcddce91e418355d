//! One app, two frameworks: the routes the conformance suite drives, served by axum (the tower
//! `IsrLayer`) and by actix-web (`IsrActix`) over real HTTP, both rendering from one
//! [`Origin`] that counts renders and can be told to fail.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::Service as _;
use isr_layer::purge::PurgeAuth;
use isr_layer::static_params::{ParamSet, PrerenderReport};
use isr_layer::{IsrLayer, IsrPolicyLayer, Revalidate};
use tokio::sync::Semaphore;

use crate::Server;

/// The secret of the apps' purge endpoint (`/api/revalidate`).
pub const SECRET: &str = "conformance-secret";

/// The frameworks under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framework {
    /// axum with `IsrLayer`.
    Axum,
    /// actix-web with `IsrActix`.
    Actix,
}

/// How the origin answers renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `200` with the page.
    Ok,
    /// `500`.
    Fail,
    /// The handler panics.
    Panic,
    /// The handler never answers.
    Hang,
}

/// What a handler answers, before the framework turns it into a response.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: String,
}

/// The application behind both frameworks: counts renders per path, versions its pages, and
/// can fail, panic, hang, or hold renders at a gate.
#[derive(Debug)]
pub struct Origin {
    renders: Mutex<HashMap<String, usize>>,
    version: AtomicU64,
    mode: Mutex<Mode>,
    gate: Mutex<Option<Arc<Semaphore>>>,
    entered: AtomicUsize,
    arrived: AtomicUsize,
    abandoned: AtomicUsize,
    body_gate: Mutex<Option<Arc<Semaphore>>>,
}

/// A request in the server, before the cache: counts as abandoned if the server drops it
/// unanswered (the visitor hung up).
#[derive(Debug)]
pub struct Arrival {
    origin: Arc<Origin>,
    answered: bool,
}

impl Arrival {
    /// The request was answered.
    pub fn answered(mut self) {
        self.answered = true;
    }
}

impl Drop for Arrival {
    fn drop(&mut self) {
        if !self.answered {
            self.origin.abandoned.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Default for Origin {
    fn default() -> Self {
        Self {
            renders: Mutex::default(),
            version: AtomicU64::new(1),
            mode: Mutex::new(Mode::Ok),
            gate: Mutex::default(),
            entered: AtomicUsize::new(0),
            arrived: AtomicUsize::new(0),
            abandoned: AtomicUsize::new(0),
            body_gate: Mutex::default(),
        }
    }
}

impl Origin {
    /// Renders of `path` so far.
    pub fn renders(&self, path: &str) -> usize {
        self.renders.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// Renders of every path so far.
    pub fn all_renders(&self) -> usize {
        self.renders.lock().unwrap().values().sum()
    }

    /// Pages rendered from now on say `v{version}`.
    pub fn set_version(&self, version: u64) {
        self.version.store(version, Ordering::SeqCst);
    }

    /// How renders answer from now on.
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Holds every render from now on until [`open_gate`](Self::open_gate).
    pub fn close_gate(&self) {
        *self.gate.lock().unwrap() = Some(Arc::new(Semaphore::new(0)));
        self.entered.store(0, Ordering::SeqCst);
    }

    /// Lets held renders (and later ones) through.
    pub fn open_gate(&self) {
        if let Some(gate) = self.gate.lock().unwrap().take() {
            gate.add_permits(Semaphore::MAX_PERMITS / 2);
        }
    }

    /// Renders that reached the gate since it closed.
    pub fn entered(&self) -> usize {
        self.entered.load(Ordering::SeqCst)
    }

    /// Holds the second chunk of every streamed body from now on until
    /// [`open_body_gate`](Self::open_body_gate).
    pub fn close_body_gate(&self) {
        *self.body_gate.lock().unwrap() = Some(Arc::new(Semaphore::new(0)));
    }

    /// Lets held streamed bodies finish.
    pub fn open_body_gate(&self) {
        if let Some(gate) = self.body_gate.lock().unwrap().take() {
            gate.add_permits(Semaphore::MAX_PERMITS / 2);
        }
    }

    /// The streamed page at `path`: its first chunk at once, then (after the body gate, and
    /// 200 ms) the rest, or an error there in [`Mode::Fail`].
    pub async fn stream(
        self: &Arc<Self>,
        path: &str,
        name: &str,
    ) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + use<> {
        use futures_util::StreamExt;
        let fail = *self.mode.lock().unwrap() == Mode::Fail;
        let reply = self.page(path, name).await;
        let gate = self.body_gate.lock().unwrap().clone();
        let first = futures_util::stream::once(async {
            Ok(bytes::Bytes::from_static(
                b"<!doctype html><p>first chunk</p>\n",
            ))
        });
        let rest = futures_util::stream::once(async move {
            if let Some(gate) = gate {
                drop(gate.acquire().await);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            if fail {
                Err(std::io::Error::other("the origin's body failed half-way"))
            } else {
                Ok(bytes::Bytes::from(format!("<p>{}</p>\n", reply.body)))
            }
        });
        first.chain(rest)
    }

    /// An HTML page of about 17 KB at `path`, saying `{name} v{version}`.
    pub async fn html(&self, path: &str, name: &str) -> Reply {
        let reply = self.page(path, name).await;
        let mut body = format!(
            "<!doctype html><html><head><title>{name}</title></head><body><h1>{}</h1>\n",
            reply.body
        );
        for i in 0..160 {
            body.push_str(&format!(
                "<p>Paragraph {i} of the {name} guide: a page served from the cache, \
                 regenerated in the background when its time is up.</p>\n"
            ));
        }
        body.push_str("</body></html>\n");
        Reply {
            status: reply.status,
            body,
        }
    }

    /// Requests that reached the server (before the cache).
    pub fn arrived(&self) -> usize {
        self.arrived.load(Ordering::SeqCst)
    }

    /// Requests the server dropped unanswered because their visitor hung up.
    pub fn abandoned(&self) -> usize {
        self.abandoned.load(Ordering::SeqCst)
    }

    fn arrive(self: &Arc<Self>) -> Arrival {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        Arrival {
            origin: Arc::clone(self),
            answered: false,
        }
    }

    /// Renders the page at `path`.
    pub async fn page(&self, path: &str, name: &str) -> Reply {
        *self
            .renders
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_default() += 1;
        let gate = self.gate.lock().unwrap().clone();
        if let Some(gate) = gate {
            self.entered.fetch_add(1, Ordering::SeqCst);
            drop(gate.acquire().await);
        }
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Ok => Reply {
                status: 200,
                body: format!("{name} v{}", self.version.load(Ordering::SeqCst)),
            },
            Mode::Fail => Reply {
                status: 500,
                body: "the origin failed".to_owned(),
            },
            Mode::Panic => panic!("the origin panicked on purpose"),
            Mode::Hang => std::future::pending().await,
        }
    }
}

/// The cache both apps use: pages fresh for 10 s, renders with an older copy bounded by 5 s,
/// and waiters that never give up within a scenario (so a jump of the paused clock cannot turn
/// a waiter into a second render).
pub fn isr() -> IsrLayer {
    IsrLayer::builder()
        .revalidate(Revalidate::secs(10))
        .regeneration_timeout(Duration::from_secs(5))
        .waiter_timeout(Duration::from_secs(3600))
        .max_body_bytes(64 * 1024)
        .build()
        .expect("a valid configuration")
}

fn auth() -> PurgeAuth {
    PurgeAuth::new(SECRET).expect("a secret")
}

/// The slugs `/guides/{slug}` lists; any other slug is refused (`dynamic_params(false)`).
pub const GUIDES: [&str; 3] = ["intro", "setup", "faq"];

async fn guide_slugs() -> Result<Vec<ParamSet>, isr_layer::static_params::GeneratorError> {
    Ok(GUIDES
        .map(|slug| vec![("slug".to_owned(), slug.to_owned())])
        .to_vec())
}

/// Prerenders the listed guides through a fresh instance of `framework`'s app (over the same
/// cache and origin as the one being served, as a start-up prerender would), `concurrency` at
/// a time. On the current thread's `LocalSet` for actix.
pub async fn prerender(
    framework: Framework,
    isr: IsrLayer,
    origin: Arc<Origin>,
    concurrency: usize,
) -> PrerenderReport {
    match framework {
        Framework::Axum => {
            let params = axum_app::guides().await;
            let router = axum_app::router(isr, origin, &params);
            params.prerender(router, concurrency).await
        }
        Framework::Actix => {
            let params = actix_app::guides().await;
            let app = actix_app::app(isr, origin, &params);
            params.prerender(app, concurrency).await
        }
    }
}

/// The routes, as an axum app under `IsrLayer`:
///
/// - `/page/{name}`: the layer's revalidate (10 s); `POST` answers `posted {name}`;
/// - `/tagged/{name}`: tags `t-{name}` and `all` from the handler;
/// - `/short`: the handler says 1 s; `/smaxage`: `Cache-Control: s-maxage=2`;
/// - `/dynamic`: the handler says dynamic; `/cookie` sets a cookie; `/private` is private;
/// - `/layout/{name}`: a layout of 5 s tagged `layout`; `/layout/long` asks 30 s itself;
/// - `/html/{name}`: an HTML page of about 17 KB ([`Origin::html`]);
/// - `/encoded/{name}`: the same page gzip-encoded by the application itself, whatever the
///   request accepts (`Content-Encoding: gzip`);
/// - `/stream/{name}`: a streamed page ([`Origin::stream`]);
/// - `/accept`: says which `Accept-Encoding` its render was sent;
/// - `/echo`: says which query its render was sent;
/// - `/list`: reads `page` with the extractor's `query_param` (declared by the handler);
/// - `/posts/all`: under a layout declaring `page`, says which query its render was sent;
/// - `/whoami`: a static page that says which `Cookie` header its render was sent;
/// - `/account`: reads the visitor's cookies with the extractor's `cookies()` (dynamic);
/// - `/dash/{name}`: under a dynamic layout, says which cookies and query it was sent;
/// - `/themed`: reads the `theme` cookie with the extractor's `cookie` (declared);
/// - `/vary`: answers `Vary: x-theme` with the theme it was sent;
/// - `/big`: a 100 KB page, over the cache's 64 KiB body limit;
/// - `/public`: `Cache-Control: public`, so it is shared with requests carrying `Authorization`;
/// - `/guides/{slug}`: static params listing [`GUIDES`] with `dynamic_params(false)`;
/// - `/attr/{name}`: `#[revalidate(5, tags = ["attr"])]`;
/// - `/attr-list`: `#[revalidate(5, query = ["page"])]`, saying which `page` it read;
/// - `/api/revalidate`: the purge endpoint.
pub mod axum_app {
    use super::*;
    use axum::Router;
    use axum::extract::{Path, Query, State};
    use axum::http::{StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use isr_axum::{Isr, StaticParams, purge_router, revalidate};

    type Shared = State<Arc<Origin>>;

    fn respond(reply: Reply) -> Response {
        let status = StatusCode::from_u16(reply.status).unwrap();
        (status, reply.body).into_response()
    }

    async fn page(State(origin): Shared, Path(name): Path<String>) -> Response {
        respond(origin.page(&format!("/page/{name}"), &name).await)
    }

    async fn posted(Path(name): Path<String>) -> String {
        format!("posted {name}")
    }

    async fn tagged(isr: Isr, State(origin): Shared, Path(name): Path<String>) -> Response {
        isr.tags([format!("t-{name}"), "all".to_owned()]);
        respond(origin.page(&format!("/tagged/{name}"), &name).await)
    }

    async fn short(isr: Isr, State(origin): Shared) -> Response {
        isr.revalidate_secs(1);
        respond(origin.page("/short", "short").await)
    }

    async fn smaxage(State(origin): Shared) -> Response {
        let reply = origin.page("/smaxage", "smaxage").await;
        (
            [(header::CACHE_CONTROL, "public, s-maxage=2")],
            respond(reply),
        )
            .into_response()
    }

    async fn dynamic(isr: Isr, State(origin): Shared) -> Response {
        isr.dynamic();
        respond(origin.page("/dynamic", "dynamic").await)
    }

    async fn cookie(State(origin): Shared) -> Response {
        let reply = origin.page("/cookie", "cookie").await;
        ([(header::SET_COOKIE, "session=1")], respond(reply)).into_response()
    }

    async fn private(State(origin): Shared) -> Response {
        let reply = origin.page("/private", "private").await;
        ([(header::CACHE_CONTROL, "private")], respond(reply)).into_response()
    }

    async fn layout(isr: Isr, State(origin): Shared, Path(name): Path<String>) -> Response {
        if name == "long" {
            isr.revalidate_secs(30);
        }
        respond(origin.page(&format!("/layout/{name}"), &name).await)
    }

    async fn html(State(origin): Shared, Path(name): Path<String>) -> Response {
        let reply = origin.html(&format!("/html/{name}"), &name).await;
        (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            respond(reply),
        )
            .into_response()
    }

    async fn encoded(State(origin): Shared, Path(name): Path<String>) -> Response {
        let reply = origin.html(&format!("/encoded/{name}"), &name).await;
        (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CONTENT_ENCODING, "gzip"),
            ],
            gzip(reply.body.as_bytes()),
        )
            .into_response()
    }

    async fn vary(State(origin): Shared, headers: axum::http::HeaderMap) -> Response {
        let reply = origin.page("/vary", "vary").await;
        let theme = headers.get("x-theme").and_then(|v| v.to_str().ok());
        (
            [(header::VARY, "x-theme")],
            format!("{} theme {theme:?}", reply.body),
        )
            .into_response()
    }

    async fn big(State(origin): Shared) -> Response {
        origin.page("/big", "big").await;
        "b".repeat(100 * 1024).into_response()
    }

    async fn public(State(origin): Shared) -> Response {
        let reply = origin.page("/public", "public").await;
        ([(header::CACHE_CONTROL, "public")], respond(reply)).into_response()
    }

    async fn guide(State(origin): Shared, Path(slug): Path<String>) -> Response {
        respond(origin.page(&format!("/guides/{slug}"), &slug).await)
    }

    #[revalidate(5, tags = ["attr"])]
    async fn attributed(State(origin): Shared, Path(name): Path<String>) -> Response {
        respond(origin.page(&format!("/attr/{name}"), &name).await)
    }

    /// axum's own `Query` sees the declared parameter: the attribute gives it back.
    #[revalidate(5, query = ["page"])]
    async fn attributed_list(
        State(origin): Shared,
        Query(query): Query<HashMap<String, String>>,
    ) -> String {
        let reply = origin.page("/attr-list", "attr-list").await;
        format!("{} page {:?}", reply.body, query.get("page"))
    }

    /// The guides' static params, generated.
    pub async fn guides() -> StaticParams {
        let params = StaticParams::new()
            .route("/guides/{slug}", guide_slugs)
            .expect("a valid pattern")
            .dynamic_params(false);
        params.generate().await;
        params
    }

    async fn echo(uri: axum::http::Uri) -> String {
        format!("render query {:?}", uri.query())
    }

    async fn list(isr: Isr, State(origin): Shared) -> String {
        let page = isr.query_param("page");
        let reply = origin.page("/list", "list").await;
        format!("{} page {page:?}", reply.body)
    }

    async fn posts(State(origin): Shared, uri: axum::http::Uri) -> String {
        let reply = origin.page("/posts/all", "posts").await;
        format!("{} query {:?}", reply.body, uri.query())
    }

    fn cookie_of(headers: &axum::http::HeaderMap) -> Option<&str> {
        headers.get(header::COOKIE).and_then(|v| v.to_str().ok())
    }

    async fn whoami(State(origin): Shared, headers: axum::http::HeaderMap) -> String {
        let reply = origin.page("/whoami", "whoami").await;
        format!("{} cookie {:?}", reply.body, cookie_of(&headers))
    }

    async fn account(isr: Isr, State(origin): Shared) -> String {
        let cookies = isr.cookies();
        let reply = origin.page("/account", "account").await;
        format!("{} cookies {cookies:?}", reply.body)
    }

    async fn dash(
        State(origin): Shared,
        Path(name): Path<String>,
        uri: axum::http::Uri,
        headers: axum::http::HeaderMap,
    ) -> String {
        let reply = origin.page(&format!("/dash/{name}"), &name).await;
        let (cookie, query) = (cookie_of(&headers), uri.query());
        format!("{} cookie {cookie:?} query {query:?}", reply.body)
    }

    async fn themed(isr: Isr, State(origin): Shared) -> String {
        let theme = isr.cookie("theme");
        let reply = origin.page("/themed", "themed").await;
        format!("{} theme {theme:?}", reply.body)
    }

    async fn accept(headers: axum::http::HeaderMap) -> String {
        let accept = headers.get(header::ACCEPT_ENCODING);
        format!("render accepts {:?}", accept.and_then(|v| v.to_str().ok()))
    }

    async fn stream(State(origin): Shared, Path(name): Path<String>) -> Response {
        let body = origin.stream(&format!("/stream/{name}"), &name).await;
        (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            axum::body::Body::from_stream(body),
        )
            .into_response()
    }

    /// Outside the cache: counts arrivals and requests dropped unanswered.
    async fn track(
        State(origin): Shared,
        request: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> Response {
        let arrival = origin.arrive();
        let response = next.run(request).await;
        arrival.answered();
        response
    }

    /// Serves the app.
    pub async fn start(isr: IsrLayer, origin: Arc<Origin>) -> Server {
        let params = guides().await;
        Server::start(router(isr, origin, &params)).await
    }

    /// The app: every route under the cache, `params` enforced inside it.
    pub fn router(isr: IsrLayer, origin: Arc<Origin>, params: &StaticParams) -> Router {
        let layout_routes = Router::new()
            .route("/{name}", get(layout))
            .layer(IsrPolicyLayer::revalidate(5).tags(["layout"]));
        let tracked = Arc::clone(&origin);
        Router::new()
            .route("/page/{name}", get(page).post(posted))
            .route("/tagged/{name}", get(tagged))
            .route("/short", get(short))
            .route("/smaxage", get(smaxage))
            .route("/dynamic", get(dynamic))
            .route("/cookie", get(cookie))
            .route("/private", get(private))
            .route("/html/{name}", get(html))
            .route("/encoded/{name}", get(encoded))
            .route("/stream/{name}", get(stream))
            .route("/accept", get(accept))
            .route("/echo", get(echo))
            .route("/list", get(list))
            .route("/whoami", get(whoami))
            .route("/account", get(account))
            .route("/themed", get(themed))
            .route("/vary", get(vary))
            .route("/big", get(big))
            .route("/public", get(public))
            .route("/guides/{slug}", get(guide))
            .route("/attr/{name}", get(attributed))
            .route("/attr-list", get(attributed_list))
            .nest("/layout", layout_routes)
            .nest(
                "/posts",
                Router::new()
                    .route("/all", get(posts))
                    .layer(IsrPolicyLayer::never().query_params(["page"])),
            )
            .nest(
                "/dash",
                Router::new()
                    .route("/{name}", get(dash))
                    .layer(IsrPolicyLayer::dynamic()),
            )
            .with_state(origin)
            .nest("/api/revalidate", purge_router(isr.revalidator(), auth()))
            .layer(params.layer())
            .layer(isr)
            .layer(axum::middleware::from_fn_with_state(tracked, track))
    }
}

/// The same routes as an actix-web app under `IsrActix` (see [`axum_app`]).
pub mod actix_app {
    use super::*;
    use actix_web::body::MessageBody;
    use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
    use actix_web::http::StatusCode;
    use actix_web::http::header;
    use actix_web::{App, HttpResponse, HttpResponseBuilder, web};
    use isr_actix_adapter::{Isr, IsrActix, ScopePolicy, StaticParams, purge_resource, revalidate};

    type Shared = web::Data<Arc<Origin>>;

    fn builder(reply: &Reply) -> HttpResponseBuilder {
        HttpResponse::build(StatusCode::from_u16(reply.status).unwrap())
    }

    fn respond(reply: Reply) -> HttpResponse {
        builder(&reply).body(reply.body)
    }

    async fn page(origin: Shared, name: web::Path<String>) -> HttpResponse {
        respond(origin.page(&format!("/page/{name}"), &name).await)
    }

    async fn posted(name: web::Path<String>) -> String {
        format!("posted {name}")
    }

    async fn tagged(isr: Isr, origin: Shared, name: web::Path<String>) -> HttpResponse {
        isr.tags([format!("t-{name}"), "all".to_owned()]);
        respond(origin.page(&format!("/tagged/{name}"), &name).await)
    }

    async fn short(isr: Isr, origin: Shared) -> HttpResponse {
        isr.revalidate_secs(1);
        respond(origin.page("/short", "short").await)
    }

    async fn smaxage(origin: Shared) -> HttpResponse {
        let reply = origin.page("/smaxage", "smaxage").await;
        builder(&reply)
            .insert_header((header::CACHE_CONTROL, "public, s-maxage=2"))
            .body(reply.body)
    }

    async fn dynamic(isr: Isr, origin: Shared) -> HttpResponse {
        isr.dynamic();
        respond(origin.page("/dynamic", "dynamic").await)
    }

    async fn cookie(origin: Shared) -> HttpResponse {
        let reply = origin.page("/cookie", "cookie").await;
        builder(&reply)
            .insert_header((header::SET_COOKIE, "session=1"))
            .body(reply.body)
    }

    async fn private(origin: Shared) -> HttpResponse {
        let reply = origin.page("/private", "private").await;
        builder(&reply)
            .insert_header((header::CACHE_CONTROL, "private"))
            .body(reply.body)
    }

    async fn layout(isr: Isr, origin: Shared, name: web::Path<String>) -> HttpResponse {
        if name.as_str() == "long" {
            isr.revalidate_secs(30);
        }
        respond(origin.page(&format!("/layout/{name}"), &name).await)
    }

    async fn html(origin: Shared, name: web::Path<String>) -> HttpResponse {
        let reply = origin.html(&format!("/html/{name}"), &name).await;
        builder(&reply)
            .content_type("text/html; charset=utf-8")
            .body(reply.body)
    }

    async fn encoded(origin: Shared, name: web::Path<String>) -> HttpResponse {
        let reply = origin.html(&format!("/encoded/{name}"), &name).await;
        builder(&reply)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(gzip(reply.body.as_bytes()))
    }

    async fn vary(origin: Shared, request: actix_web::HttpRequest) -> HttpResponse {
        let reply = origin.page("/vary", "vary").await;
        let theme = request
            .headers()
            .get("x-theme")
            .and_then(|v| v.to_str().ok());
        builder(&reply)
            .insert_header((header::VARY, "x-theme"))
            .body(format!("{} theme {theme:?}", reply.body))
    }

    async fn big(origin: Shared) -> HttpResponse {
        origin.page("/big", "big").await;
        HttpResponse::Ok().body("b".repeat(100 * 1024))
    }

    async fn public(origin: Shared) -> HttpResponse {
        let reply = origin.page("/public", "public").await;
        builder(&reply)
            .insert_header((header::CACHE_CONTROL, "public"))
            .body(reply.body)
    }

    async fn echo(request: actix_web::HttpRequest) -> String {
        format!("render query {:?}", request.uri().query())
    }

    async fn list(isr: Isr, origin: Shared) -> String {
        let page = isr.query_param("page");
        let reply = origin.page("/list", "list").await;
        format!("{} page {page:?}", reply.body)
    }

    async fn posts(origin: Shared, request: actix_web::HttpRequest) -> String {
        let reply = origin.page("/posts/all", "posts").await;
        format!("{} query {:?}", reply.body, request.uri().query())
    }

    fn cookie_of(request: &actix_web::HttpRequest) -> Option<&str> {
        request
            .headers()
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
    }

    async fn whoami(origin: Shared, request: actix_web::HttpRequest) -> String {
        let reply = origin.page("/whoami", "whoami").await;
        format!("{} cookie {:?}", reply.body, cookie_of(&request))
    }

    async fn account(isr: Isr, origin: Shared) -> String {
        let cookies = isr.cookies();
        let reply = origin.page("/account", "account").await;
        format!("{} cookies {cookies:?}", reply.body)
    }

    async fn dash(
        origin: Shared,
        name: web::Path<String>,
        request: actix_web::HttpRequest,
    ) -> String {
        let reply = origin.page(&format!("/dash/{name}"), &name).await;
        let (cookie, query) = (cookie_of(&request), request.uri().query());
        format!("{} cookie {cookie:?} query {query:?}", reply.body)
    }

    async fn themed(isr: Isr, origin: Shared) -> String {
        let theme = isr.cookie("theme");
        let reply = origin.page("/themed", "themed").await;
        format!("{} theme {theme:?}", reply.body)
    }

    async fn accept(request: actix_web::HttpRequest) -> String {
        let accept = request.headers().get(header::ACCEPT_ENCODING);
        format!("render accepts {:?}", accept.and_then(|v| v.to_str().ok()))
    }

    async fn guide(origin: Shared, slug: web::Path<String>) -> HttpResponse {
        respond(origin.page(&format!("/guides/{slug}"), &slug).await)
    }

    #[revalidate(5, tags = ["attr"])]
    async fn attributed(origin: Shared, name: web::Path<String>) -> HttpResponse {
        respond(origin.page(&format!("/attr/{name}"), &name).await)
    }

    /// actix reads the declared parameter with the `Isr` extractor (see
    /// `isr_actix_adapter::revalidate`).
    #[revalidate(5, query = ["page"])]
    async fn attributed_list(isr: Isr, origin: Shared) -> String {
        let reply = origin.page("/attr-list", "attr-list").await;
        format!("{} page {:?}", reply.body, isr.query_param("page"))
    }

    /// The guides' static params, generated.
    pub async fn guides() -> StaticParams {
        let params = StaticParams::new()
            .route("/guides/{slug}", guide_slugs)
            .expect("a valid pattern")
            .dynamic_params(false);
        params.generate().await;
        params
    }

    async fn stream(origin: Shared, name: web::Path<String>) -> HttpResponse {
        let body = origin.stream(&format!("/stream/{name}"), &name).await;
        HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .streaming(body)
    }

    /// Serves the app on the current thread's `LocalSet`.
    pub async fn start(isr: IsrLayer, origin: Arc<Origin>) -> Server {
        let params = guides().await;
        Server::start_actix(app(isr, origin, &params)).await
    }

    /// The app: every route under the cache, `params` enforced inside it.
    pub fn app(
        isr: IsrLayer,
        origin: Arc<Origin>,
        params: &StaticParams,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody + use<>>,
            Error = actix_web::Error,
            InitError = (),
        > + use<>,
    > {
        let arrivals = Arc::clone(&origin);
        App::new()
            .app_data(web::Data::new(origin))
            .route("/page/{name}", web::get().to(page))
            .route("/page/{name}", web::post().to(posted))
            .route("/tagged/{name}", web::get().to(tagged))
            .route("/short", web::get().to(short))
            .route("/smaxage", web::get().to(smaxage))
            .route("/dynamic", web::get().to(dynamic))
            .route("/cookie", web::get().to(cookie))
            .route("/private", web::get().to(private))
            .route("/html/{name}", web::get().to(html))
            .route("/encoded/{name}", web::get().to(encoded))
            .route("/stream/{name}", web::get().to(stream))
            .route("/accept", web::get().to(accept))
            .route("/echo", web::get().to(echo))
            .route("/list", web::get().to(list))
            .route("/whoami", web::get().to(whoami))
            .route("/account", web::get().to(account))
            .route("/themed", web::get().to(themed))
            .service(
                web::scope("/posts")
                    .wrap(ScopePolicy::new(
                        IsrPolicyLayer::never().query_params(["page"]),
                    ))
                    .route("/all", web::get().to(posts)),
            )
            .service(
                web::scope("/dash")
                    .wrap(ScopePolicy::new(IsrPolicyLayer::dynamic()))
                    .route("/{name}", web::get().to(dash)),
            )
            .route("/vary", web::get().to(vary))
            .route("/big", web::get().to(big))
            .route("/public", web::get().to(public))
            .route("/guides/{slug}", web::get().to(guide))
            .route("/attr/{name}", web::get().to(attributed))
            .route("/attr-list", web::get().to(attributed_list))
            .service(
                web::scope("/layout")
                    .wrap(ScopePolicy::new(
                        IsrPolicyLayer::revalidate(5).tags(["layout"]),
                    ))
                    .route("/{name}", web::get().to(layout)),
            )
            .service(purge_resource("/api/revalidate", isr.revalidator(), auth()))
            .wrap(params.middleware())
            .wrap(IsrActix::new(isr))
            .wrap_fn(move |request, service| {
                let arrival = arrivals.arrive();
                let answer = service.call(request);
                async move {
                    let response = answer.await;
                    arrival.answered();
                    response
                }
            })
    }
}

/// `bytes` gzip-compressed, as an application that encodes its own answers sends them.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("in memory");
    encoder.finish().expect("in memory")
}

/// Serves either app.
pub async fn start(framework: Framework, isr: IsrLayer, origin: Arc<Origin>) -> Server {
    match framework {
        Framework::Axum => axum_app::start(isr, origin).await,
        Framework::Actix => actix_app::start(isr, origin).await,
    }
}
