//! The pages: each shows when it was rendered, so a visitor can see the cache at work.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use isr_axum::{Isr, Revalidate, Tags, revalidate};

use crate::Site;
use crate::views::{self, Stats, View};

impl IntoResponse for View {
    fn into_response(self) -> Response {
        (self.status, Html(self.html)).into_response()
    }
}

/// `GET /` — the home page featuring products, tagged `all-products` and each featured product.
/// Sets its policy and tags with response parts.
pub(crate) async fn home(State(site): State<Site>) -> (Revalidate, Tags, View) {
    let (view, tags) = views::home_page(site.clock.now(), &site.content.featured().await);
    (Revalidate::secs(3600), Tags::new(tags), view)
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
    let (guide, index) = site.content.guide_with_index(&slug).await;
    views::guide_page(site.clock.now(), &slug, guide.as_ref(), &index).into_response()
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
    let product = site.content.product(&slug).await;
    views::product_page(site.clock.now(), product.as_ref()).into_response()
}

/// Who is looking, read from the `user` cookie by the dashboard's layout.
#[derive(Clone, Debug)]
pub(crate) struct Visitor(pub(crate) String);

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
    views::stats_page(site.clock.now(), &visitor, &stats).into_response()
}
