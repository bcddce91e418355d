//! On-demand revalidation: by path, layout, tag and all; the purge race; O(1) cost.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::{Mode, Origin, advance, get, settle};
use http_body_util::Full;
use isr_layer::store::{Store, StoreFuture, StoreUsage};
use isr_layer::{
    CacheTags, IsrLayer, Revalidate, invalidate::InvalidationMode, invalidate::PathScope,
    invalidate::RevalidateError, store::Entry, store::MemoryStore,
};
use tokio::sync::Notify;

fn isr() -> IsrLayer {
    IsrLayer::builder()
        .revalidate(Revalidate::Never)
        .build()
        .unwrap()
}

fn tagged(origin: &Origin) {
    origin.on_response(|req, res| {
        let path = req.uri().path();
        let mut tags = vec!["all".to_owned()];
        if let Some(slug) = path.strip_prefix("/products/") {
            tags.push(format!("product-{slug}"));
        }
        res.extensions_mut().insert(CacheTags::new(tags));
    });
}

#[tokio::test(start_paused = true)]
async fn revalidate_path_purges_one_page_in_any_spelling() {
    let origin = Origin::new();
    // Every parameter keyed, so `?ref=home` is an entry of its own that the purge must cover.
    let isr = IsrLayer::builder()
        .revalidate(Revalidate::Never)
        .query_mode(isr_layer::key::QueryMode::Full)
        .build()
        .unwrap();
    let app = origin.behind(&isr);
    get(&app, "/docs/a").await;
    get(&app, "/docs/a?ref=home").await;
    get(&app, "/docs/b").await;

    let report = isr
        .revalidator()
        .revalidate_path("/docs/x/../a")
        .await
        .unwrap();
    assert_eq!(report.affected, Some(1));
    let never_cached = isr
        .revalidator()
        .revalidate_path("/docs/never")
        .await
        .unwrap();
    assert_eq!(never_cached.affected, Some(0), "a page never cached");
    let purged = get(&app, "/docs/a").await;
    assert_eq!(
        (purged.cache(), purged.body.as_str()),
        ("MISS", "/docs/a v4")
    );
    assert_eq!(
        get(&app, "/docs/a?ref=home").await.cache(),
        "MISS",
        "query variants too"
    );
    assert_eq!(
        get(&app, "/docs/b").await.cache(),
        "HIT",
        "other pages untouched"
    );
    assert_eq!(get(&app, "/docs/a").await.cache(), "HIT");
}

#[tokio::test(start_paused = true)]
async fn revalidate_layout_purges_a_subtree() {
    let origin = Origin::new();
    let isr = isr();
    let app = origin.behind(&isr);
    for path in [
        "/docs",
        "/docs/",
        "/docs/a",
        "/docs/a/b",
        "/docsearch",
        "/blog/x",
    ] {
        get(&app, path).await;
    }
    isr.revalidator()
        .revalidate_path_scoped("/docs/", PathScope::Layout, InvalidationMode::Expire)
        .await
        .unwrap();
    for (path, expected) in [
        ("/docs", "MISS"),
        ("/docs/", "MISS"),
        ("/docs/a", "MISS"),
        ("/docs/a/b", "MISS"),
        ("/docsearch", "HIT"),
        ("/blog/x", "HIT"),
    ] {
        assert_eq!(get(&app, path).await.cache(), expected, "{path}");
    }
}

#[tokio::test(start_paused = true)]
async fn revalidate_tag_reaches_every_tagged_page_and_nothing_else() {
    let origin = Origin::new();
    tagged(&origin);
    let isr = isr();
    let app = origin.behind(&isr);
    for path in ["/products/blue-sneakers", "/products/red-hat", "/"] {
        get(&app, path).await;
    }
    isr.revalidator()
        .revalidate_tag("product-blue-sneakers")
        .await
        .unwrap();
    assert_eq!(get(&app, "/products/blue-sneakers").await.cache(), "MISS");
    assert_eq!(get(&app, "/products/red-hat").await.cache(), "HIT");
    isr.revalidator().revalidate_tags(["all"]).await.unwrap();
    assert_eq!(get(&app, "/products/red-hat").await.cache(), "MISS");
    assert_eq!(get(&app, "/").await.cache(), "MISS");
    isr.revalidator().revalidate_all().await.unwrap();
    assert_eq!(get(&app, "/").await.cache(), "MISS");
}

#[tokio::test(start_paused = true)]
async fn visitors_after_a_purge_share_one_fresh_render() {
    let origin = Origin::new();
    let isr = isr();
    let app = origin.behind(&isr);
    get(&app, "/p").await;
    isr.revalidator().revalidate_path("/p").await.unwrap();
    origin.set_delay(Duration::from_millis(100));
    let visitors: Vec<_> = (0..100).map(|_| tokio::spawn(get(&app, "/p"))).collect();
    for v in visitors {
        let got = v.await.unwrap();
        assert_eq!((got.cache(), got.body.as_str()), ("MISS", "/p v2"));
    }
    assert_eq!(origin.renders(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failing_render_after_a_purge_serves_the_old_copy() {
    let origin = Origin::new();
    let isr = isr();
    let app = origin.behind(&isr);
    get(&app, "/p").await;
    isr.revalidator().revalidate_path("/p").await.unwrap();
    origin.set_mode(Mode::ServerError);
    let got = get(&app, "/p").await;
    assert_eq!(
        (got.status.as_u16(), got.cache(), got.body.as_str()),
        (200, "STALE", "/p v1")
    );
    // Backed off: the next visitors get the old copy without another render.
    assert_eq!(get(&app, "/p").await.cache(), "STALE");
    assert_eq!(origin.renders(), 2);
    // Once the origin is back and the back-off has passed, the fresh render lands.
    origin.set_mode(Mode::Ok);
    advance(4).await;
    let got = get(&app, "/p").await;
    assert_eq!((got.cache(), got.body.as_str()), ("MISS", "/p v3"));
}

#[tokio::test(start_paused = true)]
async fn stale_mode_serves_the_old_copy_while_one_regeneration_runs() {
    let origin = Origin::new();
    tagged(&origin);
    let isr = isr();
    let app = origin.behind(&isr);
    get(&app, "/products/x").await;
    isr.revalidator()
        .revalidate_tag_with("product-x", InvalidationMode::Stale)
        .await
        .unwrap();
    let got = get(&app, "/products/x").await;
    assert_eq!(
        (got.cache(), got.body.as_str()),
        ("STALE", "/products/x v1")
    );
    settle().await;
    let got = get(&app, "/products/x").await;
    assert_eq!((got.cache(), got.body.as_str()), ("HIT", "/products/x v2"));
}

#[tokio::test(start_paused = true)]
async fn a_purge_during_a_render_is_never_lost() {
    // The renderer waits at a gate, so the purge lands deterministically mid-render.
    let gate = Arc::new(Notify::new());
    let entered = Arc::new(Notify::new());
    let renders = Arc::new(AtomicUsize::new(0));
    let svc = {
        let (gate, entered, renders) = (gate.clone(), entered.clone(), renders.clone());
        tower::service_fn(move |_req: http::Request<Full<Bytes>>| {
            let (gate, entered, renders) = (gate.clone(), entered.clone(), renders.clone());
            async move {
                let n = renders.fetch_add(1, Ordering::SeqCst) + 1;
                if n == 1 {
                    entered.notify_one();
                    gate.notified().await;
                }
                let mut res = http::Response::new(Full::new(Bytes::from(format!("v{n}"))));
                res.extensions_mut().insert(CacheTags::new(["t"]));
                Ok::<_, std::convert::Infallible>(res)
            }
        })
    };
    let isr = isr();
    let app = tower::Layer::layer(&isr, svc);
    let visit = |app: isr_layer::service::IsrService<_>| async move {
        let res = tower::ServiceExt::oneshot(app, common::request("GET", "/p"))
            .await
            .unwrap();
        let cache = res.headers()["x-isr-cache"].to_str().unwrap().to_owned();
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        (cache, String::from_utf8(body.to_vec()).unwrap())
    };

    let first = tokio::spawn(visit(app.clone()));
    entered.notified().await; // the render has started with the old content
    isr.revalidator().revalidate_tag("t").await.unwrap(); // the CMS purges now
    gate.notify_one();
    assert_eq!(first.await.unwrap(), ("MISS".into(), "v1".into()));

    // The render that started before the purge is already invalid: the next visitor renders.
    assert_eq!(visit(app.clone()).await, ("MISS".into(), "v2".into()));
    assert_eq!(visit(app).await, ("HIT".into(), "v2".into()));
}

/// A memory store that counts every operation made on it.
#[derive(Debug, Clone)]
struct CountingStore {
    inner: MemoryStore,
    ops: Arc<AtomicUsize>,
}

impl Store for CountingStore {
    fn get_local(&self, key: &str) -> Option<Arc<Entry>> {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.inner.get_local(key)
    }
    fn put(&self, entry: Arc<Entry>) -> StoreFuture<'_, ()> {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.inner.put(entry)
    }
    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.inner.remove(key)
    }
    fn usage(&self) -> StoreUsage {
        self.inner.usage()
    }
    fn local_entries(&self, limit: usize) -> Vec<Arc<Entry>> {
        // A scan is an operation too: a purge that listed entries would show here.
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.inner.local_entries(limit)
    }
}

#[tokio::test(start_paused = true)]
async fn invalidating_a_tag_on_100k_pages_touches_none_of_them() {
    let ops = Arc::new(AtomicUsize::new(0));
    let store = CountingStore {
        inner: MemoryStore::default(),
        ops: ops.clone(),
    };
    let isr = IsrLayer::builder()
        .revalidate(Revalidate::Never)
        .store(store)
        .build()
        .unwrap();
    let origin = Origin::new();
    origin.on_response(|_, res| {
        res.extensions_mut().insert(CacheTags::new(["everywhere"]));
    });
    let app = origin.behind(&isr);
    for i in 0..100_000 {
        get(&app, &format!("/p/{i}")).await;
    }
    assert_eq!(isr.stats().entries, 100_000);

    let before = ops.load(Ordering::Relaxed);
    isr.revalidator()
        .revalidate_tag("everywhere")
        .await
        .unwrap();
    assert_eq!(
        ops.load(Ordering::Relaxed),
        before,
        "no entry is read, written or scanned"
    );
    assert_eq!(
        isr.stats().invalidation_stamps,
        1,
        "one stamp, whatever the page count"
    );

    // ...and yet every page is invalid.
    assert_eq!(get(&app, "/p/0").await.cache(), "MISS");
    assert_eq!(get(&app, "/p/99999").await.cache(), "MISS");
}

#[tokio::test(start_paused = true)]
async fn the_stamp_table_stays_bounded_without_losing_a_purge() {
    let origin = Origin::new();
    tagged(&origin);
    let isr = IsrLayer::builder()
        .revalidate(Revalidate::Never)
        .max_invalidation_stamps(100)
        .build()
        .unwrap();
    let app = origin.behind(&isr);
    get(&app, "/products/early").await;
    isr.revalidator()
        .revalidate_tag("product-early")
        .await
        .unwrap();
    for i in 0..1_000 {
        isr.revalidator()
            .revalidate_tag(&format!("unrelated-{i}"))
            .await
            .unwrap();
    }
    assert!(isr.stats().invalidation_stamps <= 100);
    assert_eq!(
        get(&app, "/products/early").await.cache(),
        "MISS",
        "the purge survived pruning"
    );
}

#[tokio::test]
async fn bad_targets_are_refused_with_a_reason() {
    let r = IsrLayer::new().revalidator();
    assert_eq!(
        r.revalidate_tag("").await.unwrap_err(),
        RevalidateError::EmptyTag
    );
    assert_eq!(
        r.revalidate_tag(&"t".repeat(257)).await.unwrap_err(),
        RevalidateError::TagTooLong
    );
    assert_eq!(
        r.revalidate_path("docs/a").await.unwrap_err(),
        RevalidateError::PathNotAbsolute
    );
    assert_eq!(
        r.revalidate_tags(["ok", ""]).await.unwrap_err(),
        RevalidateError::EmptyTag,
    );
}

#[tokio::test(start_paused = true)]
async fn a_list_with_one_bad_tag_applies_none_of_it() {
    let origin = Origin::new();
    tagged(&origin);
    let isr = isr();
    let app = origin.behind(&isr);
    get(&app, "/products/a").await;
    let stamps = isr.stats().invalidation_stamps;
    assert_eq!(
        isr.revalidator()
            .revalidate_tags(["product-a", ""])
            .await
            .unwrap_err(),
        RevalidateError::EmptyTag
    );
    assert_eq!(
        isr.stats().invalidation_stamps,
        stamps,
        "no stamp was added for the good tag"
    );
    assert_eq!(
        get(&app, "/products/a").await.cache(),
        "HIT",
        "nothing purged"
    );
}

/// Subscribers hear of every invalidation: what, how, who asked, and when it took effect.
#[tokio::test(start_paused = true)]
async fn an_invalidation_is_announced_with_its_target_mode_origin_and_time() {
    use isr_layer::invalidate::{InvalidationTarget, Origin as Asker};
    use std::time::SystemTime;

    let isr = isr();
    let revalidator = isr.revalidator();
    let mut events = revalidator.subscribe();
    let before = SystemTime::now();
    revalidator
        .revalidate_tag_with("docs", InvalidationMode::Stale)
        .await
        .unwrap();
    let event = events.recv().await.unwrap();
    assert_eq!(event.target, InvalidationTarget::Tag("docs".to_owned()));
    assert_eq!(event.mode, InvalidationMode::Stale);
    assert_eq!(event.origin, Asker::Code);
    // The clock is paused: the stamp is the moment the layer was built, give or take.
    let off = match event.at.duration_since(before) {
        Ok(after) => after,
        Err(earlier) => earlier.duration(),
    };
    assert!(off < Duration::from_secs(60), "{:?}", event.at);
}

/// Past the bound on stamps the older half is folded into one: a page those stamps purged stays
/// purged, and a page rendered after the newest folded stamp (and reached by no kept one) stays
/// fresh.
#[tokio::test(start_paused = true)]
async fn folded_stamps_keep_purged_pages_purged_and_newer_pages_fresh() {
    let origin = Origin::new();
    tagged(&origin);
    let isr = IsrLayer::builder()
        .revalidate(Revalidate::Never)
        .max_invalidation_stamps(4)
        .build()
        .unwrap();
    let app = origin.behind(&isr);
    let revalidator = isr.revalidator();
    let purge = |tag: &'static str| {
        let revalidator = revalidator.clone();
        async move {
            advance(1).await;
            revalidator.revalidate_tag(tag).await.unwrap();
        }
    };

    get(&app, "/products/q").await;
    purge("product-q").await;
    purge("product-b").await;
    purge("product-c").await;
    advance(1).await;
    get(&app, "/products/p").await;
    purge("product-d").await;
    // The fifth stamp goes past the bound: q, b and c are folded, d and e kept.
    purge("product-e").await;

    assert_eq!(get(&app, "/products/p").await.cache(), "HIT");
    assert_eq!(get(&app, "/products/q").await.cache(), "MISS");
}
