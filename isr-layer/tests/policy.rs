//! Revalidate policies: the lowest revalidate wins across every level.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Origin, advance, get, settle};
use http::{Request, Response};
use http_body_util::Full;
use isr_layer::{
    CacheTags, IsrLayer, IsrPolicyLayer, RenderContext, Revalidate, adapter::PolicySource,
};
use tower::{Layer, ServiceExt};

fn isr(default: Revalidate) -> IsrLayer {
    IsrLayer::builder().revalidate(default).build().unwrap()
}

/// How long `/` stays fresh behind `app`: the first second at which it is served STALE.
async fn freshness_of(app: &isr_layer::service::IsrService<common::OriginService>) -> u64 {
    assert_eq!(get(app, "/").await.cache(), "MISS");
    for second in 1..=4000 {
        advance(1).await;
        if get(app, "/").await.cache() == "STALE" {
            return second;
        }
    }
    panic!("never went stale");
}

#[tokio::test(start_paused = true)]
async fn the_layer_default_applies_when_nothing_lowers_it() {
    let origin = Origin::new();
    assert_eq!(
        freshness_of(&origin.behind(&isr(Revalidate::secs(30)))).await,
        30
    );
}

#[tokio::test(start_paused = true)]
async fn a_handler_policy_lower_than_the_default_wins() {
    let origin = Origin::new();
    origin.on_response(|req, _| {
        req.extensions()
            .get::<RenderContext>()
            .expect("the layer provides a render context")
            .revalidate(Revalidate::secs(10), PolicySource::Handler);
    });
    assert_eq!(
        freshness_of(&origin.behind(&isr(Revalidate::secs(60)))).await,
        10
    );
}

#[tokio::test(start_paused = true)]
async fn a_handler_policy_higher_than_the_default_loses() {
    let origin = Origin::new();
    origin.on_response(|_, res| {
        res.extensions_mut().insert(Revalidate::secs(600));
    });
    assert_eq!(
        freshness_of(&origin.behind(&isr(Revalidate::secs(60)))).await,
        60
    );
}

#[tokio::test(start_paused = true)]
async fn cache_control_s_maxage_from_any_service_sets_the_policy() {
    let origin = Origin::new();
    origin.on_response(|_, res| {
        res.headers_mut().insert(
            "cache-control",
            "public, max-age=5, s-maxage=20".parse().unwrap(),
        );
    });
    let app = origin.behind(&isr(Revalidate::Never));
    assert_eq!(freshness_of(&app).await, 20);
}

/// An origin wrapped in a layout layer, then in the ISR layer: the three levels compete.
fn layered(
    origin: &Origin,
    default: u64,
    layout: IsrPolicyLayer,
) -> isr_layer::service::IsrService<common::OriginService> {
    let inner = layout.layer(origin.service());
    isr(Revalidate::secs(default)).layer(tower::util::BoxCloneSyncService::new(inner))
}

#[tokio::test(start_paused = true)]
async fn lowest_wins_across_layer_layout_and_handler() {
    // layout lowest
    let origin = Origin::new();
    origin.on_response(|_, res| {
        res.extensions_mut().insert(Revalidate::secs(90));
    });
    assert_eq!(
        freshness_of(&layered(&origin, 120, IsrPolicyLayer::revalidate(45))).await,
        45
    );

    // handler lowest
    let origin = Origin::new();
    origin.on_response(|_, res| {
        res.extensions_mut().insert(Revalidate::secs(15));
    });
    assert_eq!(
        freshness_of(&layered(&origin, 120, IsrPolicyLayer::revalidate(45))).await,
        15
    );

    // layer lowest
    let origin = Origin::new();
    origin.on_response(|_, res| {
        res.extensions_mut().insert(Revalidate::secs(90));
    });
    assert_eq!(
        freshness_of(&layered(&origin, 30, IsrPolicyLayer::revalidate(45))).await,
        30
    );
}

#[tokio::test(start_paused = true)]
async fn a_dynamic_layout_makes_the_route_bypass_and_says_so() {
    let origin = Origin::new();
    let app = layered(&origin, 60, IsrPolicyLayer::dynamic());
    for n in 1..=3 {
        let got = get(&app, "/dashboard").await;
        assert_eq!(
            (got.cache(), got.body.clone()),
            ("BYPASS", format!("/dashboard v{n}"))
        );
        assert_eq!(
            got.header("cache-control"),
            None,
            "no downstream caching for dynamic pages"
        );
    }
    assert_eq!(origin.renders(), 3);
}

#[tokio::test(start_paused = true)]
async fn revalidate_zero_from_any_level_means_dynamic() {
    let origin = Origin::new();
    origin.on_response(|_, res| {
        res.headers_mut()
            .insert("cache-control", "s-maxage=0".parse().unwrap());
    });
    let app = origin.behind(&isr(Revalidate::secs(60)));
    assert_eq!(get(&app, "/").await.cache(), "BYPASS");
    assert_eq!(get(&app, "/").await.cache(), "BYPASS");
}

#[tokio::test(start_paused = true)]
async fn a_route_that_turns_dynamic_drops_its_old_entry() {
    let origin = Origin::new();
    let app = origin.behind(&isr(Revalidate::secs(60)));
    get(&app, "/").await;
    advance(61).await;
    origin.on_response(|_, res| {
        res.extensions_mut().insert(Revalidate::Dynamic);
    });
    assert_eq!(get(&app, "/").await.cache(), "STALE");
    settle().await;
    let got = get(&app, "/").await;
    assert_eq!((got.cache(), got.body.as_str()), ("BYPASS", "/ v3"));
}

#[tokio::test(start_paused = true)]
async fn layout_tags_and_handler_tags_both_reach_the_entry() {
    let origin = Origin::new();
    origin.on_response(|req, res| {
        req.extensions()
            .get::<RenderContext>()
            .unwrap()
            .tag("from-context");
        res.extensions_mut()
            .insert(CacheTags::new(["from-response"]));
    });
    let isr = isr(Revalidate::Never);
    let inner = IsrPolicyLayer::tagged(["from-layout"]).layer(origin.service());
    let app = isr.layer(tower::util::BoxCloneSyncService::new(inner));
    get(&app, "/p").await;
    for tag in ["from-layout", "from-context", "from-response"] {
        assert_eq!(get(&app, "/p").await.cache(), "HIT");
        isr.revalidator().revalidate_tag(tag).await.unwrap();
        assert_eq!(
            get(&app, "/p").await.cache(),
            "MISS",
            "tag {tag} reached the page"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_layer_works_around_a_plain_service_fn() {
    let svc = tower::service_fn(|req: Request<Full<Bytes>>| async move {
        Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(
            req.uri().to_string(),
        ))))
    });
    let app = isr(Revalidate::secs(60)).layer(svc);
    let first = app
        .clone()
        .oneshot(Request::new(Full::default()))
        .await
        .unwrap();
    assert_eq!(first.headers()["x-isr-cache"], "MISS");
    let second = app.oneshot(Request::new(Full::default())).await.unwrap();
    assert_eq!(second.headers()["x-isr-cache"], "HIT");
}

#[test]
fn a_dynamic_default_is_a_build_error() {
    let err = IsrLayer::builder()
        .revalidate(Revalidate::Dynamic)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("cannot be dynamic"), "{err}");
    let err = IsrLayer::builder()
        .retry_backoff(Duration::from_secs(10), Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("above its maximum"), "{err}");
    let err = IsrLayer::builder().max_body_bytes(0).build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "`max_body_bytes` must be greater than zero"
    );
}
