//! Single-flight: however many visitors arrive, a key renders once.

mod common;

use std::time::Duration;

use common::{Origin, advance, get, settle};
use isr_layer::{IsrLayer, Revalidate};

fn isr() -> IsrLayer {
    IsrLayer::builder()
        .revalidate(Revalidate::secs(60))
        .build()
        .unwrap()
}

async fn storm(
    app: &isr_layer::service::IsrService<common::OriginService>,
    n: usize,
) -> Vec<common::Got> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { get(&app, "/hot").await })
        })
        .collect();
    let mut got = Vec::with_capacity(n);
    for task in tasks {
        got.push(task.await.unwrap());
    }
    got
}

#[tokio::test(start_paused = true)]
async fn a_thousand_visitors_of_a_cold_key_share_one_render() {
    let origin = Origin::new();
    origin.set_delay(Duration::from_millis(50));
    let app = origin.behind(&isr());

    let got = storm(&app, 1000).await;
    assert_eq!(origin.renders(), 1);
    assert!(
        got.iter().all(|g| g.body == "/hot v1"),
        "everyone got the one render"
    );
    assert!(got.iter().all(|g| g.cache() == "MISS"));
}

#[tokio::test(start_paused = true)]
async fn a_thousand_visitors_of_a_stale_key_start_one_regeneration() {
    let origin = Origin::new();
    origin.set_delay(Duration::from_millis(50));
    let app = origin.behind(&isr());
    get(&app, "/hot").await;
    advance(61).await;

    let got = storm(&app, 1000).await;
    assert!(
        got.iter()
            .all(|g| g.cache() == "STALE" && g.body == "/hot v1")
    );
    settle().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(origin.renders(), 2, "one first render, one regeneration");
    assert_eq!(get(&app, "/hot").await.body, "/hot v2");
}

#[tokio::test(start_paused = true)]
async fn a_visitor_who_leaves_does_not_cancel_the_render() {
    let origin = Origin::new();
    origin.set_delay(Duration::from_secs(1));
    let app = origin.behind(&isr());

    let visitor = {
        let app = app.clone();
        tokio::spawn(async move { get(&app, "/slow").await })
    };
    settle().await;
    visitor.abort(); // the client disconnects mid-render
    assert!(visitor.await.unwrap_err().is_cancelled());

    tokio::time::sleep(Duration::from_secs(2)).await;
    let next = get(&app, "/slow").await;
    assert_eq!((next.cache(), next.body.as_str()), ("HIT", "/slow v1"));
    assert_eq!(origin.renders(), 1);
}

#[tokio::test(start_paused = true)]
async fn waiters_give_up_after_the_waiter_timeout_and_render_on_their_own() {
    let origin = Origin::new();
    origin.set_delay(Duration::from_secs(30));
    let isr = IsrLayer::builder()
        .waiter_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let app = origin.behind(&isr);

    let leader = {
        let app = app.clone();
        tokio::spawn(async move { get(&app, "/slow").await })
    };
    settle().await;
    origin.set_delay(Duration::ZERO);
    let asked = tokio::time::Instant::now();
    let waiter = get(&app, "/slow").await;
    // (The paused clock: these are the cache's own timers, not a measurement.)
    let waited = asked.elapsed();
    assert_eq!(waiter.body, "/slow v2", "the waiter rendered for itself...");
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(3),
        "...after waiting 2 s for the leader, not at once ({waited:?})"
    );
    assert_eq!(origin.renders(), 2);
    assert_eq!(get(&app, "/slow").await.body, "/slow v2");

    assert_eq!(leader.await.unwrap().body, "/slow v1");
    // The leader's render started first and landed last: the newer render stays stored.
    let after = get(&app, "/slow").await;
    assert_eq!((after.cache(), after.body.as_str()), ("HIT", "/slow v2"));
    assert_eq!(origin.renders(), 2);
}

#[tokio::test(start_paused = true)]
async fn background_regenerations_are_bounded() {
    let origin = Origin::new();
    let isr = IsrLayer::builder()
        .revalidate(Revalidate::secs(60))
        .max_background_regenerations(1)
        .build()
        .unwrap();
    let app = origin.behind(&isr);
    get(&app, "/a").await;
    get(&app, "/b").await;
    advance(61).await;
    origin.set_delay(Duration::from_secs(1));

    assert_eq!(get(&app, "/a").await.cache(), "STALE"); // takes the only slot
    assert_eq!(get(&app, "/b").await.cache(), "STALE"); // over the bound: served, not started
    assert_eq!(isr.stats().regenerations_deferred, 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(origin.renders(), 3);
    assert_eq!(get(&app, "/b").await.cache(), "STALE"); // the next hit tries again
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(origin.renders(), 4);
    assert_eq!(get(&app, "/b").await.cache(), "HIT");
}
