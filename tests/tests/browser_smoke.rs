//! The browser harness, end to end: a real headless Chromium fills a form served over real
//! HTTP, accepts a `confirm` dialog, reads what the page wrote and takes a screenshot. On the
//! real clock: the browser works in real time.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use isr_tests::Server;
use isr_tests::browser::{Browser, target_dir};

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Browser smoke</title></head>
<body>
  <input id="name" type="text" value="placeholder">
  <button id="go" type="button"
    onclick="if (confirm('sure?')) document.getElementById('out').textContent = 'hello ' + document.getElementById('name').value;">Go</button>
  <p id="out"></p>
</body>
</html>
"#;

/// The PNG file signature.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fills_a_form_accepts_a_confirm_and_takes_a_screenshot() {
    let app = Router::new().route("/", get(|| async { Html(PAGE) }));
    let server = Server::start(app).await;
    let browser = Browser::start().await;

    browser.goto(&format!("http://{}/", server.addr)).await;
    assert_eq!(browser.count("#go").await, 1);
    browser.fill("#name", "world").await;
    browser.click("#go").await;
    browser.accept_alert().await;
    assert_eq!(browser.text("#out").await, "hello world");

    let path = target_dir().join("browser-smoke.png");
    browser.screenshot(&path).await;
    let png = std::fs::read(&path).expect("read the screenshot back");
    assert!(
        png.starts_with(PNG_SIGNATURE),
        "{} is not a PNG ({} bytes)",
        path.display(),
        png.len()
    );

    browser.close().await;
}
