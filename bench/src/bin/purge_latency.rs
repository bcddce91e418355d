//! Time from `revalidate_tag` on instance A to the page being invalid on every other instance,
//! `RedisStore`s sharing one Redis: p50 / p99 / max over N purges.
//!
//! ```text
//! purge-latency [purges = 1000] [instances = 2]
//! ```
//!
//! The Redis is the one the examples would use: `ISR_REDIS_CLUSTER_NODES` (a Redis Cluster),
//! else `ISR_REDIS_SENTINELS` with `ISR_REDIS_MASTER`, else `ISR_REDIS_URL` (default
//! `redis://127.0.0.1:6379`).

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use isr_layer::store::{RedisStore, RedisStoreBuilder};
use isr_layer::{CacheTags, IsrLayer, Revalidate, invalidate::EntryState};
use tower::{Layer, ServiceExt};

/// A store builder for the Redis the environment names, and what it is.
fn redis_from_env() -> (RedisStoreBuilder, String) {
    let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let list = |value: String| -> Vec<String> {
        value
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    };
    if let Some(nodes) = var("ISR_REDIS_CLUSTER_NODES") {
        let nodes = list(nodes);
        let what = format!("a Redis Cluster ({} seeds)", nodes.len());
        return (RedisStore::cluster(nodes), what);
    }
    if let (Some(sentinels), Some(master)) = (var("ISR_REDIS_SENTINELS"), var("ISR_REDIS_MASTER")) {
        let what = format!("Sentinel (master {master})");
        return (RedisStore::sentinel(master, list(sentinels)), what);
    }
    let url = var("ISR_REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let what = format!("one Redis node ({url})");
    (RedisStore::builder(url), what)
}

async fn layer(prefix: &str) -> Result<IsrLayer, Box<dyn std::error::Error>> {
    let store = redis_from_env().0.prefix(prefix).connect().await?;
    Ok(IsrLayer::builder()
        .revalidate(Revalidate::Never)
        .store(store)
        .build()?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let purges: usize = args.next().map_or(Ok(1000), |n| n.parse())?;
    let instances: usize = args.next().map_or(Ok(2), |n| n.parse())?;
    if instances < 2 {
        return Err("at least two instances: one purges, the others are timed".into());
    }
    let prefix = format!("isr-bench-purge-{}", std::process::id());
    let a = layer(&prefix).await?;
    let mut others = Vec::new();
    for _ in 1..instances {
        others.push(layer(&prefix).await?);
    }
    let page = tower::service_fn(|_: Request<Full<Bytes>>| async {
        let mut res = Response::new(Full::new(Bytes::from_static(b"page")));
        res.extensions_mut().insert(CacheTags::new(["t"]));
        Ok::<_, Infallible>(res)
    });
    let apps: Vec<_> = others.iter().map(|other| other.layer(page)).collect();
    // Each other instance renders the page (valid again there).
    let render_on_others = || async {
        for app in &apps {
            app.clone()
                .oneshot(Request::new(Full::default()))
                .await
                .map(drop)?;
        }
        Ok::<_, Infallible>(())
    };
    let invalid_on_all = || {
        others.iter().all(|other| {
            other
                .revalidator()
                .inspect(10)
                .iter()
                .any(|e| e.state == EntryState::Invalidated)
        })
    };
    render_on_others().await?;
    tokio::time::sleep(Duration::from_millis(500)).await; // the subscriptions are up

    let mut samples = Vec::with_capacity(purges);
    // How long the purge call itself took (the stamp written, acknowledged and published).
    let mut acknowledged = Vec::with_capacity(purges);
    for _ in 0..purges {
        render_on_others().await?;
        let started = Instant::now();
        a.revalidator().revalidate_tag("t").await?;
        acknowledged.push(started.elapsed());
        while !invalid_on_all() {
            if started.elapsed() > Duration::from_secs(2) {
                return Err("a purge did not reach every instance within 2 s".into());
            }
            tokio::task::yield_now().await;
        }
        samples.push(started.elapsed());
    }
    samples.sort();
    acknowledged.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let call = |q: f64| {
        acknowledged[((acknowledged.len() as f64 * q) as usize).min(acknowledged.len() - 1)]
    };
    println!(
        "purge on A -> invalid on {} other instance(s) on {}, over {purges} purges: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        instances - 1,
        redis_from_env().1,
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
    );
    println!(
        "the purge call itself (stamp kept, acknowledged, published): p50 {:.3} ms, p99 {:.3} ms",
        call(0.50).as_secs_f64() * 1e3,
        call(0.99).as_secs_f64() * 1e3,
    );
    Ok(())
}
