use axum::extract::{Path, Query, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use isr_axum::revalidate;
use std::collections::HashMap;

#[revalidate(1800)]
async fn docs(Path(slug): Path<String>) -> Html<String> {
    Html(slug)
}

#[revalidate(never)]
async fn about() -> &'static str {
    "about"
}

#[revalidate(false)]
async fn legal() -> &'static str {
    "legal"
}

#[revalidate(0)]
async fn dashboard() -> &'static str {
    "dynamic"
}

#[revalidate(60, tags = ["products", "all-products"])]
async fn products(
    State(prefix): State<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<String, (axum::http::StatusCode, String)> {
    let page = query.get("page").cloned().unwrap_or_default();
    if page == "bad" {
        return Err((axum::http::StatusCode::BAD_REQUEST, "bad page".to_owned()));
    }
    Ok(format!("{prefix}{page}"))
}

/// Doc comments and other attributes stay on the handler.
#[revalidate(10,)]
#[allow(clippy::unused_async)]
pub async fn home() {}

fn main() {
    let _app: Router = Router::new()
        .route("/docs/{slug}", get(docs))
        .route("/about", get(about))
        .route("/legal", get(legal))
        .route("/dashboard", get(dashboard))
        .route("/products", get(products))
        .route("/", get(home))
        .with_state(String::from("p"));
}
