//! Cost growth, in process (no HTTP): hit latency at 1k / 100k / 1M cached keys,
//! `revalidate_tag` on a tag carried by 1 vs 100,000 entries, and prerendering 10,000 pages
//! that take 5 ms each with `StaticParams` at concurrency 16.
//!
//! ```text
//! growth [max-keys = 1000000]
//! ```

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use isr_layer::{CacheTags, IsrLayer, Revalidate, store::MemoryStore};
use tower::{Layer, ServiceExt};

fn page(
    tag: &'static str,
) -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |_req: Request<Full<Bytes>>| async move {
        let mut res = Response::new(Full::new(Bytes::from_static(&[b'x'; 200])));
        res.extensions_mut().insert(CacheTags::new([tag]));
        Ok::<_, Infallible>(res)
    })
}

fn request(path: &str) -> Request<Full<Bytes>> {
    Request::get(path).body(Full::default()).unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let max: usize = std::env::args()
        .nth(1)
        .map_or(Ok(1_000_000), |n| n.parse())?;

    println!(
        "| cached keys | fill time | hit latency (mean of 200k, one task) | hits/s (one task) |"
    );
    println!("|---:|---:|---:|---:|");
    for keys in [1_000usize, 100_000, 1_000_000]
        .into_iter()
        .filter(|k| *k <= max)
    {
        let isr = IsrLayer::builder()
            .revalidate(Revalidate::Never)
            .store(MemoryStore::new(8 * 1024 * 1024 * 1024))
            .build()?;
        let app = isr.layer(page("all"));
        let started = Instant::now();
        for i in 0..keys {
            app.clone().oneshot(request(&format!("/p/{i}"))).await?;
        }
        let fill = started.elapsed();
        let paths: Vec<String> = (0..200_000)
            .map(|i| format!("/p/{}", (i * 7919) % keys))
            .collect();
        let started = Instant::now();
        for path in &paths {
            let res = app.clone().oneshot(request(path)).await?;
            debug_assert_eq!(res.headers()["x-isr-cache"], "HIT");
        }
        let took = started.elapsed();
        println!(
            "| {keys} | {:.1} s | {:.0} ns | {:.0} |",
            fill.as_secs_f64(),
            took.as_nanos() as f64 / paths.len() as f64,
            paths.len() as f64 / took.as_secs_f64()
        );
    }

    println!();
    println!("| entries carrying the tag | revalidate_tag (mean of 1000) |");
    println!("|---:|---:|");
    for carriers in [1usize, 100_000] {
        let isr = IsrLayer::builder().revalidate(Revalidate::Never).build()?;
        let app = isr.layer(page("t"));
        for i in 0..carriers {
            app.clone().oneshot(request(&format!("/t/{i}"))).await?;
        }
        let started = Instant::now();
        for _ in 0..1000 {
            isr.revalidator().revalidate_tag("t").await?;
        }
        println!(
            "| {carriers} | {:.2} µs |",
            started.elapsed().as_secs_f64() * 1e6 / 1000.0
        );
    }

    println!();
    let isr = IsrLayer::new();
    let router: Router = Router::new()
        .route(
            "/docs/{slug}",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                "a guide"
            }),
        )
        .layer(isr.clone());
    let params = isr_axum::StaticParams::new().route("/docs/{slug}", || async {
        Ok((0..10_000)
            .map(|i| vec![("slug".to_owned(), format!("g{i}"))])
            .collect())
    })?;
    params.generate().await;
    let report = params.prerender(router, 16).await;
    println!(
        "prerender of 10,000 pages at 5 ms each, concurrency 16: {} rendered, {} failed, {:.2} s (ideal {:.2} s)",
        report.rendered,
        report.failed.len(),
        report.took.as_secs_f64(),
        10_000.0 * 0.005 / 16.0
    );
    Ok(())
}
