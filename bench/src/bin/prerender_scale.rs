//! Prerendering many listed pages: `pages` paths of one route listed by `StaticParams`,
//! rendered through `IsrLayer` by an origin that takes `render-ms` per page, `concurrency` at
//! a time; the report's time against the ideal (pages × render time / concurrency).
//!
//! ```text
//! prerender-scale [pages = 100000] [render-ms = 2] [concurrency = 64]
//! ```
//!
//! Progress is logged by the prerender itself (target `isr`, every tenth of the pages).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use isr_layer::static_params::{ParamSet, StaticParams};
use isr_layer::store::MemoryStore;
use isr_layer::{IsrLayer, Revalidate};
use tower::Layer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter("isr=info")
        .with_target(false)
        .init();
    let mut args = std::env::args().skip(1);
    let pages: usize = args.next().map_or(Ok(100_000), |n| n.parse())?;
    let render_ms: u64 = args.next().map_or(Ok(2), |n| n.parse())?;
    let concurrency: usize = args.next().map_or(Ok(64), |n| n.parse())?;

    let isr = IsrLayer::builder()
        .revalidate(Revalidate::Never)
        .store(MemoryStore::new(8 << 30))
        .build()?;
    let renders = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&renders);
    let app = isr.layer(tower::service_fn(move |req: Request<Full<Bytes>>| {
        let counted = Arc::clone(&counted);
        async move {
            tokio::time::sleep(Duration::from_millis(render_ms)).await;
            counted.fetch_add(1, Ordering::Relaxed);
            let body = format!("<h1>{}</h1>\n", req.uri().path()).repeat(60);
            let mut res = Response::new(Full::new(Bytes::from(body)));
            res.headers_mut()
                .insert("content-type", "text/html; charset=utf-8".parse().unwrap());
            Ok::<_, Infallible>(res)
        }
    }));
    let params = StaticParams::new().route("/docs/{slug}", move || async move {
        Ok((0..pages)
            .map(|n| vec![("slug".to_owned(), format!("page-{n}"))])
            .collect::<Vec<ParamSet>>())
    })?;
    let listed = params.generate().await;
    let report = params.prerender(app, concurrency).await;
    #[allow(clippy::cast_precision_loss)]
    let ideal = pages as f64 * render_ms as f64 / 1_000.0 / concurrency as f64;
    println!(
        "| pages | render (ms) | concurrency | rendered | failed | took (s) | ideal (s) | × ideal | origin renders | entries |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {listed} | {render_ms} | {concurrency} | {} | {} | {:.2} | {ideal:.2} | {:.2} | {} | {} |",
        report.rendered,
        report.failed.len(),
        report.took.as_secs_f64(),
        report.took.as_secs_f64() / ideal,
        renders.load(Ordering::Relaxed),
        isr.stats().entries
    );
    Ok(())
}
