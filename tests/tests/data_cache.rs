//! The data cache against a real HTTP upstream, counting upstream calls: through the generic
//! `get_or_fetch`, the tower `DataCacheLayer` around hyper's client, and the reqwest middleware.

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use isr_layer::{
    DataCache, FetchOptions, IsrLayer, IsrPolicyLayer, Revalidate, data::DataCacheLayer,
    data::DataCacheMiddleware,
};
use isr_tests::{Server, Upstream};
use tower::{Service, ServiceBuilder, ServiceExt};

/// How a test reaches the upstream.
#[derive(Clone, Copy, Debug)]
enum Via {
    Closure,
    Layer,
    Reqwest,
}

const ALL: [Via; 3] = [Via::Closure, Via::Layer, Via::Reqwest];

/// What one fetch returned: status, body, and `x-isr-data-cache` where the client shows it.
type Fetch = (u16, String);

async fn fetch(
    via: Via,
    data: &DataCache,
    base: &str,
    slug: &str,
    options: FetchOptions,
    traceparent: Option<&str>,
) -> Fetch {
    let url = format!("{base}/prices/{slug}");
    match via {
        Via::Closure => {
            let client: Client<HttpConnector, Full<Bytes>> =
                Client::builder(TokioExecutor::new()).build_http();
            let uri = url.clone();
            let result = data
                .get_or_fetch_bytes(&format!("price:{slug}"), options, move || async move {
                    let response = client
                        .get(uri.parse().unwrap())
                        .await
                        .map_err(|e| e.to_string())?;
                    if response.status() != StatusCode::OK {
                        return Err(format!("status {}", response.status()));
                    }
                    let body = response
                        .into_body()
                        .collect()
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(body.to_bytes())
                })
                .await;
            match result {
                Ok(body) => (200, String::from_utf8(body.to_vec()).unwrap()),
                Err(e) => (502, e),
            }
        }
        Via::Layer => {
            let client: Client<HttpConnector, Full<Bytes>> =
                Client::builder(TokioExecutor::new()).build_http();
            let mut service = ServiceBuilder::new()
                .layer(DataCacheLayer::new(data.clone()))
                .service(client);
            let mut request = Request::get(&url);
            if let Some(tp) = traceparent {
                request = request.header("traceparent", tp);
            }
            let mut request = request.body(Full::new(Bytes::new())).unwrap();
            request.extensions_mut().insert(options);
            let response = service.ready().await.unwrap().call(request).await.unwrap();
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
        Via::Reqwest => {
            let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .with(DataCacheMiddleware::new(
                    data.clone(),
                    reqwest::Client::new(),
                ))
                .build();
            let mut request = client.get(&url).with_extension(options);
            if let Some(tp) = traceparent {
                request = request.header("traceparent", tp);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    }
}

async fn setup() -> (Upstream, Server, IsrLayer, String) {
    let (upstream, server) = Upstream::start(&[("blue-sneakers", 8900), ("red-hat", 2500)]).await;
    let base = format!("http://{}", server.addr);
    (upstream, server, IsrLayer::new(), base)
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[tokio::test(start_paused = true)]
async fn concurrent_identical_fetches_make_one_upstream_call() {
    for via in ALL {
        let (upstream, _server, isr, base) = setup().await;
        let data = isr.data_cache();
        let calls: Vec<_> = (0..50)
            .map(|_| {
                let (data, base) = (data.clone(), base.clone());
                tokio::spawn(async move {
                    fetch(
                        via,
                        &data,
                        &base,
                        "blue-sneakers",
                        FetchOptions::revalidate(60),
                        None,
                    )
                    .await
                })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap(), (200, "8900".to_owned()), "{via:?}");
        }
        assert_eq!(upstream.calls(), 1, "{via:?}");
        assert_eq!(data.stats().fetches, 1, "{via:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_stale_value_is_served_while_exactly_one_refresh_runs() {
    for via in ALL {
        let (upstream, _server, isr, base) = setup().await;
        let data = isr.data_cache();
        let opts = || FetchOptions::revalidate(60);
        assert_eq!(
            fetch(via, &data, &base, "blue-sneakers", opts(), None)
                .await
                .1,
            "8900"
        );
        upstream.set_price("blue-sneakers", 7900);
        tokio::time::advance(Duration::from_secs(61)).await;
        for _ in 0..5 {
            let got = fetch(via, &data, &base, "blue-sneakers", opts(), None).await;
            assert_eq!(got.1, "8900", "{via:?}: the old value at once");
        }
        settle().await;
        assert_eq!(upstream.calls(), 2, "{via:?}: exactly one refresh");
        assert_eq!(
            fetch(via, &data, &base, "blue-sneakers", opts(), None)
                .await
                .1,
            "7900"
        );
        assert_eq!(data.stats().stale, 5, "{via:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_refresh_keeps_the_old_value_and_backs_off() {
    for via in ALL {
        let (upstream, _server, isr, base) = setup().await;
        let data = isr.data_cache();
        let opts = || FetchOptions::revalidate(60);
        fetch(via, &data, &base, "red-hat", opts(), None).await;
        upstream.fail(true);
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(
            fetch(via, &data, &base, "red-hat", opts(), None).await,
            (200, "2500".into())
        );
        settle().await;
        assert_eq!(upstream.calls(), 2, "{via:?}");
        for _ in 0..3 {
            assert_eq!(
                fetch(via, &data, &base, "red-hat", opts(), None).await.1,
                "2500"
            );
        }
        settle().await;
        assert_eq!(upstream.calls(), 2, "{via:?}: backed off, not hammered");
    }
}

#[tokio::test(start_paused = true)]
async fn errors_and_non_200_answers_are_never_stored() {
    for via in ALL {
        let (upstream, _server, isr, base) = setup().await;
        let data = isr.data_cache();
        for _ in 0..2 {
            let (status, _) = fetch(
                via,
                &data,
                &base,
                "no-such",
                FetchOptions::revalidate(60),
                None,
            )
            .await;
            assert_ne!(status, 200, "{via:?}");
        }
        assert_eq!(upstream.calls(), 2, "{via:?}");
        assert_eq!(data.stats().entries, 0, "{via:?}");
    }
}

#[tokio::test]
async fn transport_errors_are_never_stored_and_the_next_fetch_tries_again() {
    // An address nothing listens on: every connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}/prices/x");
    let data = IsrLayer::new().data_cache();
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();

    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..2 {
        let (client, url, calls) = (client.clone(), url.clone(), calls.clone());
        let result = data
            .get_or_fetch_bytes(
                "price:x",
                FetchOptions::revalidate(60),
                move || async move {
                    calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    client
                        .get(url.parse().unwrap())
                        .await
                        .map(|_| Bytes::new())
                        .map_err(|e| e.to_string())
                },
            )
            .await;
        assert!(result.is_err(), "the closure's transport error comes back");
    }
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "nothing was stored: the second fetch tried again"
    );

    let mut layer = ServiceBuilder::new()
        .layer(DataCacheLayer::new(data.clone()))
        .service(client.clone());
    let mut request = Request::get(&url).body(Full::new(Bytes::new())).unwrap();
    request
        .extensions_mut()
        .insert(FetchOptions::revalidate(60));
    let answer = layer.ready().await.unwrap().call(request).await;
    assert!(
        answer.is_err(),
        "the client's error passes through the layer"
    );

    let reqwest = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(DataCacheMiddleware::new(
            data.clone(),
            reqwest::Client::new(),
        ))
        .build();
    let answer = reqwest
        .get(&url)
        .with_extension(FetchOptions::revalidate(60))
        .send()
        .await;
    assert!(answer.is_err(), "the middleware passes the error on");
    assert_eq!(data.stats().entries, 0, "no error was stored");

    let stored = data
        .get_or_fetch_bytes("price:x", FetchOptions::revalidate(60), || async {
            Ok::<_, String>(Bytes::from_static(b"8900"))
        })
        .await
        .unwrap();
    assert_eq!(&stored[..], b"8900");
    assert_eq!(data.stats().entries, 1);
}

#[tokio::test(start_paused = true)]
async fn no_store_always_fetches() {
    for via in ALL {
        let (upstream, _server, isr, base) = setup().await;
        let data = isr.data_cache();
        for _ in 0..3 {
            fetch(via, &data, &base, "red-hat", FetchOptions::no_store(), None).await;
        }
        assert_eq!(upstream.calls(), 3, "{via:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_key_leaves_out_traceparent() {
    for via in [Via::Layer, Via::Reqwest] {
        let (upstream, _server, isr, base) = setup().await;
        let data = isr.data_cache();
        let a = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let b = "00-1bf7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01";
        fetch(
            via,
            &data,
            &base,
            "red-hat",
            FetchOptions::revalidate(60),
            Some(a),
        )
        .await;
        fetch(
            via,
            &data,
            &base,
            "red-hat",
            FetchOptions::revalidate(60),
            Some(b),
        )
        .await;
        assert_eq!(upstream.calls(), 1, "{via:?}");
        assert_eq!(upstream.traceparents(), [a], "{via:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn revalidate_tag_reaches_data_entries() {
    for via in ALL {
        let (upstream, _server, isr, base) = setup().await;
        let data = isr.data_cache();
        let opts = || FetchOptions::revalidate_never().tags(["product-red-hat"]);
        fetch(via, &data, &base, "red-hat", opts(), None).await;
        fetch(via, &data, &base, "red-hat", opts(), None).await;
        upstream.set_price("red-hat", 1900);
        isr.revalidator()
            .revalidate_tag("product-red-hat")
            .await
            .unwrap();
        assert_eq!(
            fetch(via, &data, &base, "red-hat", opts(), None).await.1,
            "1900"
        );
        assert_eq!(
            fetch(via, &data, &base, "red-hat", opts(), None).await.1,
            "1900"
        );
        assert_eq!(upstream.calls(), 2, "{via:?}: refetched exactly once");
    }
}

#[derive(Clone)]
struct Shop {
    data: DataCache,
    base: String,
    via: Via,
}

async fn product_page(State(shop): State<Shop>, Path(slug): Path<String>) -> String {
    let options = FetchOptions::revalidate(300).tags([format!("product-{slug}")]);
    let (_, price) = fetch(shop.via, &shop.data, &shop.base, &slug, options, None).await;
    format!("{slug} costs {price}")
}

async fn shop(via: Via, dynamic: bool) -> (Upstream, Server, Server, IsrLayer) {
    let (upstream, upstream_server, isr, base) = setup().await;
    let shop = Shop {
        data: isr.data_cache(),
        base,
        via,
    };
    let mut products = Router::new().route("/{slug}", get(product_page));
    if dynamic {
        products = products.layer(IsrPolicyLayer::dynamic());
    }
    let app = Router::new()
        .nest("/products", products)
        .with_state(shop)
        .layer(isr.clone());
    (upstream, upstream_server, Server::start(app).await, isr)
}

#[tokio::test(start_paused = true)]
async fn a_tag_purge_re_renders_the_page_and_refetches_its_data_once() {
    for via in ALL {
        let (upstream, _u, site, isr) = shop(via, false).await;
        assert_eq!(site.get("/products/blue-sneakers").await.cache(), "MISS");
        assert_eq!(site.get("/products/blue-sneakers").await.cache(), "HIT");
        upstream.set_price("blue-sneakers", 7950);
        isr.revalidator()
            .revalidate_tag("product-blue-sneakers")
            .await
            .unwrap();
        let page = site.get("/products/blue-sneakers").await;
        assert_eq!(page.cache(), "MISS", "{via:?}");
        assert_eq!(page.body, "blue-sneakers costs 7950", "{via:?}");
        assert_eq!(
            upstream.calls(),
            2,
            "{via:?}: the data entry refetched exactly once"
        );
        assert_eq!(site.get("/products/blue-sneakers").await.cache(), "HIT");
    }
}

#[tokio::test(start_paused = true)]
async fn the_lowest_revalidate_flows_from_the_fetch_to_the_page() {
    let (_upstream, _u, site, _isr) = shop(Via::Closure, false).await;
    assert_eq!(site.get("/products/red-hat").await.cache(), "MISS");
    tokio::time::advance(Duration::from_secs(299)).await;
    assert_eq!(site.get("/products/red-hat").await.cache(), "HIT");
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        site.get("/products/red-hat").await.cache(),
        "STALE",
        "the page took the fetch's 300 s, not the layer's 3600 s"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dynamic_route_still_hits_the_data_cache() {
    for via in ALL {
        let (upstream, _u, site, _isr) = shop(via, true).await;
        for _ in 0..5 {
            let page = site.get("/products/red-hat").await;
            assert_eq!(page.cache(), "BYPASS", "{via:?}");
            assert_eq!(page.body, "red-hat costs 2500");
        }
        assert_eq!(
            upstream.calls(),
            1,
            "{via:?}: the handler ran 5 times, the upstream once"
        );
        tokio::time::advance(Duration::from_secs(301)).await;
        site.get("/products/red-hat").await;
        settle().await;
        assert_eq!(upstream.calls(), 2, "{via:?}: once per revalidate");
    }
}

#[test]
fn revalidate_zero_means_no_store() {
    assert_eq!(
        FetchOptions::revalidate(0),
        FetchOptions::with_revalidate(Revalidate::Dynamic)
    );
}
