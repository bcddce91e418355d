use actix_web::{web, App, HttpRequest};
use isr_actix_adapter::{revalidate, Isr, IsrActix};
use isr_layer::IsrLayer;

#[revalidate(60, query = ["page", "sort"])]
async fn posts(isr: Isr) -> String {
    format!("{:?} {:?}", isr.query_param("page"), isr.query_param("sort"))
}

#[revalidate(never, cookies = ["theme"], tags = ["home"])]
pub async fn home(isr: Isr, request: HttpRequest) -> String {
    format!("{:?} {}", isr.cookie("theme"), request.path())
}

#[revalidate(30, query = ["q"], cookies = ["lang"],)]
async fn search() -> &'static str {
    "search"
}

/// A `Query` is fine where no query parameter is declared.
#[revalidate(30, cookies = ["lang"])]
async fn filtered(query: web::Query<std::collections::HashMap<String, String>>) -> String {
    format!("{:?}", query.get("x"))
}

fn main() {
    let _app = App::new()
        .route("/posts", web::get().to(posts))
        .route("/", web::get().to(home))
        .route("/search", web::get().to(search))
        .route("/filtered", web::get().to(filtered))
        .wrap(IsrActix::new(IsrLayer::new()));
}
