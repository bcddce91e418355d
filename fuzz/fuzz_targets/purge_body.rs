//! Any body (and secret header) sent to the purge router gets 200, 400, 401, 413 or 415 —
//! never a panic or a 500.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::Request;
use isr_axum::{IsrLayer, PurgeAuth, purge_router};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().unwrap())
}

fuzz_target!(|data: &[u8]| {
    let (secret, body) = data.split_at(data.len().min("fuzz-secret".len()));
    let router: axum::Router =
        purge_router(IsrLayer::new().revalidator(), PurgeAuth::new("fuzz-secret").unwrap());
    let mut request = Request::post("/").header("content-type", "application/json");
    if let Ok(secret) = std::str::from_utf8(secret) {
        if !secret.is_empty() && secret.is_ascii() && !secret.contains(['\r', '\n']) {
            request = request.header("x-revalidate-secret", secret);
        }
    }
    let Ok(request) = request.body(Body::from(body.to_vec())) else { return };
    let status = runtime().block_on(router.oneshot(request)).unwrap().status().as_u16();
    assert!([200, 400, 401, 413, 415].contains(&status), "status {status}");
});
