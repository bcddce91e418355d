//! `ISR_DEBUG_CACHE`: one INFO line per request and per revalidation, saying why.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{Origin, advance, get, settle};
use isr_layer::{IsrLayer, IsrPolicyLayer, Revalidate};
use tower::Layer;
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn subscriber(level: &str, out: &Captured) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_env_filter(level)
        .with_writer(out.clone())
        .with_ansi(false)
        .without_time()
        .finish()
}

#[tokio::test(start_paused = true)]
async fn debug_cache_logs_every_state_and_the_reason_for_a_bypass() {
    let out = Captured::default();
    let _guard = tracing::subscriber::set_default(subscriber("info", &out));

    let origin = Origin::new();
    let isr = IsrLayer::builder()
        .revalidate(Revalidate::secs(60))
        .debug_cache(true)
        .build()
        .unwrap();
    let app = origin.behind(&isr);
    get(&app, "/docs").await;
    get(&app, "/docs").await;
    advance(61).await;
    get(&app, "/docs").await;
    settle().await;
    isr.revalidator().revalidate_tag("docs").await.unwrap();

    let dynamic = isr.layer(tower::util::BoxCloneSyncService::new(
        IsrPolicyLayer::dynamic().layer(origin.service()),
    ));
    get(&dynamic, "/dashboard").await;

    let lines = out.lines();
    let find = |needle: &str| {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in {lines:#?}"))
            .clone()
    };
    assert!(find("cache=\"MISS\"").contains("key=\"/docs\""));
    assert!(find("cache=\"HIT\"").contains("INFO"));
    find("cache=\"STALE\"");
    let bypass = find("cache=\"BYPASS\"");
    assert!(bypass.contains("key=\"/dashboard\""), "{bypass}");
    assert!(
        bypass.contains("dynamic (revalidate 0 set by the layout level)"),
        "{bypass}"
    );
    let revalidate = find("REVALIDATE");
    assert!(
        revalidate.contains("target=tag docs") && revalidate.contains("by=\"code\""),
        "{revalidate}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_csp_nonce_page_is_not_cached_and_the_log_says_why() {
    let out = Captured::default();
    let _guard = tracing::subscriber::set_default(subscriber("info", &out));

    let origin = Origin::new();
    origin.on_response(|req, res| {
        let value = if req.uri().path() == "/nonce" {
            "script-src 'self' 'nonce-8IBTHwOdqNKAWeKl7plt8g=='"
        } else {
            "script-src 'self' 'sha256-B2yPHKaXnvFWtRChIbabYmUBFZdVfKKXHbWtWidDVF8='"
        };
        res.headers_mut()
            .insert("content-security-policy", value.parse().unwrap());
    });
    let isr = IsrLayer::builder().debug_cache(true).build().unwrap();
    let app = origin.behind(&isr);
    assert_eq!(get(&app, "/nonce").await.cache(), "BYPASS");
    assert_eq!(get(&app, "/nonce").await.cache(), "BYPASS");
    assert_eq!(origin.renders(), 2, "rendered for every request");
    // A hash-based policy is the cache-friendly alternative.
    assert_eq!(get(&app, "/hashed").await.cache(), "MISS");
    assert_eq!(get(&app, "/hashed").await.cache(), "HIT");

    let lines = out.lines();
    let bypass = lines
        .iter()
        .find(|l| l.contains("cache=\"BYPASS\""))
        .expect("a BYPASS line");
    assert!(
        bypass.contains("key=\"/nonce\"") && bypass.contains("per-request CSP nonce"),
        "{bypass}"
    );
}

#[tokio::test(start_paused = true)]
async fn without_debug_cache_requests_log_at_debug_only() {
    let out = Captured::default();
    let _guard = tracing::subscriber::set_default(subscriber("info", &out));
    let origin = Origin::new();
    let isr = IsrLayer::builder().debug_cache(false).build().unwrap();
    let app = origin.behind(&isr);
    get(&app, "/").await;
    get(&app, "/").await;
    assert!(
        out.lines().iter().all(|l| !l.contains("cache=")),
        "{:?}",
        out.lines()
    );
}
