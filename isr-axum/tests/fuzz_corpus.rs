//! Replays the purge-router fuzz corpus (`fuzz/corpus/purge_body`) with the fuzz target's
//! check: any body gets 200, 400, 401, 413 or 415, never a panic or a 500. Each input is the
//! secret header (its first `SECRET.len()` bytes) followed by the body, as the fuzz target
//! reads it; the seeds that carry the right secret must reach the JSON parser, so their
//! expected answers are checked too.

use std::path::PathBuf;

use axum::body::Body;
use axum::http::Request;
use isr_axum::{IsrLayer, PurgeAuth, purge_router};
use tower::ServiceExt;

/// The fuzz target's secret; an input's first `SECRET.len()` bytes are its header.
const SECRET: &str = "fuzz-secret";

/// What the seeds must get: the parser's answers for the right secret, 401 for a wrong one.
const EXPECTED: [(&str, u16); 6] = [
    ("tag", 200),
    ("layout", 200),
    ("empty-tag", 400),
    ("malformed", 400),
    ("wrong-type", 400),
    ("wrong-secret", 401),
];

#[tokio::test]
async fn purge_body_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/purge_body");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut parsed = 0;
    for file in &files {
        let data = std::fs::read(file).unwrap();
        let (secret, body) = data.split_at(data.len().min(SECRET.len()));
        let router: axum::Router = purge_router(
            IsrLayer::new().revalidator(),
            PurgeAuth::new(SECRET).unwrap(),
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
        parsed += usize::from(status != 401);
        let name = file.file_name().unwrap().to_str().unwrap();
        if let Some((_, expected)) = EXPECTED.iter().find(|(seed, _)| *seed == name) {
            assert_eq!(status, *expected, "{name}");
        }
    }
    for (seed, _) in EXPECTED {
        assert!(dir.join(seed).exists(), "the seed {seed} is in the corpus");
    }
    assert!(
        parsed >= 5,
        "only {parsed} inputs got past the secret check to the parser"
    );
}
