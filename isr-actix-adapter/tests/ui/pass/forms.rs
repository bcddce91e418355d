use actix_web::{web, App, HttpResponse};
use isr_actix_adapter::{revalidate, Isr, IsrActix};
use isr_layer::IsrLayer;

#[revalidate(1800)]
async fn docs(slug: web::Path<String>) -> String {
    slug.into_inner()
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
    prefix: web::Data<String>,
    isr: Isr,
    slug: web::Path<String>,
) -> Result<String, actix_web::Error> {
    isr.tag(format!("product-{slug}"));
    if slug.as_str() == "bad" {
        return Err(actix_web::error::ErrorBadRequest("bad product"));
    }
    Ok(format!("{}{slug}", prefix.as_str()))
}

/// Doc comments and other attributes stay on the handler.
#[revalidate(10,)]
#[allow(clippy::unused_async)]
pub async fn home() -> HttpResponse {
    HttpResponse::Ok().finish()
}

type R = actix_web::HttpRequest;

/// Fifteen extractors of its own: with the hidden one, actix's limit of sixteen.
#[revalidate(60)]
#[allow(clippy::too_many_arguments)]
async fn fifteen(
    _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R,
) -> &'static str {
    "fifteen"
}

fn main() {
    let _app = App::new()
        .app_data(web::Data::new(String::from("p")))
        .route("/docs/{slug}", web::get().to(docs))
        .route("/about", web::get().to(about))
        .route("/legal", web::get().to(legal))
        .route("/dashboard", web::get().to(dashboard))
        .route("/products/{slug}", web::get().to(products))
        .route("/", web::get().to(home))
        .route("/fifteen", web::get().to(fifteen))
        .wrap(IsrActix::new(IsrLayer::new()));
}
