//! The pages: each shows when it was rendered, so a visitor can see the cache at work.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use isr_axum::{Isr, Revalidate, Tags, revalidate};

use crate::Site;

fn page(site: &Site, title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n{body}\
         <p>rendered-at: {}</p>\n</body></html>\n",
        escape(title),
        httpdate::fmt_http_date(site.clock.now()),
    ))
}

fn price(cents: u64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

/// `GET /` — the home page featuring products, tagged `all-products` and each featured product.
/// Sets its policy and tags with response parts.
pub(crate) async fn home(State(site): State<Site>) -> (Revalidate, Tags, Html<String>) {
    let featured = site.content.featured().await;
    let mut tags: Vec<String> = vec!["all-products".to_owned()];
    let mut items = String::new();
    for p in &featured {
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
    (
        Revalidate::secs(3600),
        Tags::new(tags),
        page(&site, "Home", &body),
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
            let body = format!(
                "<h1>{}</h1>\n<p>{}</p>\n<p>Last updated: {}</p>\n",
                escape(&guide.title),
                escape(&guide.body),
                httpdate::fmt_http_date(guide.updated),
            );
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
            let body = format!(
                "<h1>{}</h1>\n<p>price: {}</p>\n",
                escape(&p.name),
                price(p.price_cents)
            );
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

/// `GET /dashboard/stats` — under a layout that reads a cookie, so never cached (`BYPASS`).
pub(crate) async fn stats(
    State(site): State<Site>,
    Extension(Visitor(visitor)): Extension<Visitor>,
) -> Html<String> {
    let fetched_at = site.clock.now();
    let (guides, products, fetches) = site.content.stats().await;
    let body = format!(
        "<h1>Stats for {}</h1>\n<p>guides: {guides}</p>\n<p>products: {products}</p>\n\
         <p>content fetches: {fetches}</p>\n<p>data-fetched-at: {}</p>\n",
        escape(&visitor),
        httpdate::fmt_http_date(fetched_at),
    );
    page(&site, "Stats", &body)
}

/// Escapes text for HTML.
pub(crate) fn escape(text: &str) -> String {
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
