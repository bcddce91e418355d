//! The cache with the frameworks' own compression middleware, over real HTTP: outside the
//! cache it leaves the cache's encoded answers alone (nothing is compressed twice, nothing per
//! hit); inside it, the render is asked for identity, so browsers' many `Accept-Encoding`
//! spellings still make one render.

use std::sync::Arc;

use http::Method;
use isr_tests::conformance::{Origin, isr};
use isr_tests::{Got, Server};

const BROWSERS: [&str; 6] = [
    "gzip, deflate, br, zstd",
    "gzip, deflate, br",
    "gzip, deflate",
    "br;q=1.0, gzip;q=0.8, *;q=0.1",
    "identity",
    "zstd, gzip;q=0.5",
];

fn coding_for(accept: &str) -> Option<&'static str> {
    match accept {
        "gzip, deflate" => Some("gzip"),
        "identity" => None,
        "zstd, gzip;q=0.5" => Some("zstd"),
        _ => Some("br"),
    }
}

async fn get(server: &Server, path: &str, accept: &str) -> Got {
    server
        .send(Method::GET, path, &[("accept-encoding", accept)], "")
        .await
}

/// Every browser spelling: one render, the representation the spelling prefers, exactly one
/// `Content-Encoding` (the cache's), and the identity page once decoded.
async fn browsers_get_one_render(server: &Server, origin: &Origin, path: &str) {
    let mut page = None;
    for (i, accept) in BROWSERS.iter().enumerate() {
        let got = get(server, path, accept).await;
        let expected = if i == 0 { "MISS" } else { "HIT" };
        assert_eq!(
            (got.status.as_u16(), got.cache()),
            (200, expected),
            "{accept}"
        );
        let codings: Vec<_> = got.headers.get_all("content-encoding").iter().collect();
        assert!(codings.len() <= 1, "encoded twice: {codings:?}");
        assert_eq!(
            got.header("content-encoding"),
            coding_for(accept),
            "{accept}"
        );
        let decoded = got.decoded();
        assert!(String::from_utf8_lossy(&decoded).contains("<h1>"));
        assert_eq!(page.get_or_insert_with(|| decoded.clone()), &decoded);
    }
    assert_eq!(origin.renders(path), 1);
}

mod axum_app {
    use super::*;
    use axum::Router;
    use axum::extract::{Path, State};
    use axum::http::header;
    use axum::response::IntoResponse;
    use axum::routing::get as route;
    use tower_http::compression::CompressionLayer;

    async fn html(
        State(origin): State<Arc<Origin>>,
        Path(name): Path<String>,
    ) -> impl IntoResponse {
        let reply = origin.html(&format!("/html/{name}"), &name).await;
        ([(header::CONTENT_TYPE, "text/html")], reply.body)
    }

    fn routes(origin: Arc<Origin>) -> Router {
        Router::new()
            .route("/html/{name}", route(html))
            .with_state(origin)
    }

    /// `.layer(isr).layer(CompressionLayer::new())`: the order most axum apps write.
    #[tokio::test]
    async fn an_outer_compression_layer_leaves_the_cached_encodings_alone() {
        let origin = Arc::new(Origin::default());
        let app = routes(Arc::clone(&origin))
            .layer(isr())
            .layer(CompressionLayer::new());
        let server = Server::start(app).await;
        browsers_get_one_render(&server, &origin, "/html/outer").await;
    }

    /// `.layer(CompressionLayer::new()).layer(isr)`: the render asks for identity, so the
    /// inner layer does not compress and the cache stores one page.
    #[tokio::test]
    async fn an_inner_compression_layer_does_not_split_the_page() {
        let origin = Arc::new(Origin::default());
        let app = routes(Arc::clone(&origin))
            .layer(CompressionLayer::new())
            .layer(isr());
        let server = Server::start(app).await;
        browsers_get_one_render(&server, &origin, "/html/inner").await;
    }
}

mod actix_app {
    use super::*;
    use actix_web::middleware::Compress;
    use actix_web::{App, HttpResponse, web};
    use isr_actix_adapter::IsrActix;

    async fn html(origin: web::Data<Arc<Origin>>, name: web::Path<String>) -> HttpResponse {
        let reply = origin.html(&format!("/html/{name}"), &name).await;
        HttpResponse::Ok()
            .content_type("text/html")
            .body(reply.body)
    }

    /// `.wrap(IsrActix).wrap(Compress)`: actix's compression outside the cache.
    #[tokio::test]
    async fn an_outer_compress_middleware_leaves_the_cached_encodings_alone() {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let origin = Arc::new(Origin::default());
                let app = App::new()
                    .app_data(web::Data::new(Arc::clone(&origin)))
                    .route("/html/{name}", web::get().to(html))
                    .wrap(IsrActix::new(isr()))
                    .wrap(Compress::default());
                let server = Server::start_actix(app).await;
                browsers_get_one_render(&server, &origin, "/html/outer").await;
            })
            .await;
    }
}
