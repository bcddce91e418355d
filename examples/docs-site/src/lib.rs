//! The ISR handbook in one app.
//!
//! - `GET /docs/{slug}` — 80 guides, prerendered at start-up, revalidated every
//!   `DOCS_REVALIDATE` seconds (1800 by default); unlisted slugs render on first visit.
//! - `GET /products/{slug}` — revalidate 3600, tags `product-{slug}` and `all-products`.
//! - `GET /` — the home page featuring products, tag `all-products`.
//! - `GET /dashboard/stats` — under a layout that reads a cookie: dynamic (`BYPASS`).
//! - `POST /api/revalidate` — the purge router (path, layout, tag, tags), `GET` to inspect.
//! - `PATCH /api/products/{slug}`, `POST /api/guides` — admin calls that change content and
//!   revalidate.
//!
//! The pages are MiniJinja templates (`templates/`, compiled into the binary) around guides
//! written in Markdown and rendered with `pulldown-cmark`; see [`views`]. The actix example
//! renders the same pages through the same functions.

pub mod admin;
pub mod audit;
pub mod content;
mod handbook;
pub mod markdown;
pub mod metrics;
pub mod pages;
pub mod views;

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use isr_axum::{
    Inspector, IsrLayer, IsrPolicyLayer, ParamSet, PrerenderReport, PurgeAuth, Revalidate,
    StaticParams, inspector_router, purge_router,
};
use isr_layer::store::RedisStore;

use crate::content::Content;

/// How the app is set up; [`Config::from_env`] reads it from the environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// Revalidate of the docs pages (`DOCS_REVALIDATE`, seconds; default 1800).
    pub docs_revalidate: Duration,
    /// The secret of the purge and admin endpoints (`REVALIDATION_SECRET`).
    pub secret: String,
    /// Whether the secret was generated because none was configured.
    pub secret_generated: bool,
    /// Revalidate of the dashboard's data in the data cache (`STATS_REVALIDATE`, seconds;
    /// default 300).
    pub stats_revalidate: Duration,
    /// Simulated latency of each content fetch (20 ms).
    pub content_latency: Duration,
    /// Where pages are kept (`ISR_REDIS_URL`, `ISR_REDIS_CLUSTER_NODES` or `ISR_REDIS_SENTINELS`
    /// with `ISR_REDIS_MASTER`, else `ISR_FS_DIR`, else memory).
    pub store: StoreChoice,
    /// The memory store's byte bound (`ISR_MAX_BYTES`; default the layer's 256 MiB).
    pub max_bytes: Option<u64>,
    /// Percent of page renders that fail with 503, to rehearse an unreliable CMS
    /// (`CONTENT_FAIL_PERCENT`, default 0).
    pub fail_percent: u64,
    /// Whether `GET /metrics` serves the cache's counters in Prometheus's text format
    /// (`ISR_METRICS=1`).
    pub metrics: bool,
}

/// Where the site keeps its pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreChoice {
    /// In memory (the default).
    Memory,
    /// In files under this directory (`ISR_FS_DIR`): a restart serves pages without rendering.
    Fs(std::path::PathBuf),
    /// In Redis at this URL (`ISR_REDIS_URL`), shared by every instance with the same URL.
    Redis(String),
    /// In a Redis Cluster reached through these seed nodes (`ISR_REDIS_CLUSTER_NODES`,
    /// comma-separated `redis://host:port`).
    RedisCluster(Vec<String>),
    /// In the Redis primary the sentinels (`ISR_REDIS_SENTINELS`, comma-separated) monitor
    /// under the name `master` (`ISR_REDIS_MASTER`).
    RedisSentinel {
        /// The primary's name in Sentinel.
        master: String,
        /// The sentinels' URLs.
        sentinels: Vec<String>,
    },
}

/// The store named by the environment: at most one Redis topology, else a directory, else
/// memory.
fn store_choice(var: &impl Fn(&str) -> Option<String>) -> Result<StoreChoice, ConfigError> {
    let set = |name: &str| var(name).filter(|value| !value.trim().is_empty());
    let list = |name: &'static str, value: String| {
        let items: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect();
        if items.is_empty() {
            return Err(ConfigError {
                var: name,
                value,
                why: "expected comma-separated redis:// URLs",
            });
        }
        Ok(items)
    };
    let redis = [
        "ISR_REDIS_URL",
        "ISR_REDIS_CLUSTER_NODES",
        "ISR_REDIS_SENTINELS",
    ];
    let chosen: Vec<&'static str> = redis.into_iter().filter(|n| set(n).is_some()).collect();
    if let [_, second, ..] = chosen[..] {
        return Err(ConfigError {
            var: second,
            value: set(second).unwrap_or_default(),
            why: "set only one of ISR_REDIS_URL, ISR_REDIS_CLUSTER_NODES and ISR_REDIS_SENTINELS",
        });
    }
    let master = set("ISR_REDIS_MASTER");
    match (chosen.first().copied(), master) {
        (Some("ISR_REDIS_SENTINELS"), Some(master)) => Ok(StoreChoice::RedisSentinel {
            master: master.trim().to_owned(),
            sentinels: list(
                "ISR_REDIS_SENTINELS",
                set("ISR_REDIS_SENTINELS").unwrap_or_default(),
            )?,
        }),
        (Some("ISR_REDIS_SENTINELS"), None) => Err(ConfigError {
            var: "ISR_REDIS_MASTER",
            value: String::new(),
            why: "ISR_REDIS_SENTINELS needs the name the sentinels monitor the primary under",
        }),
        (_, Some(master)) => Err(ConfigError {
            var: "ISR_REDIS_MASTER",
            value: master,
            why: "only used with ISR_REDIS_SENTINELS",
        }),
        (Some("ISR_REDIS_CLUSTER_NODES"), None) => Ok(StoreChoice::RedisCluster(list(
            "ISR_REDIS_CLUSTER_NODES",
            set("ISR_REDIS_CLUSTER_NODES").unwrap_or_default(),
        )?)),
        (Some(_), None) => Ok(StoreChoice::Redis(set("ISR_REDIS_URL").unwrap_or_default())),
        (None, None) => Ok(match set("ISR_FS_DIR") {
            Some(dir) => StoreChoice::Fs(dir.into()),
            None => StoreChoice::Memory,
        }),
    }
}

/// A configuration value that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{var}={value:?}: {why}")]
pub struct ConfigError {
    var: &'static str,
    value: String,
    why: &'static str,
}

impl Config {
    /// Reads `DOCS_REVALIDATE`, `STATS_REVALIDATE`, `REVALIDATION_SECRET`, `ISR_REDIS_URL` and
    /// `ISR_FS_DIR`. Without a secret, a development
    /// secret is generated (the caller should print it with a warning).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), from any source of variables.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let docs_revalidate = seconds(&var, "DOCS_REVALIDATE", 1800)?;
        let stats_revalidate = seconds(&var, "STATS_REVALIDATE", 300)?;
        let (secret, secret_generated) = match var("REVALIDATION_SECRET") {
            Some(s) if !s.trim().is_empty() => (s, false),
            _ => (development_secret(), true),
        };
        let store = store_choice(&var)?;
        let max_bytes = match var("ISR_MAX_BYTES") {
            None => None,
            Some(value) => match value.trim().parse::<u64>() {
                Ok(bytes) if bytes > 0 => Some(bytes),
                _ => {
                    return Err(ConfigError {
                        var: "ISR_MAX_BYTES",
                        value,
                        why: "expected a number of bytes greater than 0",
                    });
                }
            },
        };
        let fail_percent = match var("CONTENT_FAIL_PERCENT") {
            None => 0,
            Some(value) => match value.trim().parse::<u64>() {
                Ok(p) if p <= 100 => p,
                _ => {
                    return Err(ConfigError {
                        var: "CONTENT_FAIL_PERCENT",
                        value,
                        why: "expected a whole percentage from 0 to 100",
                    });
                }
            },
        };
        let metrics = match var("ISR_METRICS").as_deref().map(str::trim) {
            None | Some("" | "0") => false,
            Some("1") => true,
            Some(other) => {
                return Err(ConfigError {
                    var: "ISR_METRICS",
                    value: other.to_owned(),
                    why: "expected 1 (on) or 0 (off)",
                });
            }
        };
        Ok(Self {
            metrics,
            max_bytes,
            fail_percent,
            store,
            docs_revalidate,
            stats_revalidate,
            secret,
            secret_generated,
            content_latency: Duration::from_millis(20),
        })
    }
}

/// A positive number of seconds from `name`, or `default`.
fn seconds(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    match var(name) {
        None => Ok(Duration::from_secs(default)),
        Some(value) => match value.trim().parse::<u64>() {
            Ok(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
            _ => Err(ConfigError {
                var: name,
                value,
                why: "expected a whole number of seconds greater than 0",
            }),
        },
    }
}

/// A random-enough secret for local development, from the standard library's hasher keys.
fn development_secret() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::from("dev-");
    for _ in 0..2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// Wall-clock time that advances with tokio's clock, so a test that pauses and advances time
/// sees pages rendered "later".
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    wall: std::time::SystemTime,
    base: tokio::time::Instant,
}

impl Clock {
    /// A clock starting now.
    pub fn new() -> Self {
        Self {
            wall: std::time::SystemTime::now(),
            base: tokio::time::Instant::now(),
        }
    }

    /// The time now.
    pub fn now(&self) -> std::time::SystemTime {
        self.wall + self.base.elapsed()
    }
}

/// Where both examples mount the cache inspector.
pub const INSPECTOR_PATH: &str = "/_isr";

/// The app's shared state.
#[derive(Clone, Debug)]
pub struct Site {
    /// The clock pages show.
    pub clock: Clock,
    /// The content source.
    pub content: Content,
    /// The ISR layer (and handle).
    pub isr: IsrLayer,
    /// The prerender list of `/docs/{slug}`.
    pub params: StaticParams,
    /// The admin and purge secret.
    pub auth: PurgeAuth,
    /// The configuration.
    pub config: Config,
    /// Renders per page per second (for soaks).
    pub audit: audit::RenderAudit,
    /// The cache inspector at `/_isr`.
    pub inspector: Inspector,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    /// The cache on the configured store (pages cached until revalidated unless a route says
    /// otherwise).
    pub async fn cache(&self) -> Result<IsrLayer, Box<dyn std::error::Error + Send + Sync>> {
        let builder = IsrLayer::builder().revalidate(Revalidate::never());
        let isr = match &self.store {
            StoreChoice::Memory => match self.max_bytes {
                Some(bytes) => builder
                    .store(isr_layer::store::MemoryStore::new(bytes))
                    .build()?,
                None => builder.build()?,
            },
            StoreChoice::Fs(dir) => builder
                .store(isr_layer::store::FsStore::open(dir)?)
                .build()?,
            StoreChoice::Redis(url) => builder
                .store(redis(RedisStore::builder(url)).await?)
                .build()?,
            StoreChoice::RedisCluster(nodes) => builder
                .store(redis(RedisStore::cluster(nodes)).await?)
                .build()?,
            StoreChoice::RedisSentinel { master, sentinels } => builder
                .store(redis(RedisStore::sentinel(master, sentinels)).await?)
                .build()?,
        };
        tracing::info!(store = ?self.store, "pages are kept in this store");
        Ok(isr)
    }
}

/// The site's Redis store in any topology: every instance of the site shares its prefix.
async fn redis(
    builder: isr_layer::store::RedisStoreBuilder,
) -> Result<RedisStore, isr_layer::store::StoreError> {
    builder.prefix("docs-site").connect().await
}

/// What both docs-site binaries (axum and actix) do first: logs to stdout (`RUST_LOG`, default
/// `info`), the configuration from the environment (warning when the secret was generated), and
/// the port from `PORT` (default 3000).
pub fn start_up() -> Result<(Config, u16), Box<dyn std::error::Error + Send + Sync>> {
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Config::from_env()?;
    if config.secret_generated {
        tracing::warn!(
            "REVALIDATION_SECRET is not set; using a development secret for this run: {}",
            config.secret
        );
    }
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .map_err(|e| format!("PORT={p:?} is not a port number: {e}"))?,
        Err(_) => 3000,
    };
    Ok((config, port))
}

impl Site {
    /// The admin calls, bound to this site.
    pub fn admin(&self) -> admin::Admin {
        admin::Admin {
            content: self.content.clone(),
            revalidator: self.isr.revalidator(),
            auth: self.auth.clone(),
        }
    }

    /// Builds the site: content, cache (on the configured store), static params.
    pub async fn new(config: Config) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        if config.metrics {
            // Installed before the first request, so every count from start-up on is kept.
            metrics::recorder();
        }
        let content = Content::seeded(config.content_latency);
        let isr = config.cache().await?;
        let source = content.clone();
        let params = StaticParams::new().route("/docs/{slug}", move || {
            let source = source.clone();
            async move {
                Ok(source
                    .guide_slugs()
                    .await
                    .into_iter()
                    .map(|slug| vec![("slug".to_owned(), slug)])
                    .collect::<Vec<ParamSet>>())
            }
        })?;
        let auth = PurgeAuth::new(&config.secret)?;
        let inspector = Inspector::new(INSPECTOR_PATH, isr.revalidator(), auth.clone())?;
        Ok(Self {
            inspector,
            clock: Clock::new(),
            audit: audit::RenderAudit::default(),
            content,
            isr,
            params,
            auth,
            config,
        })
    }

    /// The router: pages under the ISR layer, the purge and admin endpoints beside it.
    pub fn router(&self) -> Router {
        let dashboard = Router::new()
            .route("/stats", get(pages::stats))
            .layer(middleware::from_fn(dashboard_layout))
            .layer(IsrPolicyLayer::dynamic());
        let pages = Router::new()
            .route("/", get(pages::home))
            .route("/docs/{slug}", get(pages::guide))
            .route("/products/{slug}", get(pages::product))
            .nest("/dashboard", dashboard)
            .layer(middleware::from_fn_with_state(
                self.clone(),
                unreliable_content,
            ))
            .layer(self.params.layer())
            .layer(self.isr.clone());
        let admin = Router::new()
            .route("/api/products/{slug}", patch(update_price))
            .route("/api/guides", post(publish_guide))
            .route("/api/render-audit", get(render_audit));
        let mut router = pages.merge(admin).nest(
            "/api/revalidate",
            purge_router(self.isr.revalidator(), self.auth.clone()),
        );
        if self.config.metrics {
            // Beside the cache, not under it: the counters are read fresh on every scrape.
            router = router.route("/metrics", get(metrics::scrape));
        }
        router
            .merge(inspector_router(self.inspector.clone()))
            .with_state(self.clone())
    }

    /// Lists the guides and renders every one of them through `router` (start-up
    /// prerendering), and keeps the list fresh when `/docs` is revalidated.
    pub async fn prerender(&self, router: Router) -> PrerenderReport {
        self.params.generate().await;
        self.params.refresh_on_revalidation(&self.isr.revalidator());
        self.params.prerender(router, 16).await
    }
}

fn json_reply((status, body): admin::Reply) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn update_price(
    axum::extract::State(site): axum::extract::State<Site>,
    axum::extract::Path(slug): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    json_reply(site.admin().update_price(&headers, &slug, &body).await)
}

async fn publish_guide(
    axum::extract::State(site): axum::extract::State<Site>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    json_reply(site.admin().publish_guide(&headers, &body).await)
}

/// `GET /api/render-audit`: renders per page per second so far (behind the admin secret).
async fn render_audit(
    axum::extract::State(site): axum::extract::State<Site>,
    headers: axum::http::HeaderMap,
) -> Response {
    if !admin::authorized(&site.auth, &headers) {
        return json_reply((
            axum::http::StatusCode::UNAUTHORIZED,
            serde_json::json!({ "error": "Unauthorized" }),
        ));
    }
    axum::Json(site.audit.report()).into_response()
}

/// Runs below the cache, so it sees every render: counts renders of cacheable pages for the
/// audit, and fails `CONTENT_FAIL_PERCENT` of them with 503 (spread evenly), to rehearse an
/// unreliable CMS.
async fn unreliable_content(
    axum::extract::State(site): axum::extract::State<Site>,
    request: Request,
    next: Next,
) -> Response {
    static RENDERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let path = request.uri().path();
    if !path.starts_with("/dashboard") {
        let second = site
            .clock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        site.audit.record(path, second);
    }
    let percent = site.config.fail_percent;
    if percent > 0 {
        let n = RENDERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if (n * 37) % 100 < percent {
            return (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "the content source is unavailable",
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// The dashboard's layout: reads the `user` cookie, which is why the subtree is dynamic.
async fn dashboard_layout(mut request: Request, next: Next) -> Response {
    let visitor = request
        .headers()
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("user=").map(str::to_owned))
        .unwrap_or_else(|| "guest".to_owned());
    request.extensions_mut().insert(pages::Visitor(visitor));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_comes_from_the_environment() {
        let config = Config::from_vars(|name| match name {
            "DOCS_REVALIDATE" => Some("5".into()),
            "REVALIDATION_SECRET" => Some("s3cret".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.docs_revalidate, Duration::from_secs(5));
        assert_eq!(
            (config.secret.as_str(), config.secret_generated),
            ("s3cret", false)
        );

        let defaults = Config::from_vars(|_| None).unwrap();
        assert_eq!((defaults.max_bytes, defaults.fail_percent), (None, 0));
        assert!(
            Config::from_vars(|n| (n == "CONTENT_FAIL_PERCENT").then(|| "101".into())).is_err()
        );
        assert!(Config::from_vars(|n| (n == "ISR_MAX_BYTES").then(|| "lots".into())).is_err());
        assert_eq!(defaults.store, StoreChoice::Memory);
        let redis =
            Config::from_vars(|n| (n == "ISR_REDIS_URL").then(|| "redis://r".into())).unwrap();
        assert_eq!(redis.store, StoreChoice::Redis("redis://r".into()));
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let cluster = Config::from_vars(vars(&[(
            "ISR_REDIS_CLUSTER_NODES",
            " redis://a:7000, redis://b:7001,,",
        )]))
        .unwrap();
        assert_eq!(
            cluster.store,
            StoreChoice::RedisCluster(vec!["redis://a:7000".into(), "redis://b:7001".into()])
        );
        let sentinel = Config::from_vars(vars(&[
            ("ISR_REDIS_SENTINELS", "redis://s1:26379,redis://s2:26379"),
            ("ISR_REDIS_MASTER", "mymaster"),
        ]))
        .unwrap();
        assert_eq!(
            sentinel.store,
            StoreChoice::RedisSentinel {
                master: "mymaster".into(),
                sentinels: vec!["redis://s1:26379".into(), "redis://s2:26379".into()],
            }
        );
        for (bad, names) in [
            (
                vars(&[("ISR_REDIS_SENTINELS", "redis://s1:26379")]),
                "ISR_REDIS_MASTER",
            ),
            (
                vars(&[("ISR_REDIS_MASTER", "mymaster")]),
                "ISR_REDIS_MASTER",
            ),
            (
                vars(&[("ISR_REDIS_CLUSTER_NODES", " , ")]),
                "ISR_REDIS_CLUSTER_NODES",
            ),
            (
                vars(&[
                    ("ISR_REDIS_URL", "redis://r"),
                    ("ISR_REDIS_CLUSTER_NODES", "redis://a:7000"),
                ]),
                "ISR_REDIS_CLUSTER_NODES",
            ),
        ] {
            let error = Config::from_vars(bad).unwrap_err().to_string();
            assert!(error.starts_with(names), "{error}");
        }
        let fs = Config::from_vars(|n| (n == "ISR_FS_DIR").then(|| "/tmp/x".into())).unwrap();
        assert_eq!(fs.store, StoreChoice::Fs("/tmp/x".into()));
        assert_eq!(defaults.docs_revalidate, Duration::from_secs(1800));
        assert_eq!(defaults.stats_revalidate, Duration::from_secs(300));
        assert!(defaults.secret_generated && defaults.secret.len() > 20);

        for bad in ["0", "soon", "-3"] {
            for var in ["DOCS_REVALIDATE", "STATS_REVALIDATE"] {
                let err = Config::from_vars(|name| (name == var).then(|| bad.into()));
                assert!(err.is_err(), "{var}={bad}");
            }
        }
    }
}
