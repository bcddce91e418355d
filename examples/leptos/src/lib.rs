//! A [Leptos](https://leptos.dev) 0.8 site rendered on the server and cached by the ISR layer.
//!
//! Leptos renders HTML on the server only (its `ssr` feature: no WebAssembly bundle, no
//! hydration scripts, no cargo-leptos); `IsrLayer` wraps the whole Leptos router, so a page
//! renders once per revalidate period whatever its rendering mode:
//!
//! - `/`: the home page, rendered at once.
//! - `/streaming/{id}`: out-of-order streaming ([`SsrMode::OutOfOrder`]). The shell, with a
//!   `<Suspense>` fallback, goes out at once; the report, a resource that takes
//!   [`STREAMING_DELAY`], follows in the same response when it resolves. On a `MISS` the cache
//!   streams the body to the visitor as Leptos writes it, and keeps a copy.
//! - `/async/{id}`: async rendering ([`SsrMode::Async`]). The page is sent whole once its
//!   resource (it takes [`ASYNC_DELAY`]) has resolved.
//!
//! Each page shows its render number (`render #N`) and when it was rendered, so the cache's
//! answers can be told apart: a `HIT` repeats the number, a regeneration shows a new one.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use isr_layer::{IsrLayer, Revalidate};
//! use leptos_site::Site;
//!
//! let isr = IsrLayer::builder().revalidate(Revalidate::secs(10)).build()?;
//! let site = Site::new(([127, 0, 0, 1], 3000).into());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, site.app(Some(&isr))).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Every render also carries a CSP nonce that `leptos_axum` makes up (see the README): a cached
//! page repeats the nonce of the render it came from, so a Content-Security-Policy built on
//! `use_nonce` does not suit cached pages. This site sends no such policy.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::Html;
use isr_layer::IsrLayer;
use leptos::config::LeptosOptions;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_params_map;
use leptos_router::{ParamSegment, SsrMode, StaticSegment};
use serde::{Deserialize, Serialize};
use tower_layer::Layer;

/// How long the streaming route's report takes to load.
pub const STREAMING_DELAY: Duration = Duration::from_millis(200);

/// How long the async route's report takes to load.
pub const ASYNC_DELAY: Duration = Duration::from_millis(20);

/// The Leptos options of this site, built in code: no `[package.metadata.leptos]`, no
/// cargo-leptos, no `LEPTOS_*` variables. Nothing here is served from `site_root`: the site has
/// no WebAssembly bundle, script or stylesheet.
pub fn leptos_options(site_addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("leptos-site")
        .site_addr(site_addr)
        .build()
}

/// The site: its Leptos options and a render counter shared by every page.
#[derive(Clone, Debug)]
pub struct Site {
    options: LeptosOptions,
    renders: Arc<AtomicU64>,
    started: Instant,
}

impl Site {
    /// A site that says it is served at `site_addr` (Leptos keeps the address in its options;
    /// the caller binds the listener).
    pub fn new(site_addr: SocketAddr) -> Self {
        Self {
            options: leptos_options(site_addr),
            renders: Arc::new(AtomicU64::new(0)),
            started: Instant::now(),
        }
    }

    /// The Leptos options.
    pub fn options(&self) -> &LeptosOptions {
        &self.options
    }

    /// How many pages Leptos has rendered so far.
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    /// The Leptos routes as an axum router, uncached; unknown paths get a plain 404.
    pub fn router(&self) -> axum::Router {
        let routes = generate_route_list(App);
        let site = self.clone();
        axum::Router::new()
            .leptos_routes_with_context(
                &self.options,
                routes,
                move || provide_context(site.clone()),
                shell,
            )
            .fallback(not_found)
            .with_state(self.options.clone())
    }

    /// The site to serve: the [router](Site::router) behind `isr`, or uncached with `None`.
    ///
    /// The layer wraps the whole router (rather than `Router::layer`, which runs after routing),
    /// so every request, whatever its path, goes through the cache first.
    pub fn app(&self, isr: Option<&IsrLayer>) -> axum::Router {
        let router = self.router();
        match isr {
            Some(isr) => axum::Router::new().fallback_service(isr.layer(router)),
            None => router,
        }
    }

    /// Counts a render and says when it happened.
    fn stamp(&self) -> Stamp {
        Stamp {
            render: self.renders.fetch_add(1, Ordering::Relaxed) + 1,
            after_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// One render of one page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    /// The render number, from 1.
    render: u64,
    /// Milliseconds from start-up.
    after_ms: u64,
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "render #{}, {} ms after start-up",
            self.render, self.after_ms
        )
    }
}

/// What a page's resource loads, as a database query would.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Report {
    id: String,
    /// The render it was loaded for.
    render: u64,
    /// How long it took, in milliseconds.
    took_ms: u64,
}

async fn load_report(id: String, render: u64, delay: Duration) -> Report {
    tokio::time::sleep(delay).await;
    Report {
        id,
        render,
        took_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
    }
}

async fn not_found() -> (StatusCode, Html<&'static str>) {
    (
        StatusCode::NOT_FOUND,
        Html("<!DOCTYPE html><title>Not found</title><h1>Not found</h1>\n"),
    )
}

/// The whole document around the app. No `<HydrationScripts>`: the pages are HTML only.
fn shell() -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <title>"isr-rs + Leptos"</title>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The routes.
#[component]
fn App() -> impl IntoView {
    view! {
        <Router>
            <nav>
                <a href="/">"Home"</a>
                " | "
                <a href="/streaming/1">"Streaming"</a>
                " | "
                <a href="/async/1">"Async"</a>
            </nav>
            <main>
                <Routes fallback=|| "Page not found.">
                    <Route path=StaticSegment("") view=HomePage/>
                    <Route
                        path=(StaticSegment("streaming"), ParamSegment("id"))
                        view=StreamingPage
                        ssr=SsrMode::OutOfOrder
                    />
                    <Route
                        path=(StaticSegment("async"), ParamSegment("id"))
                        view=AsyncPage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}

/// `/`: rendered at once.
#[component]
fn HomePage() -> impl IntoView {
    let stamp = expect_context::<Site>().stamp();
    view! {
        <h1>"isr-rs + Leptos"</h1>
        <p class="render">{stamp.to_string()}</p>
        <p>
            "A Leptos site rendered on the server and cached by the ISR layer. Look at the "
            <code>"x-isr-cache"</code> " header of each answer."
        </p>
        <ul>
            <li>
                <a href="/streaming/1">"/streaming/1"</a>
                ": out-of-order streaming, the report arrives 200 ms after the shell"
            </li>
            <li>
                <a href="/async/1">"/async/1"</a>
                ": async rendering, the page is sent once its 20 ms report has loaded"
            </li>
        </ul>
    }
}

/// The `id` route parameter.
fn use_id() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("id").unwrap_or_default())
}

/// `/streaming/{id}`: the shell goes out at once, the report when it has loaded.
#[component]
fn StreamingPage() -> impl IntoView {
    let site = expect_context::<Site>();
    let stamp = site.stamp();
    let id = use_id();
    let report = Resource::new(
        move || id.get(),
        move |id| load_report(id, stamp.render, STREAMING_DELAY),
    );
    view! {
        <h1>{format!("Out-of-order streaming: item {}", id.get_untracked())}</h1>
        <p class="render">{stamp.to_string()}</p>
        <Suspense fallback=|| view! { <p class="loading">"Loading the report…"</p> }>
            {move || Suspend::new(async move { report_view(report.await) })}
        </Suspense>
    }
}

/// `/async/{id}`: sent whole once the report has loaded.
#[component]
fn AsyncPage() -> impl IntoView {
    let site = expect_context::<Site>();
    let stamp = site.stamp();
    let id = use_id();
    let report = Resource::new(
        move || id.get(),
        move |id| load_report(id, stamp.render, ASYNC_DELAY),
    );
    view! {
        <h1>{format!("Async rendering: item {}", id.get_untracked())}</h1>
        <p class="render">{stamp.to_string()}</p>
        <Suspense fallback=|| view! { <p class="loading">"Loading the report…"</p> }>
            {move || Suspend::new(async move { report_view(report.await) })}
        </Suspense>
    }
}

fn report_view(report: Report) -> impl IntoView {
    view! {
        <p class="report">
            {format!(
                "Report for item {} (loaded in {} ms for render #{})",
                report.id,
                report.took_ms,
                report.render,
            )}
        </p>
    }
}
