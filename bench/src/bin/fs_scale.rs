//! The file store with many entries: a directory holding `entries` pages is opened as after a
//! restart; how long until the first hit and until every file is indexed, what the index costs
//! in memory, the disk used, a restart that renders nothing still fresh, and eviction down to
//! a smaller byte bound.
//!
//! ```text
//! fs-scale [entries = 1000000] [dir = a new directory under the system's temporary one]
//! ```
//!
//! The restart runs in a process of its own (this program again, with `--restart`), so that its
//! memory is the index's and not what the fill left behind. The directory is filled the way the
//! store fills it (one checksummed file per entry, named
//! by `FsStore::path_of`), from pages rendered through `IsrLayer` in memory, but without the
//! store's `fsync` per file, which would make filling a million files take hours. The
//! directory is removed at the end.

use std::convert::Infallible;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use isr_layer::compression::Compression;
use isr_layer::store::{FsStore, MemoryStore, Store};
use isr_layer::{IsrLayer, Revalidate};
use tower::{Layer, ServiceExt};

/// The process's resident memory, in bytes (from /proc).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn mib(bytes: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let value = bytes as f64 / (1024.0 * 1024.0);
    value
}

/// Files, their bytes, and the disk they take (blocks), under `dir`.
fn disk(dir: &Path) -> (u64, u64, u64) {
    let (mut files, mut bytes, mut blocks) = (0, 0, 0);
    for file in std::fs::read_dir(dir.join("entries"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(meta) = file.metadata() {
            files += 1;
            bytes += meta.len();
            blocks += meta.blocks() * 512;
        }
    }
    (files, bytes, blocks)
}

/// The answers of the layer.
type Page = Response<isr_layer::service::IsrBody<Full<Bytes>>>;

/// A layer over `store` and an origin counting its renders.
fn site(
    store: impl Store,
    renders: &Arc<AtomicU64>,
) -> Result<
    impl tower::Service<Request<Full<Bytes>>, Response = Page, Error = Infallible, Future = impl Send>
    + Clone,
    Box<dyn std::error::Error>,
> {
    let isr = IsrLayer::builder()
        .revalidate(Revalidate::secs(86_400))
        .compression(Compression::off())
        .store(store)
        .build()?;
    let counted = Arc::clone(renders);
    Ok(
        isr.layer(tower::service_fn(move |req: Request<Full<Bytes>>| {
            counted.fetch_add(1, Ordering::Relaxed);
            async move {
                let body = format!("<p>{} — a page of about a kilobyte</p>\n", req.uri().path());
                let mut res = Response::new(Full::new(Bytes::from(body.repeat(20))));
                res.headers_mut()
                    .insert("content-type", "text/html; charset=utf-8".parse().unwrap());
                Ok::<_, Infallible>(res)
            }
        })),
    )
}

async fn visit<S>(site: &S, n: usize) -> Result<String, Infallible>
where
    S: tower::Service<Request<Full<Bytes>>, Response = Page, Error = Infallible> + Clone,
{
    let request = Request::get(format!("/d/{}/{n}", n / 1000))
        .body(Full::default())
        .unwrap();
    let response = site.clone().oneshot(request).await?;
    Ok(response
        .headers()
        .get("x-isr-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("--restart") {
        args.next();
        let entries = args.next().ok_or("entries")?.parse()?;
        let dir = PathBuf::from(args.next().ok_or("dir")?);
        let bytes = args.next().ok_or("bytes")?.parse()?;
        return restart(entries, dir, bytes).await;
    }
    let entries: usize = args.next().map_or(Ok(1_000_000), |n| n.parse())?;
    let dir: PathBuf = args.next().map_or_else(
        || std::env::temp_dir().join(format!("isr-fs-scale-{}", std::process::id())),
        PathBuf::from,
    );

    // Fill: render in memory, then write each entry's file.
    let started = Instant::now();
    {
        let renders = Arc::new(AtomicU64::new(0));
        let memory = MemoryStore::new(16 << 30);
        let rendering = site(memory.clone(), &renders)?;
        for n in 0..entries {
            visit(&rendering, n).await?;
        }
        let naming = FsStore::open(&dir)?;
        let all = memory.local_entries(usize::MAX);
        std::thread::scope(|scope| {
            for part in all.chunks(all.len().div_ceil(4).max(1)) {
                let naming = &naming;
                scope.spawn(move || {
                    for entry in part {
                        std::fs::write(naming.path_of(entry.key()), entry.encode())
                            .expect("write an entry's file");
                    }
                });
            }
        });
    }
    let (files, bytes, blocks) = disk(&dir);
    println!(
        "filled {files} files in {:.1} s: {:.0} MiB of entries, {:.0} MiB on disk",
        started.elapsed().as_secs_f64(),
        mib(bytes),
        mib(blocks)
    );

    let status = std::process::Command::new(std::env::current_exe()?)
        .arg("--restart")
        .arg(entries.to_string())
        .arg(&dir)
        .arg(bytes.to_string())
        .status()?;
    std::fs::remove_dir_all(&dir)?;
    if !status.success() {
        return Err(format!("the restart failed: {status}").into());
    }
    Ok(())
}

/// The restart, in a process of its own: open the directory holding `entries` files of
/// `bytes` in all, then measure.
async fn restart(
    entries: usize,
    dir: PathBuf,
    bytes: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    // A restart: open, first hit, then a sample of visits that must all be hits.
    let before = rss();
    let opened = Instant::now();
    let store = FsStore::builder(&dir).max_bytes(64 << 30).open()?;
    let open_took = opened.elapsed();
    let renders = Arc::new(AtomicU64::new(0));
    let restarted = site(store.clone(), &renders)?;
    let first = Instant::now();
    let status = visit(&restarted, entries / 2).await?;
    let first_hit = first.elapsed();
    let indexing = store.clone();
    tokio::task::spawn_blocking(move || indexing.wait_indexed()).await?;
    let indexed = opened.elapsed();
    let index = rss().saturating_sub(before);
    let mut hits = 0;
    for n in (0..entries).step_by(101) {
        if visit(&restarted, n).await? == "HIT" {
            hits += 1;
        }
    }
    println!("| | |");
    println!("|---|---:|");
    println!("| open | {:.2} ms |", open_took.as_secs_f64() * 1e3);
    println!(
        "| every file indexed (in the background) | {:.2} s after open |",
        indexed.as_secs_f64()
    );
    println!(
        "| first request after open | {:.2} ms ({status}) |",
        first_hit.as_secs_f64() * 1e3
    );
    #[allow(clippy::cast_precision_loss)]
    let per_entry = index as f64 / entries as f64;
    println!(
        "| index memory | {:.0} MiB ({per_entry:.0} bytes per entry) |",
        mib(index)
    );
    println!(
        "| sampled visits after the restart | {} of {} HIT, {} renders |",
        hits,
        (0..entries).step_by(101).count(),
        renders.load(Ordering::Relaxed)
    );
    drop(restarted);

    // A smaller bound: opening evicts down to it, deleting files.
    let bound = bytes / 2;
    let opened = Instant::now();
    let halved = FsStore::builder(&dir).max_bytes(bound).open()?;
    halved.wait_indexed();
    let usage = halved.usage();
    let took = opened.elapsed();
    drop(halved);
    let (files_after, bytes_after, _) = disk(&dir);
    println!(
        "| open with half the bound ({:.0} MiB), until indexed | {:.2} s; the index holds {} entries, {:.0} MiB; {} files, {:.0} MiB left on disk |",
        mib(bound),
        took.as_secs_f64(),
        usage.entries,
        mib(usage.bytes),
        files_after,
        mib(bytes_after)
    );
    Ok(())
}
