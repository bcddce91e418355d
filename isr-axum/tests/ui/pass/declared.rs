use axum::extract::Query;
use axum::routing::get;
use axum::Router;
use isr_axum::revalidate;
use std::collections::HashMap;

#[revalidate(60, query = ["page", "sort"])]
async fn posts(Query(query): Query<HashMap<String, String>>) -> String {
    format!("{query:?}")
}

#[revalidate(never, cookies = ["theme"], tags = ["home"])]
pub async fn home(headers: axum::http::HeaderMap) -> String {
    format!("{:?}", headers.get("cookie"))
}

#[revalidate(30, query = ["q"], cookies = ["lang"],)]
async fn search() -> &'static str {
    "search"
}

fn main() {
    let _app: Router = Router::new()
        .route("/posts", get(posts))
        .route("/", get(home))
        .route("/search", get(search));
}
