//! What a miss costs the layer, in process (no HTTP, no sleep in the render): the mean time of
//! a request for a new path through `IsrLayer` (looked up, rendered, its ~2 KB body buffered and
//! stored) against the same request sent to the service directly. The two run interleaved in
//! rounds, and the table shows each round, so the machine's noise is visible.
//!
//! ```text
//! miss-cost [requests per round = 100000] [rounds = 5] [both|direct|isr|hit|hit-br]
//! ```
//!
//! `direct` or `isr` runs one side only: under `valgrind --tool=callgrind`, the difference of
//! the two instruction counts is the layer's cost, independent of the machine's noise. `hit`
//! sends every request of a round through the layer for one path instead: one render, then
//! hits (`bench/callgrind-miss.sh` counts both). `hit-br` is `hit` with a browser's
//! `Accept-Encoding: gzip, deflate, br, zstd`: every hit is served from the stored Brotli bytes.

use std::convert::Infallible;
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use isr_layer::{IsrLayer, Revalidate, store::MemoryStore};
use tower::{Layer, ServiceExt};

/// A page of about 2 KB, rendered at once.
fn origin() -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    tower::service_fn(|_req: Request<Full<Bytes>>| async move {
        let body = "<p>a line of a page of about two kilobytes</p>\n".repeat(44);
        let mut res = Response::new(Full::new(Bytes::from(body)));
        res.headers_mut()
            .insert("content-type", "text/html; charset=utf-8".parse().unwrap());
        Ok::<_, Infallible>(res)
    })
}

fn request(path: &str, browser: bool) -> Request<Full<Bytes>> {
    let mut req = Request::get(path)
        .header("host", "bench.local")
        .header("accept", "text/html")
        .header("user-agent", "miss-cost");
    if browser {
        req = req.header("accept-encoding", "gzip, deflate, br, zstd");
    }
    req.body(Full::default()).unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let per_round: usize = args.next().map_or(Ok(100_000), |n| n.parse())?;
    let rounds: usize = args.next().map_or(Ok(5), |n| n.parse())?;
    let side = args.next().unwrap_or_else(|| "both".to_owned());
    let (run_direct, run_isr) = match side.as_str() {
        "both" => (true, true),
        "direct" => (true, false),
        "isr" | "hit" | "hit-br" => (false, true),
        other => {
            return Err(format!("unknown side {other:?}: both, direct, isr, hit or hit-br").into());
        }
    };
    let hits = side.starts_with("hit");
    let browser = side == "hit-br";

    let isr = IsrLayer::builder()
        .revalidate(Revalidate::Never)
        .store(MemoryStore::new(8 * 1024 * 1024 * 1024))
        .build()?;
    let cached = isr.layer(origin());
    let direct = origin();

    println!(
        "| round | direct (ns/request) | through IsrLayer, MISS (ns/request) | layer cost per miss |"
    );
    println!("|---:|---:|---:|---:|");
    let mut costs = Vec::new();
    for round in 0..rounds {
        let paths: Vec<String> = (0..per_round)
            .map(|i| match hits {
                true => format!("/r{round}/hit"),
                false => format!("/r{round}/page/{i}"),
            })
            .collect();

        let started = Instant::now();
        if run_direct {
            for path in &paths {
                let res = direct.clone().oneshot(request(path, browser)).await?;
                res.into_body().collect().await?;
            }
        }
        let direct_ns = started.elapsed().as_nanos() as f64 / per_round as f64;

        let started = Instant::now();
        if run_isr {
            for path in &paths {
                let res = cached.clone().oneshot(request(path, browser)).await?;
                debug_assert!(hits || res.headers()["x-isr-cache"] == "MISS");
                res.into_body().collect().await?;
            }
        }
        let cached_ns = started.elapsed().as_nanos() as f64 / per_round as f64;
        costs.push(cached_ns - direct_ns);
        println!(
            "| {round} | {direct_ns:.0} | {cached_ns:.0} | {:.2} µs |",
            (cached_ns - direct_ns) / 1000.0
        );
    }
    costs.sort_by(f64::total_cmp);
    println!();
    println!(
        "median layer cost per miss: {:.2} µs over {rounds} rounds of {per_round} requests ({} entries stored)",
        costs[costs.len() / 2] / 1000.0,
        isr.stats().entries
    );
    // Freeing the stored entries is not part of a miss (a full store frees one per eviction):
    // leave without dropping them, so an instruction count covers the requests only.
    std::process::exit(0)
}
