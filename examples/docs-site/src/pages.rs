//! The pages: each shows when it was rendered, so a visitor can see the cache at work.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use isr_axum::{Isr, Revalidate, Tags, revalidate};

use crate::Site;
use crate::content::{Guide, Product};

fn page(site: &Site, title: &str, body: &str) -> Html<String> {
    Html(html_page(site.clock.now(), title, body))
}

/// The page around `body`, with its title and when it was rendered.
pub fn html_page(now: std::time::SystemTime, title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n{body}\
         <p>rendered-at: {}</p>\n</body></html>\n",
        escape(title),
        httpdate::fmt_http_date(now),
    )
}

/// A price in cents as dollars.
pub fn price(cents: u64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

/// `GET /` — the home page featuring products, tagged `all-products` and each featured product.
/// Sets its policy and tags with response parts.
pub(crate) async fn home(State(site): State<Site>) -> (Revalidate, Tags, Html<String>) {
    let (body, tags) = home_body(&site.content.featured().await);
    (
        Revalidate::secs(3600),
        Tags::new(tags),
        page(&site, "Home", &body),
    )
}

/// The home page's content and its tags: `all-products` and each featured `product-{slug}`.
pub fn home_body(featured: &[Product]) -> (String, Vec<String>) {
    let mut tags: Vec<String> = vec!["all-products".to_owned()];
    let mut items = String::new();
    for p in featured {
        tags.push(format!("product-{}", p.slug));
        items.push_str(&format!(
            "<li><a href=\"/products/{}\">{}</a> — {}</li>\n",
            p.slug,
            escape(&p.name),
            price(p.price_cents)
        ));
    }
    let body = format!(
        "<h1>The isr-rs shop</h1>\n<ul>\n{items}</ul>\n<p><a href=\"/docs/getting-started\">Docs</a></p>\n"
    );
    (body, tags)
}

/// A guide's content.
pub fn guide_body(guide: &Guide) -> String {
    format!(
        "<h1>{}</h1>\n<p>{}</p>\n<p>Last updated: {}</p>\n",
        escape(&guide.title),
        escape(&guide.body),
        httpdate::fmt_http_date(guide.updated),
    )
}

/// A product's content.
pub fn product_body(product: &Product) -> String {
    format!(
        "<h1>{}</h1>\n<p>price: {}</p>\n",
        escape(&product.name),
        price(product.price_cents)
    )
}

/// `GET /docs/{slug}` — a guide, revalidated every `DOCS_REVALIDATE` seconds (1800 by
/// default). Sets its policy through the `Isr` extractor.
pub(crate) async fn guide(
    isr: Isr,
    State(site): State<Site>,
    Path(slug): Path<String>,
) -> Response {
    isr.revalidate(site.config.docs_revalidate);
    isr.tag("docs");
    match site.content.guide(&slug).await {
        Some(guide) => {
            let body = guide_body(&guide);
            page(&site, &guide.title, &body).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            page(&site, "Not found", "<h1>No such guide</h1>\n"),
        )
            .into_response(),
    }
}

/// `GET /products/{slug}` — a product, revalidated every hour and tagged `product-{slug}` and
/// `all-products`. Sets its policy with the attribute, its tags with the extractor.
#[revalidate(3600, tags = ["all-products"])]
pub(crate) async fn product(
    isr: Isr,
    State(site): State<Site>,
    Path(slug): Path<String>,
) -> Response {
    isr.tag(format!("product-{slug}"));
    match site.content.product(&slug).await {
        Some(p) => {
            let body = product_body(&p);
            page(&site, &p.name, &body).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            page(&site, "Not found", "<h1>No such product</h1>\n"),
        )
            .into_response(),
    }
}

/// Who is looking, read from the `user` cookie by the dashboard's layout.
#[derive(Clone, Debug)]
pub(crate) struct Visitor(pub(crate) String);

/// What the dashboard shows, cached in the data cache for `STATS_REVALIDATE` seconds.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Stats {
    guides: usize,
    products: usize,
    fetches: u64,
    fetched_at: std::time::SystemTime,
}

/// `GET /dashboard/stats` — under a layout that reads a cookie, so never cached (`BYPASS`);
/// its data comes from the data cache, so the content source is asked once per
/// `STATS_REVALIDATE` however often the page renders (the handbook's caveat 3).
pub(crate) async fn stats(
    State(site): State<Site>,
    Extension(Visitor(visitor)): Extension<Visitor>,
) -> Response {
    let source = site.clone();
    let options =
        isr_axum::FetchOptions::revalidate_after(site.config.stats_revalidate).tags(["stats"]);
    let stats = site
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
    let stats = match stats {
        Ok(stats) => stats,
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("stats unavailable: {e}"),
            )
                .into_response();
        }
    };
    let body = format!(
        "<h1>Stats for {}</h1>\n<p>guides: {}</p>\n<p>products: {}</p>\n\
         <p>content fetches: {}</p>\n<p>data-fetched-at: {}</p>\n",
        escape(&visitor),
        stats.guides,
        stats.products,
        stats.fetches,
        httpdate::fmt_http_date(stats.fetched_at),
    );
    page(&site, "Stats", &body).into_response()
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
