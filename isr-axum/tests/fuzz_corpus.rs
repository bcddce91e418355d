//! Replays the purge-router fuzz corpus (`fuzz/corpus/purge_body`) with the fuzz target's
//! check: any body gets 200, 400, 401, 413 or 415, never a panic or a 500.

use std::path::PathBuf;

use axum::body::Body;
use axum::http::Request;
use isr_axum::{IsrLayer, PurgeAuth, purge_router};
use tower::ServiceExt;

#[tokio::test]
async fn purge_body_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/purge_body");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    assert!(!files.is_empty());
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let (secret, body) = data.split_at(data.len().min(8));
        let router: axum::Router = purge_router(
            IsrLayer::new().revalidator(),
            PurgeAuth::new("fuzz-secret").unwrap(),
        );
        let mut request = Request::post("/").header("content-type", "application/json");
        if let Ok(secret) = std::str::from_utf8(secret)
            && !secret.is_empty()
            && secret.is_ascii()
            && !secret.contains(['\r', '\n'])
        {
            request = request.header("x-revalidate-secret", secret);
        }
        let Ok(request) = request.body(Body::from(body.to_vec())) else {
            continue;
        };
        let status = router.oneshot(request).await.unwrap().status().as_u16();
        assert!(
            [200, 400, 401, 413, 415].contains(&status),
            "{}: {status}",
            file.display()
        );
    }
}
