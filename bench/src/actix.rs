//! The actix-web modes of the bench server: the same page and origin as the axum modes, served
//! by actix-web with one worker.
//!
//! - `actix-static`: the physical limit on actix: a handler returning a fixed `Bytes` body.
//! - `actix-static-head`: the same bytes with the hit's seven headers (fixed values appended to
//!   the response's map per answer): the limit for the hit's answer on actix.
//! - `actix-isr-hit`: the origin (a 5 ms render) behind `IsrActix`, revalidate never: every
//!   request after the first is a `HIT`.
//! - `actix-isr-hit-html`: the same with the ~8 KB HTML article of the browser-traffic modes:
//!   every hit is served from the representation the request accepts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType, HeaderName, HeaderValue};
use actix_web::{App, HttpResponse, HttpServer, web};
use bytes::Bytes;
use isr_actix_adapter::IsrActix;
use isr_layer::{IsrLayer, Revalidate};

use crate::{html_page, page};

type Renders = web::Data<AtomicU64>;

/// Serves `mode` on `port` until interrupted.
pub(crate) fn serve(mode: &str, port: u16) -> Result<(), Box<dyn std::error::Error>> {
    let renders = web::Data::new(AtomicU64::new(0));
    let addr = ("127.0.0.1", port);
    let server = match mode {
        "actix-static" | "actix-static-head" => {
            let body = Bytes::from(page(1));
            let with_head = mode == "actix-static-head";
            HttpServer::new(move || {
                let body = body.clone();
                let fixed = if with_head {
                    web::get().to(move || {
                        let mut response = HttpResponse::with_body(StatusCode::OK, body.clone());
                        let headers = response.headers_mut();
                        for (name, value) in HIT_HEAD {
                            headers.append(name, HeaderValue::from_static(value));
                        }
                        async move { response }
                    })
                } else {
                    web::get().to(move || {
                        let body = body.clone();
                        async move {
                            HttpResponse::Ok()
                                .content_type(ContentType::html())
                                .body(body)
                        }
                    })
                };
                App::new()
                    .app_data(renders.clone())
                    .route("/__renders", web::get().to(count))
                    .route("/", fixed)
            })
            .workers(1)
            .shutdown_timeout(1)
            .bind(addr)?
            .run()
        }
        "actix-isr-hit" | "actix-isr-hit-html" => {
            let isr = IsrLayer::builder().revalidate(Revalidate::Never).build()?;
            let html = mode == "actix-isr-hit-html";
            HttpServer::new(move || {
                let origin = if html {
                    web::get().to(render_html)
                } else {
                    web::get().to(render)
                };
                App::new()
                    .app_data(renders.clone())
                    .route("/__renders", web::get().to(count))
                    .default_service(origin)
                    .wrap(IsrActix::new(isr.clone()))
            })
            .workers(1)
            .shutdown_timeout(1)
            .bind(addr)?
            .run()
        }
        other => return Err(format!("unknown actix mode {other:?}").into()),
    };
    println!("{mode} listening on 127.0.0.1:{port}");
    actix_web::rt::System::new().block_on(server)?;
    Ok(())
}

/// The hit's head as fixed values (`actix-static-head`): what `actix-isr-hit` answers, without
/// the cache. `Content-Length` and `Date` are actix's own in both.
const HIT_HEAD: [(HeaderName, &str); 7] = [
    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
    (header::CACHE_CONTROL, "s-maxage=31536000"),
    (header::VARY, "accept-encoding"),
    (header::ETAG, "\"b4c29b7bee7acf0c06d096011a508b1f\""),
    (header::LAST_MODIFIED, "Fri, 04 Dec 2026 13:12:59 GMT"),
    (header::AGE, "0"),
    (HeaderName::from_static("x-isr-cache"), "HIT"),
];

/// The render count. Unlike the axum modes, where it is routed outside the layer, it sits
/// behind `IsrActix` here (the middleware wraps the whole app); `no-store` keeps it uncached.
async fn count(renders: Renders) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .body(renders.load(Ordering::Relaxed).to_string())
}

/// The origin: a simulated 5 ms render of the ~2 KB page.
async fn render(renders: Renders) -> HttpResponse {
    actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    let n = renders.fetch_add(1, Ordering::Relaxed) + 1;
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(page(n))
}

/// The origin of the HTML article: a simulated 5 ms render of the ~8 KB page.
async fn render_html(renders: Renders) -> HttpResponse {
    actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    let n = renders.fetch_add(1, Ordering::Relaxed) + 1;
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(html_page(n))
}
