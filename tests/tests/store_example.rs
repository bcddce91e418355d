//! The store example end to end: a shop whose pages fetch from a real upstream API through the
//! data cache, and a webhook that revalidates one product's tag.

use std::time::Duration;

use isr_tests::Server;
use store::Shop;
use store::upstream::Api;

const SECRET: &str = "store-secret";

async fn start() -> (Api, Server, Server, Shop) {
    let api = Api::seeded(Duration::from_millis(30));
    let api_server = Server::start(api.router()).await;
    let shop = Shop::new(&format!("http://{}", api_server.addr), SECRET).unwrap();
    let shop_server = Server::start(shop.router()).await;
    (api, api_server, shop_server, shop)
}

#[tokio::test(start_paused = true)]
async fn a_price_webhook_changes_product_page_home_page_and_data_each_fetched_once() {
    let (api, _api, site, _shop) = start().await;
    let product = site.get("/products/blue-sneakers").await;
    assert_eq!(product.cache(), "MISS");
    assert!(product.body.contains("price: $89.00"));
    let home = site.get("/").await;
    assert_eq!(home.cache(), "MISS");
    assert!(home.body.contains("Blue Sneakers</a> — $89.00"));
    assert_eq!(
        api.calls("/api/products/blue-sneakers"),
        1,
        "the home page reused the data entry"
    );
    assert_eq!(site.get("/").await.cache(), "HIT");
    assert_eq!(site.get("/products/blue-sneakers").await.cache(), "HIT");
    let calls_before = api.total_calls();

    let res = site
        .post_json(
            "/admin/price",
            &[],
            &format!(r#"{{"slug": "blue-sneakers", "price_cents": 7950, "secret": "{SECRET}"}}"#),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);

    let product = site.get("/products/blue-sneakers").await;
    assert_eq!(product.cache(), "MISS");
    assert!(product.body.contains("price: $79.50"), "{}", product.body);
    let home = site.get("/").await;
    assert_eq!(home.cache(), "MISS");
    assert!(home.body.contains("Blue Sneakers</a> — $79.50"));
    assert_eq!(
        api.calls("/api/products/blue-sneakers"),
        2,
        "the data entry was refetched exactly once for both pages"
    );
    assert_eq!(
        api.total_calls(),
        calls_before + 1,
        "no other data was refetched"
    );
    assert_eq!(site.get("/products/red-hat").await.cache(), "MISS");
    assert_eq!(site.get("/products/red-hat").await.cache(), "HIT");
}

#[tokio::test(start_paused = true)]
async fn the_pages_take_the_revalidate_of_their_fetches() {
    let (api, _api, site, _shop) = start().await;
    site.get("/products/red-hat").await;
    tokio::time::advance(Duration::from_secs(301)).await;
    let stale = site.get("/products/red-hat").await;
    assert_eq!(
        stale.cache(),
        "STALE",
        "300 s from the fetch, not the layer's 3600 s"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(site.get("/products/red-hat").await.cache(), "HIT");
    assert_eq!(api.calls("/api/products/red-hat"), 2);
}

#[tokio::test(start_paused = true)]
async fn the_webhook_refuses_bad_calls() {
    let (_api, _api_server, site, _shop) = start().await;
    let wrong = site
        .post_json(
            "/admin/price",
            &[],
            r#"{"slug": "red-hat", "price_cents": 1, "secret": "x"}"#,
        )
        .await;
    assert_eq!(wrong.status, 401);
    let malformed = site.post_json("/admin/price", &[], r#"{"slug": 3}"#).await;
    assert_eq!(malformed.status, 400);
    let unknown = site
        .post_json(
            "/admin/price",
            &[],
            &format!(r#"{{"slug": "nope", "price_cents": 1, "secret": "{SECRET}"}}"#),
        )
        .await;
    assert_eq!(unknown.status, 404);
}
