//! The ISR handbook on actix-web: the docs-site app (same content, tags, admin calls, purge
//! endpoint and stores, and the same HTML from `docs_site::views`), served through `IsrActix`.
//!
//! - `GET /docs/{slug}` — 80 guides, listed by [`StaticParams`] and prerendered at start-up
//!   through the app ([`Site::prerender`]), revalidated every `DOCS_REVALIDATE` seconds (1800
//!   by default), tag `docs`; unlisted slugs render on first visit (`dynamic_params(true)`).
//! - `GET /products/{slug}` — revalidate 3600, tags `product-{slug}` and `all-products`
//!   (`#[revalidate]` on the handler).
//! - `GET /` — the home page featuring products, tag `all-products` (set through response
//!   extensions).
//! - `GET /dashboard/stats` — in a dynamic scope that reads a cookie (`BYPASS`); its data comes
//!   from the data cache (`STATS_REVALIDATE`).
//! - `POST /api/revalidate` — the purge endpoint (path, layout, tag, tags), `GET` to inspect.
//! - `PATCH /api/products/{slug}`, `POST /api/guides` — admin calls that change content and
//!   revalidate.
//! - `GET /_isr` — the cache inspector (sign in with `REVALIDATION_SECRET`), beside the cache.
//! - `GET /metrics` (with `ISR_METRICS=1`) — the cache's counters in Prometheus's text format,
//!   beside the cache (the pages sit in a scope under `IsrActix`; this route does not).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, web};
use bytes::Bytes;
use docs_site::content::Content;
use docs_site::views::{self, Stats, View};
use docs_site::{Clock, Config};
use isr_actix_adapter::{
    Inspector, Isr, IsrActix, ParamSet, PrerenderReport, ScopePolicy, StaticParams,
    inspector_scope, purge_resource, revalidate,
};
use isr_layer::purge::PurgeAuth;
use isr_layer::{CacheTags, FetchOptions, IsrLayer, IsrPolicyLayer, Revalidate};

/// The app's shared state.
#[derive(Clone, Debug)]
pub struct Site {
    /// The configuration (the docs-site's variables).
    pub config: Config,
    /// The content source.
    pub content: Content,
    /// The cache, shared by every worker.
    pub isr: IsrLayer,
    /// The admin and purge secret.
    pub auth: PurgeAuth,
    /// The clock pages show.
    pub clock: Clock,
    /// The admin calls.
    pub admin: docs_site::admin::Admin,
    /// The prerender list of `/docs/{slug}`.
    pub params: StaticParams,
    /// The cache inspector at `/_isr`.
    pub inspector: Inspector,
}

impl Site {
    /// Builds the site: content and the cache on the configured store.
    pub async fn new(config: Config) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        if config.metrics {
            // Installed before the first request, so every count from start-up on is kept.
            docs_site::metrics::recorder();
        }
        let content = Content::seeded(config.content_latency);
        let isr = config.cache().await?;
        let auth = PurgeAuth::new(&config.secret)?;
        let source = content.clone();
        let params = StaticParams::new().route("/docs/{slug}", move || {
            let source = source.clone();
            async move {
                Ok(source
                    .guide_slugs()
                    .await
                    .into_iter()
                    .map(|slug| vec![("slug".to_owned(), slug)])
                    .collect::<Vec<ParamSet>>())
            }
        })?;
        let inspector = Inspector::new(docs_site::INSPECTOR_PATH, isr.revalidator(), auth.clone())?;
        Ok(Self {
            params,
            inspector,
            admin: docs_site::admin::Admin {
                content: content.clone(),
                revalidator: isr.revalidator(),
                auth: auth.clone(),
            },
            content,
            isr,
            auth,
            clock: Clock::new(),
            config,
        })
    }

    /// Lists the guides and renders every one of them through an instance of [`app`], 16 at a
    /// time, before the server takes visitors (start-up prerendering), and keeps the list fresh
    /// when `/docs` is revalidated. Runs where actix runs (a `LocalSet`).
    pub async fn prerender(&self) -> PrerenderReport {
        self.params.generate().await;
        self.params.refresh_on_revalidation(&self.isr.revalidator());
        self.params.prerender(app(self.clone()), 16).await
    }
}

/// The app of one worker: pages under `IsrActix`, the admin calls and the purge endpoint, and
/// `GET /metrics` beside them when the site counts.
pub fn app(
    site: Site,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let metrics = site.config.metrics;
    App::new()
        .configure(|config| {
            if metrics {
                // Beside the cache, not under it: the counters are read fresh on every scrape.
                config.route("/metrics", web::get().to(scrape_metrics));
            }
        })
        // Beside the cache too, and before the pages' scope, which takes every other path.
        .service(inspector_scope(site.inspector.clone()))
        .service(
            web::scope("")
                .service(purge_resource(
                    "/api/revalidate",
                    site.isr.revalidator(),
                    site.auth.clone(),
                ))
                .route("/api/products/{slug}", web::patch().to(update_price))
                .route("/api/guides", web::post().to(publish_guide))
                .route("/", web::get().to(home))
                .route("/docs/{slug}", web::get().to(guide))
                .route("/products/{slug}", web::get().to(product))
                .service(
                    web::scope("/dashboard")
                        .wrap(ScopePolicy::new(IsrPolicyLayer::dynamic()))
                        .route("/stats", web::get().to(stats)),
                )
                .wrap(site.params.middleware())
                .wrap(IsrActix::new(site.isr.clone())),
        )
        .app_data(web::Data::new(site))
}

type Shared = web::Data<Site>;

/// `GET /metrics`: the process's Prometheus recorder, rendered.
async fn scrape_metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .insert_header(("cache-control", "no-store"))
        .body(docs_site::metrics::recorder().render())
}

/// A page rendered by the docs-site's views, as an actix response.
fn html(view: View) -> HttpResponse {
    let status =
        StatusCode::from_u16(view.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(view.html)
}

/// `GET /` — the home page featuring products. Sets its policy and tags in the response's
/// extensions.
async fn home(site: Shared) -> HttpResponse {
    let (view, tags) = views::home_page(site.clock.now(), &site.content.featured().await);
    let mut response = html(view);
    response.extensions_mut().insert(Revalidate::secs(3600));
    response.extensions_mut().insert(CacheTags::new(tags));
    response
}

/// `GET /docs/{slug}` — a guide, through the `Isr` extractor.
async fn guide(isr: Isr, site: Shared, slug: web::Path<String>) -> HttpResponse {
    isr.revalidate(site.config.docs_revalidate);
    isr.tag("docs");
    let (guide, index) = site.content.guide_with_index(&slug).await;
    html(views::guide_page(
        site.clock.now(),
        &slug,
        guide.as_ref(),
        &index,
    ))
}

/// `GET /products/{slug}` — a product, revalidated every hour, tagged `all-products` (by the
/// attribute) and `product-{slug}`.
#[revalidate(3600, tags = ["all-products"])]
async fn product(isr: Isr, site: Shared, slug: web::Path<String>) -> HttpResponse {
    isr.tag(format!("product-{slug}"));
    let product = site.content.product(&slug).await;
    html(views::product_page(site.clock.now(), product.as_ref()))
}

/// `GET /dashboard/stats` — in a dynamic scope that reads the `user` cookie: never cached;
/// its data comes from the data cache (the same entry as the axum app's).
async fn stats(request: HttpRequest, site: Shared) -> HttpResponse {
    let visitor = request
        .headers()
        .get_all("cookie")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("user=").map(str::to_owned))
        .unwrap_or_else(|| "guest".to_owned());
    let source = site.clone();
    let options = FetchOptions::revalidate_after(site.config.stats_revalidate).tags(["stats"]);
    let fetched = site
        .isr
        .data_cache()
        .get_or_fetch("dashboard-stats", options, move || async move {
            let (guides, products, fetches) = source.content.stats().await;
            Ok::<_, std::convert::Infallible>(Stats {
                guides,
                products,
                fetches,
                fetched_at: source.clock.now(),
            })
        })
        .await;
    match fetched {
        Ok(stats) => html(views::stats_page(site.clock.now(), &visitor, &stats)),
        Err(e) => HttpResponse::ServiceUnavailable().body(format!("stats unavailable: {e}")),
    }
}

/// The request's headers in `http` 1 types, for the shared admin logic.
fn headers(request: &HttpRequest) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for (name, value) in request.headers() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

fn json_reply((status, body): docs_site::admin::Reply) -> HttpResponse {
    let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).json(body)
}

/// `PATCH /api/products/{slug}` with `{"price": 79.5}`.
async fn update_price(
    request: HttpRequest,
    site: Shared,
    slug: web::Path<String>,
    body: Bytes,
) -> HttpResponse {
    json_reply(
        site.admin
            .update_price(&headers(&request), &slug, &body)
            .await,
    )
}

/// `POST /api/guides` with `{"slug", "title", "body"}`.
async fn publish_guide(request: HttpRequest, site: Shared, body: Bytes) -> HttpResponse {
    json_reply(site.admin.publish_guide(&headers(&request), &body).await)
}
