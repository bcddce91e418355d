//! Memory per entry with many pages: the resident memory a memory store takes for `entries`
//! cached pages of about 2 KB, less the pages' bodies and keys, divided by the entries — the
//! bookkeeping an entry costs — beside what the store charges for them ([`Entry::weight`]).
//!
//! ```text
//! scale [entries = 1000000] [page bytes = 2000] [accept-encoding]
//! ```
//!
//! Page `n` is `/p/{n / 1000}/{n}`, a distinct HTML page with the tags `page` and
//! `group-{n % 100}`, rendered once for a client that sends no `Accept-Encoding` (as a crawler
//! or the Zipf run's load generator does), through the layer's default configuration. The store
//! is large enough that nothing is evicted. With `accept-encoding` (e.g. `br`), each page is
//! asked for once more with that header, so that each entry also holds that encoding. Prints
//! the figures — the resident memory and what the store charged, per entry, side by side — and
//! last `bytes per entry: N` (the bookkeeping: resident memory less bodies and keys).
//!
//! [`Entry::weight`]: isr_layer::store::Entry::weight

#[path = "../origin.rs"]
mod origin;

use std::convert::Infallible;
use std::time::Instant;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use isr_layer::store::MemoryStore;
use isr_layer::{IsrLayer, Revalidate};
use origin::{page_number, tagged_page};
use tower::{Layer, ServiceExt};

/// Resident memory of this process, in bytes (Linux).
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn path(n: usize) -> String {
    format!("/p/{}/{n}", n / 1000)
}

fn page(n: usize, size: usize) -> String {
    let mut html =
        format!("<!doctype html><html><head><title>page {n}</title></head><body><h1>page {n}</h1>");
    while html.len() < size {
        html.push_str("<p>Incremental Static Regeneration serves this from a cache.</p>");
    }
    html.push_str("</body></html>");
    html
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let entries: usize = args.next().map_or(Ok(1_000_000), |n| n.parse())?;
    let size: usize = args.next().map_or(Ok(2000), |n| n.parse())?;
    let accept = args.next();
    let isr = IsrLayer::builder()
        .revalidate(Revalidate::secs(86_400))
        .store(MemoryStore::new(64 << 30))
        .build()?;
    let service = isr.layer(tower::service_fn(
        move |req: Request<Full<Bytes>>| async move {
            let n = page_number(&req);
            Ok::<_, Infallible>(tagged_page(n, page(n, size)))
        },
    ));

    // Warm the allocator and the layer's own tables before the baseline.
    let request = |n: usize| Request::get(path(n)).body(Full::default()).unwrap();
    let encoded = |n: usize, accept: &str| {
        Request::get(path(n))
            .header("accept-encoding", accept)
            .body(Full::default())
            .unwrap()
    };
    service.clone().oneshot(request(usize::MAX)).await?;
    let before = rss_bytes();
    let started = Instant::now();
    let mut payload: u64 = 0;
    for n in 0..entries {
        payload += (page(n, size).len() + path(n).len()) as u64;
        service.clone().oneshot(request(n)).await?;
        if let Some(accept) = &accept {
            service.clone().oneshot(encoded(n, accept)).await?;
        }
    }
    let filled = started.elapsed();
    let after = rss_bytes();
    let stats = isr.stats();
    assert_eq!(stats.entries, entries as u64 + 1, "nothing was evicted");
    let resident = after.saturating_sub(before);
    let per_entry = resident.saturating_sub(payload) / entries as u64;
    let charged = stats.bytes.saturating_sub(payload) / (entries as u64 + 1);
    let per = |bytes: u64| bytes / entries as u64;
    println!(
        "{entries} pages of ~{size} bytes filled in {:.1} s",
        filled.as_secs_f64()
    );
    println!(
        "resident: {:.1} MiB for {:.1} MiB of bodies and keys",
        resident as f64 / 1048576.0,
        payload as f64 / 1048576.0
    );
    println!(
        "charged by the store: {:.1} MiB ({charged} bytes per entry besides body and key)",
        stats.bytes as f64 / 1048576.0
    );
    println!(
        "per entry: {} bytes resident, {} charged",
        per(resident),
        per(stats.bytes)
    );
    println!("bytes per entry: {per_entry}");
    Ok(())
}
