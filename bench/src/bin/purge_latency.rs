//! Time from `revalidate_tag` on instance A to the page being invalid on instance B, two
//! `RedisStore`s sharing one Redis: p50 / p99 / max over N purges.
//!
//! ```text
//! purge-latency [purges = 1000]     (ISR_REDIS_URL, default redis://127.0.0.1:6379)
//! ```

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use isr_layer::store::RedisStore;
use isr_layer::{CacheTags, IsrLayer, Revalidate, invalidate::EntryState};
use tower::{Layer, ServiceExt};

async fn layer(url: &str, prefix: &str) -> Result<IsrLayer, Box<dyn std::error::Error>> {
    let store = RedisStore::builder(url).prefix(prefix).connect().await?;
    Ok(IsrLayer::builder()
        .revalidate(Revalidate::Never)
        .store(store)
        .build()?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let purges: usize = std::env::args().nth(1).map_or(Ok(1000), |n| n.parse())?;
    let url = std::env::var("ISR_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("isr-bench-purge-{}", std::process::id());
    let a = layer(&url, &prefix).await?;
    let b = layer(&url, &prefix).await?;
    let page = tower::service_fn(|_: Request<Full<Bytes>>| async {
        let mut res = Response::new(Full::new(Bytes::from_static(b"page")));
        res.extensions_mut().insert(CacheTags::new(["t"]));
        Ok::<_, Infallible>(res)
    });
    let on_b = b.layer(page);
    let render_on_b = || async {
        on_b.clone()
            .oneshot(Request::new(Full::default()))
            .await
            .map(drop)
    };
    let invalid_on_b = || {
        b.revalidator()
            .inspect(10)
            .iter()
            .any(|e| e.state == EntryState::Invalidated)
    };
    render_on_b().await?;
    tokio::time::sleep(Duration::from_millis(200)).await; // B's subscription is up

    let mut samples = Vec::with_capacity(purges);
    for _ in 0..purges {
        render_on_b().await?; // valid again on B
        let started = Instant::now();
        a.revalidator().revalidate_tag("t").await?;
        while !invalid_on_b() {
            if started.elapsed() > Duration::from_secs(2) {
                return Err("a purge did not reach B within 2 s".into());
            }
            tokio::task::yield_now().await;
        }
        samples.push(started.elapsed());
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "purge A -> invalid on B over {purges} purges: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3,
    );
    Ok(())
}
