//! Purges with many entries: the time of `revalidate_tag` and of a layout revalidation with
//! `entries` pages cached, the store operations each makes, and which pages re-render after.
//!
//! ```text
//! purge-scale [entries = 1000000]
//! ```
//!
//! Page `n` is `/p/{n / 1000}/{n}` and carries the tags `page` and `group-{n % 100}`. The tag
//! `group-7` covers 1 % of the pages; the layout `/p/9` covers the 1,000 pages under it; the
//! page purge one page. After the purges, a sample of the pages (every 97th) is visited: the
//! renders counted must be exactly the sampled pages the purges covered.

#[path = "../origin.rs"]
mod origin;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use isr_layer::invalidate::{InvalidationMode, PathScope};
use isr_layer::store::{Entry, MemoryStore, Store, StoreFuture, StoreStatus, StoreUsage};
use isr_layer::{IsrLayer, Revalidate};
use origin::{group, page_number, tagged_page};
use tower::{Layer, ServiceExt};

/// A memory store that counts the calls made to it.
#[derive(Debug)]
struct Counting {
    inner: MemoryStore,
    calls: Arc<AtomicU64>,
}

impl Counting {
    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

impl Store for Counting {
    fn get_local(&self, key: &str) -> Option<Arc<Entry>> {
        self.count();
        self.inner.get_local(key)
    }
    fn put(&self, entry: Arc<Entry>) -> StoreFuture<'_, ()> {
        self.count();
        self.inner.put(entry)
    }
    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        self.count();
        self.inner.remove(key)
    }
    fn usage(&self) -> StoreUsage {
        self.inner.usage()
    }
    fn status(&self) -> StoreStatus {
        self.inner.status()
    }
    fn local_entries(&self, limit: usize) -> Vec<Arc<Entry>> {
        self.count();
        self.inner.local_entries(limit)
    }
}

fn path(n: usize) -> String {
    format!("/p/{}/{n}", n / 1000)
}

/// The page the page purge names.
const PURGED_PAGE: usize = 12_345;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let entries: usize = std::env::args()
        .nth(1)
        .map_or(Ok(1_000_000), |n| n.parse())?;
    let calls = Arc::new(AtomicU64::new(0));
    let isr = IsrLayer::builder()
        .revalidate(Revalidate::secs(86_400))
        .store(Counting {
            inner: MemoryStore::new(16 << 30),
            calls: Arc::clone(&calls),
        })
        .build()?;
    let renders = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&renders);
    let service = isr.layer(tower::service_fn(move |req: Request<Full<Bytes>>| {
        let counted = Arc::clone(&counted);
        async move {
            counted.fetch_add(1, Ordering::Relaxed);
            let n = page_number(&req);
            let body = format!("<p>page {n}: a few hundred bytes of HTML</p>\n").repeat(8);
            Ok::<_, Infallible>(tagged_page(n, body))
        }
    }));
    let visit = |n: usize| {
        let service = service.clone();
        async move {
            let request = Request::get(path(n)).body(Full::default()).unwrap();
            service.oneshot(request).await
        }
    };

    let started = Instant::now();
    for n in 0..entries {
        visit(n).await?;
    }
    println!(
        "filled {entries} pages in {:.1} s; {} entries held",
        started.elapsed().as_secs_f64(),
        isr.stats().entries
    );

    let revalidator = isr.revalidator();
    println!("| purge | time (µs) | store calls | stamps held after |");
    println!("|---|---:|---:|---:|");
    for (name, purge) in [
        ("tag group-7", 0),
        ("layout /p/9", 1),
        ("page /p/12/12345", 2),
    ] {
        let calls_before = calls.load(Ordering::Relaxed);
        let started = Instant::now();
        match purge {
            0 => revalidator.revalidate_tag("group-7").await?,
            1 => {
                revalidator
                    .revalidate_path_scoped("/p/9", PathScope::Layout, InvalidationMode::Expire)
                    .await?
            }
            _ => revalidator.revalidate_path(&path(PURGED_PAGE)).await?,
        };
        let took = started.elapsed();
        println!(
            "| {name} | {:.1} | {} | {} |",
            took.as_secs_f64() * 1e6,
            calls.load(Ordering::Relaxed) - calls_before,
            isr.stats().invalidation_stamps
        );
    }

    let before = renders.load(Ordering::Relaxed);
    let mut sampled = 0;
    let mut covered = 0;
    for n in (0..entries).step_by(97) {
        sampled += 1;
        if group(n) == 7 || n / 1000 == 9 || n == PURGED_PAGE {
            covered += 1;
        }
        visit(n).await?;
    }
    let rendered = renders.load(Ordering::Relaxed) - before;
    println!(
        "visited {sampled} sampled pages: {rendered} renders, {covered} of them covered by the purges"
    );
    assert_eq!(rendered, covered, "only the covered pages re-render");
    Ok(())
}
