//! The cache inspector in a real browser (headless Chromium through WebDriver), for the axum
//! and the actix docs site: sign in with a wrong then the right secret, see the prerendered
//! guides, filter by tag, purge the tag from the page, see the guides turn invalid and come back
//! fresh after visits (MISS, then HIT), see the dynamic dashboard in the "not cached" panel, and
//! save a screenshot. On the real clock: the browser works in real time.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`scripts/ensure-chromium.sh`).

use docs_site::{Config, Site};
use fantoccini::Locator;
use isr_tests::Server;
use isr_tests::browser::{Browser, target_dir};

const SECRET: &str = "browser-inspector-secret";

fn config() -> Config {
    Config::from_vars(|name| match name {
        "REVALIDATION_SECRET" => Some(SECRET.to_owned()),
        _ => None,
    })
    .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn the_axum_inspector_in_a_browser() {
    let site = Site::new(config()).await.unwrap();
    let router = site.router();
    assert_eq!(site.prerender(router.clone()).await.failed.len(), 0);
    let server = Server::start(router).await;
    drive(&server, "axum").await;
}

#[tokio::test(flavor = "current_thread")]
async fn the_actix_inspector_in_a_browser() {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let site = actix_docs_site::Site::new(config()).await.unwrap();
            assert_eq!(site.prerender().await.failed.len(), 0);
            let server = Server::start_actix(actix_docs_site::app(site)).await;
            drive(&server, "actix").await;
        })
        .await;
}

async fn select(browser: &Browser, css: &str, value: &str) {
    browser
        .client()
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("find {css}: {e}"))
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
}

async fn drive(server: &Server, framework: &str) {
    let base = format!("http://{}", server.addr);
    let browser = Browser::start().await;

    // A wrong secret, then the right one.
    browser.goto(&format!("{base}/_isr")).await;
    browser.fill("#secret", "not-the-secret").await;
    browser.click("#sign-in-button").await;
    let error = browser.text("#error").await;
    assert!(error.contains("not the revalidation secret"), "{error}");
    browser.fill("#secret", SECRET).await;
    browser.click("#sign-in-button").await;

    // The prerendered guides, and the figures.
    assert_eq!(browser.text("#entries").await, "80");
    assert_eq!(browser.text("#matched").await, "80");
    // A product besides the guides, so that a filter has something to leave out.
    assert_eq!(server.get("/products/blue-sneakers").await.cache(), "MISS");
    assert!(browser.text("#store").await.starts_with("memory"));

    // A dynamic page appears in the "not cached" panel with its reason.
    assert_eq!(server.get("/dashboard/stats").await.cache(), "BYPASS");
    browser.goto(&format!("{base}/_isr")).await;
    assert_eq!(browser.text("#matched").await, "81");
    let not_cached = browser.text("#not-cached").await;
    assert!(not_cached.contains("/dashboard/stats"), "{not_cached}");
    assert!(not_cached.contains("dynamic"), "{not_cached}");

    // Filter by tag: the guides, not the product (50 on the first page).
    browser.fill("#filter-tag", "docs").await;
    browser.click("#filter-button").await;
    browser.wait_for_url("tag=docs").await;
    assert_eq!(browser.text("#matched").await, "80");
    assert_eq!(browser.count("tr.entry").await, 50);
    assert_eq!(browser.count("tr.entry td.state-fresh").await, 50);

    // Purge the tag from the page, confirming.
    select(&browser, "#purge-kind", "tag").await;
    browser.fill("#purge-target", "docs").await;
    browser.click("#purge-button").await;
    browser.accept_alert().await;
    let flash = browser.text("#flash").await;
    assert!(flash.contains("Revalidated tag docs"), "{flash}");
    assert!(browser.text("#purges").await.contains("inspector"));

    // Every guide is invalid now; a visit renders one again (MISS), the next is a HIT.
    browser
        .goto(&format!("{base}/_isr?state=invalid&tag=docs"))
        .await;
    assert_eq!(browser.text("#matched").await, "80");
    assert_eq!(server.get("/docs/getting-started").await.cache(), "MISS");
    assert_eq!(server.get("/docs/getting-started").await.cache(), "HIT");
    browser
        .goto(&format!("{base}/_isr?state=fresh&tag=docs"))
        .await;
    assert_eq!(browser.text("#matched").await, "1");
    assert_eq!(
        browser.text("tr.entry td.key").await,
        "/docs/getting-started"
    );

    // The page as an operator sees it.
    browser.goto(&format!("{base}/_isr")).await;
    browser.wait_for("#entries-table").await;
    let path = target_dir().join(format!("inspector-{framework}.png"));
    browser.screenshot(&path).await;
    let png = std::fs::read(&path).expect("read the screenshot back");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{}", path.display());
    browser.close().await;
}
