//! The seeded guides' Markdown, written from each guide's topic: deterministic (the same slug
//! always gives the same text), with headings, paragraphs, lists, code, a table and links to the
//! neighbouring guides, and long enough to make pages of a realistic size (10 to 40 KB of HTML).

use std::fmt::Write as _;

/// One topic of the handbook: a guide of its own, and material for the recipes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Topic {
    /// The guide's slug.
    pub(crate) slug: &'static str,
    /// What the guide is about, in one sentence.
    lede: &'static str,
    /// Advice specific to the topic.
    points: [&'static str; 4],
    /// Which of [`SNIPPETS`] shows it in code.
    snippet: usize,
}

const fn topic(
    slug: &'static str,
    lede: &'static str,
    points: [&'static str; 4],
    snippet: usize,
) -> Topic {
    Topic {
        slug,
        lede,
        points,
        snippet,
    }
}

/// The topics, in reading order (after `getting-started`).
pub(crate) const TOPICS: [Topic; 24] = [
    topic(
        "installation",
        "Add the crates to a project, pick the features you need and check that the first page is cached.",
        [
            "Add `isr-axum` for axum apps or `isr-actix-adapter` for actix-web; both re-export the layer's types.",
            "Enable the `fs` or `redis` feature of `isr-layer` only when you keep pages outside memory.",
            "Keep one cache per process and clone it into every router: clones share the same store.",
            "Run the app once with `ISR_DEBUG_CACHE=1` and watch the first MISS turn into a HIT.",
        ],
        0,
    ),
    topic(
        "project-structure",
        "Lay out a service so that pages, data access and cache policy each live in one obvious place.",
        [
            "Keep page handlers thin: fetch, render, return; policy belongs in attributes or layers.",
            "Put the content client behind one type that every handler shares, so reads can be counted.",
            "Group routes by how long their pages stay fresh, not by the team that owns them.",
            "Keep the purge endpoint beside the pages, not under them, so it is never cached.",
        ],
        1,
    ),
    topic(
        "routing",
        "Map paths to handlers and decide which of them the cache may keep.",
        [
            "Every route under the layer is cacheable unless its policy says otherwise.",
            "The cache key is the path and the query that matters; tracking parameters never enter it.",
            "Nest routers to give a whole subtree one policy instead of repeating it per handler.",
            "Routes that change state (POST, PATCH, DELETE) pass through the cache untouched.",
        ],
        1,
    ),
    topic(
        "dynamic-routes",
        "Serve pages whose paths carry parameters, like `/docs/{slug}`, and cache each one separately.",
        [
            "Each value of a parameter is its own page with its own entry and its own clock.",
            "An unknown slug renders on first visit; a 404 is cached too, so a flood of bad links stays cheap.",
            "List the known values with static params to render them before the first visitor arrives.",
            "Validate parameters before fetching: a slug of a thousand characters should never reach the CMS.",
        ],
        2,
    ),
    topic(
        "layouts",
        "Share structure between pages and understand how a layout's policy reaches every page below it.",
        [
            "A layout that reads a cookie or a header makes every page beneath it dynamic.",
            "Revalidating a layout path expires every page under it in one call.",
            "Keep personal data in small dynamic islands rather than in the layout around them.",
            "The debug log names the level that set a policy, so a surprising BYPASS is easy to trace.",
        ],
        3,
    ),
    topic(
        "data-fetching",
        "Fetch from APIs and databases through the data cache, so many pages share one request.",
        [
            "The data cache is separate from the page cache: a page can render often and fetch rarely.",
            "Give each fetch a key, a revalidate and tags; pages take the shortest revalidate they fetched.",
            "Two pages that need the same record share one fetch and one entry.",
            "A failed refetch keeps serving the last good value instead of an error.",
        ],
        4,
    ),
    topic(
        "caching",
        "Understand what is kept, for how long, and what each cache state means for a visitor.",
        [
            "HIT serves a fresh copy; STALE serves the old copy while one regeneration runs.",
            "MISS renders now and stores the result; BYPASS renders every time and stores nothing.",
            "Only successful, cacheable answers are kept: no `Set-Cookie`, no `private`, no `no-store`.",
            "Entries are weighed in bytes, and the least recently used ones leave first.",
        ],
        0,
    ),
    topic(
        "revalidating",
        "Refresh pages on a timer or on demand, by path, by layout or by tag.",
        [
            "Time-based revalidation serves the old page once the clock runs out and renders in the background.",
            "On-demand revalidation by tag reaches every page that carries the tag, wherever it lives.",
            "Expire mode renders on the next visit; stale mode keeps serving while one render runs.",
            "Revalidate from the code that changed the data, not from a cron job that guesses.",
        ],
        5,
    ),
    topic(
        "static-params",
        "Render a known list of pages at start-up and keep the list in step with the content.",
        [
            "A generator returns the parameter sets of a route; the prerender renders each through the router.",
            "Prerendering goes through the cache, so what it renders is stored like any first visit.",
            "Refresh the list when the layout is revalidated, so a new guide joins the next prerender.",
            "Limit the concurrency of the prerender so a cold start does not flood the content source.",
        ],
        2,
    ),
    topic(
        "error-handling",
        "Decide what visitors see when the content source fails, and what the cache keeps.",
        [
            "A failed regeneration keeps the stale page in place; visitors never see the error.",
            "Server errors are not cached: the next visitor tries again.",
            "A 404 is cached with its own revalidate, so a purge can bring the page to life later.",
            "Log the failure with the key; the debug log says which render failed and why.",
        ],
        6,
    ),
    topic(
        "loading-states",
        "Keep visitors from waiting: serve stale pages, stream slow ones and prerender the rest.",
        [
            "With stale-while-revalidate no visitor waits for a render once a page has been seen.",
            "Large pages stream to the first visitor while they are teed into the cache.",
            "Prerendered pages are hits from the first request on.",
            "Coalescing means a hundred visitors of a missing page cause one render, not a hundred.",
        ],
        7,
    ),
    topic(
        "middleware",
        "Place the cache correctly among the other layers of a service.",
        [
            "Layers above the cache run on every request; layers below it run only on renders.",
            "Put authentication above the cache, or mark its subtree dynamic, never both below and cached.",
            "Compression may sit above the cache, but the cache already keeps encoded copies.",
            "A layer that adds a per-request nonce makes the answer uncacheable, on purpose.",
        ],
        3,
    ),
    topic(
        "authentication",
        "Serve signed-in visitors without leaking one visitor's page to another.",
        [
            "A page that depends on who is looking must never be cached for everyone.",
            "Read the session in a dynamic layout, and keep public pages outside it.",
            "Answers with `Set-Cookie` or `Cache-Control: private` are never stored.",
            "Protect the purge endpoint with a secret, compared in constant time.",
        ],
        6,
    ),
    topic(
        "environment-variables",
        "Configure revalidation, stores and secrets from the environment, with safe defaults.",
        [
            "Read every variable once at start-up and refuse values that make no sense.",
            "Without a secret, generate one for development and say so loudly in the log.",
            "Store choice follows the environment: Redis, else files, else memory.",
            "Keep the defaults in one table in the README, next to the code that reads them.",
        ],
        0,
    ),
    topic(
        "deploying",
        "Ship a service with a warm cache, graceful shutdown and predictable first requests.",
        [
            "Prerender before taking traffic, or accept that the first visitors render.",
            "A file store survives restarts: pages still fresh are served without a render.",
            "Shut down gracefully so background regenerations finish or are dropped cleanly.",
            "Check the prerender report in the log: rendered, failed and how long it took.",
        ],
        7,
    ),
    topic(
        "self-hosting",
        "Run the service on your own machines, behind your own proxy, with your own store.",
        [
            "A reverse proxy in front may cache too; let it respect the headers the service sends.",
            "Give the memory store a byte bound that fits the machine, not the default blindly.",
            "Keep the file store on local disk; network file systems make every read slow.",
            "Watch the cache statistics to see the hit ratio and the number of renders.",
        ],
        8,
    ),
    topic(
        "multi-instance",
        "Run several instances that share pages, purges and regeneration through Redis.",
        [
            "A page rendered on one instance is a hit on every other one.",
            "A purge on one instance reaches all of them through a subscription.",
            "A stale page is regenerated once in the whole cluster, by the instance that takes its lock.",
            "If Redis goes away, each instance keeps serving from memory and catches up afterwards.",
        ],
        8,
    ),
    topic(
        "observability",
        "See what the cache does: states, reasons, renders and timings.",
        [
            "Every answer says its cache state in a response header.",
            "The debug log explains each BYPASS with the rule that caused it.",
            "Count renders per page to find pages that regenerate too often.",
            "Export hit ratio and render latency; both move when content or traffic changes.",
        ],
        9,
    ),
    topic(
        "testing",
        "Test cached pages end to end, on a paused clock, without sleeping for real.",
        [
            "Start the app on an ephemeral port and drive it over HTTP like a visitor.",
            "Pause tokio's clock and advance it to make pages stale in an instant.",
            "Assert on cache states and render counts, not only on bodies.",
            "Test the purge endpoint with wrong secrets and malformed bodies as well.",
        ],
        9,
    ),
    topic(
        "security",
        "Keep the cache from serving what it should not and the purge endpoint from abuse.",
        [
            "Never cache answers that carry cookies, credentials or per-request nonces.",
            "Escape everything you interpolate into HTML, including titles from the CMS.",
            "Bound the size of purge bodies and refuse anything that is not JSON.",
            "Rotate the revalidation secret like any other credential.",
        ],
        6,
    ),
    topic(
        "performance",
        "Make hits cheap, renders rare and large pages fast.",
        [
            "A hit is a lookup and a copy of bytes; keep it that way by avoiding work above the cache.",
            "Compressed copies are made once per render, not once per request.",
            "Coalescing and stale-while-revalidate keep renders to one per page per window.",
            "Measure time to first byte for hits and misses separately; they answer different questions.",
        ],
        7,
    ),
    topic(
        "images",
        "Serve images and other large assets next to cached pages.",
        [
            "Give images long-lived, versioned URLs and let the browser cache them.",
            "Keep image bytes out of the page cache unless they are small and change with the page.",
            "Set width and height on every image so the page does not jump while it loads.",
            "Serve modern formats when the browser asks for them, and keep a fallback.",
        ],
        1,
    ),
    topic(
        "internationalisation",
        "Serve pages in several languages, each cached under its own key.",
        [
            "Put the language in the path, not in a header, so each variant has its own entry.",
            "Tag pages by language to revalidate one translation without touching the others.",
            "Fall back to the default language when a translation is missing, and cache the fallback.",
            "Avoid reading `Accept-Language` in a layout: it would make every page dynamic.",
        ],
        5,
    ),
    topic(
        "upgrading",
        "Move to a new release without losing the cache or surprising visitors.",
        [
            "Read the changelog for changes of the entry format; old entries are dropped and rendered again.",
            "Upgrade one instance at a time when several share a store.",
            "Re-run the end-to-end tests with the new release before deploying it.",
            "Expect a short burst of renders after an upgrade that changes the format.",
        ],
        4,
    ),
];

/// Code examples, in Rust, that the guides show.
const SNIPPETS: [&str; 10] = [
    r#"use isr_axum::{IsrLayer, Revalidate};

let isr = IsrLayer::builder()
    .revalidate(Revalidate::secs(60))
    .build()?;
let app = Router::new()
    .route("/", get(home))
    .route("/docs/{slug}", get(guide))
    .layer(isr.clone());"#,
    r#"let pages = Router::new()
    .route("/", get(pages::home))
    .route("/docs/{slug}", get(pages::guide))
    .route("/products/{slug}", get(pages::product))
    .layer(isr.clone());
let app = pages
    .nest("/api/revalidate", purge_router(isr.revalidator(), auth))
    .with_state(site);"#,
    r#"let params = StaticParams::new().route("/docs/{slug}", move || {
    let source = source.clone();
    async move {
        Ok(source
            .guide_slugs()
            .await
            .into_iter()
            .map(|slug| vec![("slug".to_owned(), slug)])
            .collect::<Vec<ParamSet>>())
    }
})?;"#,
    r#"let dashboard = Router::new()
    .route("/stats", get(stats))
    .layer(middleware::from_fn(read_the_session))
    .layer(IsrPolicyLayer::dynamic());
let app = Router::new()
    .nest("/dashboard", dashboard)
    .layer(isr.clone());"#,
    r#"let options = FetchOptions::revalidate_after(Duration::from_secs(300)).tags(["stats"]);
let stats = isr
    .data_cache()
    .get_or_fetch("dashboard-stats", options, move || async move {
        Ok::<_, Infallible>(source.stats().await)
    })
    .await?;"#,
    r#"// After the CMS changed a product:
revalidator.revalidate_tag("product-blue-sneakers").await?;
// After a new guide was published:
revalidator
    .revalidate_path_scoped("/docs", PathScope::Layout, InvalidationMode::Expire)
    .await?;"#,
    r#"async fn guide(isr: Isr, State(site): State<Site>, Path(slug): Path<String>) -> Response {
    isr.revalidate(site.config.docs_revalidate);
    isr.tag("docs");
    match site.content.guide(&slug).await {
        Some(guide) => Html(render(&guide)).into_response(),
        None => (StatusCode::NOT_FOUND, Html(not_found())).into_response(),
    }
}"#,
    r#"let report = site.prerender(router.clone()).await;
tracing::info!(
    rendered = report.rendered,
    failed = report.failed.len(),
    took_ms = report.took.as_millis() as u64,
    "prerendered the docs"
);"#,
    r#"let store = RedisStore::builder("redis://127.0.0.1:6379")
    .prefix("docs-site")
    .connect()
    .await?;
let isr = IsrLayer::builder()
    .revalidate(Revalidate::never())
    .store(store)
    .build()?;"#,
    r#"#[tokio::test(start_paused = true)]
async fn a_stale_page_is_served_while_one_render_runs() {
    let server = Server::start(app()).await;
    assert_eq!(server.get("/docs/routing").await.cache(), "MISS");
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(server.get("/docs/routing").await.cache(), "STALE");
}"#,
];

/// Sentences that open a guide; `{t}` is the topic in lower case, `{T}` its title.
const INTRO: [&str; 6] = [
    "This guide explains {t} step by step, from the first line of code to a service in production.",
    "{T} is one of the places where incremental static regeneration pays off or surprises you.",
    "Most services get {t} right on the first try and wrong on the second; this guide covers both.",
    "The examples come from the handbook's own docs site, which you can run and inspect locally.",
    "Each section ends with something you can check, so you know the cache does what you expect.",
    "Read it once from top to bottom, then come back to the configuration table when you need it.",
];

const OVERVIEW: [&str; 10] = [
    "A cached page is rendered once and served many times, until its revalidate runs out or something purges it.",
    "The cache sits in front of your handlers as a layer, so the handlers stay ordinary functions.",
    "Every answer carries its cache state, which makes the behaviour visible from a terminal.",
    "When a page goes stale, the next visitor gets the old copy at once and one regeneration starts in the background.",
    "Pages carry tags, so one call can reach every page that shows a given piece of content.",
    "The content source is asked far less often than pages are served, which is the whole point.",
    "Dynamic pages still work: they simply bypass the cache and render for every request.",
    "A store keeps the pages: memory by default, files to survive restarts, Redis to share between instances.",
    "Nothing here is specific to one framework; axum and actix-web apps behave the same way.",
    "The defaults are conservative: a page is only cached when nothing about the answer forbids it.",
];

const DETAIL: [&str; 12] = [
    "In practice, {t} comes down to a few decisions made once and written down next to the code.",
    "If you are unsure, start with a long revalidate and purge on demand; shorten it only when you must.",
    "The debug log is the fastest way to see why a page was or was not cached.",
    "Keep an eye on the render count: it should grow with content changes, not with traffic.",
    "A good test for {t} drives the app over HTTP and asserts on cache states, not only on bodies.",
    "When two settings disagree, the stricter one wins, so a page is never cached by accident.",
    "The same rules hold for every instance of the service, whatever store it uses.",
    "Write the policy where a reader looks for it: on the handler, on the router, or in the layout.",
    "Changes to how a service handles {t} rarely need a restart; most take effect at the next render.",
    "When something looks wrong, purge the page and watch the next render in the log.",
    "A page that renders in twenty milliseconds still benefits: the cache takes the load off the source.",
    "Prefer explicit tags over broad purges, so one change does not empty the whole cache.",
];

const PREREQS: [&str; 8] = [
    "A Rust toolchain of version 1.88 or later.",
    "An axum or actix-web service with at least one page route.",
    "The docs-site example running locally, to try the commands as you read.",
    "`curl` or any HTTP client that can show response headers.",
    "A secret for the purge endpoint, set as `REVALIDATION_SECRET`.",
    "Optionally, Redis on `127.0.0.1:6379` for the parts about several instances.",
    "Ten minutes, and a page you would like to serve faster.",
    "Familiarity with async Rust and tokio.",
];

const STEP_TITLES: [&str; 14] = [
    "Decide what is cacheable",
    "Set a revalidate",
    "Tag the page",
    "Render once, serve many times",
    "Watch the cache states",
    "Purge on demand",
    "Handle the missing page",
    "Share the data",
    "Prerender the known pages",
    "Check the debug log",
    "Measure the result",
    "Keep the policy visible",
    "Plan for failure",
    "Write the test",
];

const MISTAKES: [(&str, &str); 8] = [
    (
        "Reading a cookie in a layout",
        "makes every page below it dynamic; move the personal part into its own route.",
    ),
    (
        "Purging everything after every change",
        "empties the cache and sends all traffic to the source; purge by tag instead.",
    ),
    (
        "A revalidate of one second",
        "turns the cache into a render queue; on-demand revalidation is usually what you want.",
    ),
    (
        "Forgetting the 404",
        "means a page published later stays missing until its entry expires; revalidate the layout.",
    ),
    (
        "Interpolating content without escaping",
        "lets a title from the CMS inject markup into every cached copy of the page.",
    ),
    (
        "Setting cookies on public pages",
        "makes them uncacheable; the debug log names the header that prevented caching.",
    ),
    (
        "Testing with real sleeps",
        "makes tests slow and flaky; a paused clock advances in an instant.",
    ),
    (
        "Sharing one Redis prefix between unrelated apps",
        "mixes their pages and purges; give each app its own prefix.",
    ),
];

/// Settings that the configuration tables draw from: name, default, meaning.
const SETTINGS: [(&str, &str, &str); 12] = [
    (
        "`DOCS_REVALIDATE`",
        "1800",
        "seconds before a guide goes stale",
    ),
    (
        "`STATS_REVALIDATE`",
        "300",
        "seconds before the dashboard's data is fetched again",
    ),
    (
        "`REVALIDATION_SECRET`",
        "generated",
        "secret of the purge and admin endpoints",
    ),
    (
        "`ISR_MAX_BYTES`",
        "256 MiB",
        "byte bound of the memory store",
    ),
    (
        "`ISR_REDIS_URL`",
        "unset",
        "keep pages in Redis, shared by instances",
    ),
    (
        "`ISR_REDIS_CLUSTER_NODES`",
        "unset",
        "keep pages in a Redis Cluster (comma-separated seed URLs)",
    ),
    (
        "`ISR_REDIS_SENTINELS`, `ISR_REDIS_MASTER`",
        "unset",
        "keep pages in the primary these sentinels monitor under that name",
    ),
    (
        "`ISR_FS_DIR`",
        "unset",
        "keep pages in files that survive a restart",
    ),
    (
        "`ISR_DEBUG_CACHE`",
        "off",
        "log every cache state and revalidation",
    ),
    ("`PORT`", "3000", "where the service listens"),
    (
        "`Revalidate::never()`",
        "builder",
        "cache until purged unless a route says otherwise",
    ),
    (
        "`IsrPolicyLayer::dynamic()`",
        "per subtree",
        "render every request below this layer",
    ),
];

const CHECKS: [&str; 8] = [
    "The first request after start-up is a HIT for every prerendered page.",
    "A second request for any page is a HIT.",
    "After the revalidate runs out, exactly one request sees STALE and one render follows.",
    "A purge by tag turns the next request into a MISS.",
    "Dynamic routes answer BYPASS every time.",
    "The render count grows with content changes, not with traffic.",
    "Wrong secrets get 401 and malformed bodies get 400.",
    "The log shows the prerender report at start-up.",
];

/// A small deterministic generator (SplitMix64), seeded from the slug.
struct Dice(u64);

impl Dice {
    fn new(slug: &str) -> Self {
        // FNV-1a of the slug.
        let seed = slug.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// From `least` to `least + spread - 1` distinct items of `items`, in a shuffled order.
    fn pick_some<T: Copy>(&mut self, items: &[T], least: usize, spread: usize) -> Vec<T> {
        let count = least + self.below(spread);
        self.pick(items, count)
    }

    /// `count` distinct items of `items`, in a shuffled order.
    fn pick<T: Copy>(&mut self, items: &[T], count: usize) -> Vec<T> {
        let mut order: Vec<usize> = (0..items.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, self.below(i + 1));
        }
        order
            .into_iter()
            .take(count.min(items.len()))
            .map(|i| items[i])
            .collect()
    }
}

/// The title of a slug: `getting-started` → `Getting Started`.
pub(crate) fn title_of(slug: &str) -> String {
    slug.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The topic of a seeded slug, and for a recipe the second topic it combines.
fn topics_of(slug: &str) -> Option<(Topic, Option<Topic>)> {
    if let Some(t) = TOPICS.iter().find(|t| t.slug == slug) {
        return Some((*t, None));
    }
    let n: usize = slug.strip_prefix("recipe-")?.parse().ok()?;
    let first = TOPICS[(n + 23) % TOPICS.len()];
    let mut second = TOPICS[(n * 7 + 5) % TOPICS.len()];
    if second.slug == first.slug {
        second = TOPICS[(n + 11) % TOPICS.len()];
    }
    Some((first, Some(second)))
}

/// `sentence` with `{t}` replaced by `name` and `{T}` by `name` with a capital.
fn fill(sentence: &str, name: &str) -> String {
    let mut chars = name.chars();
    let capitalised = chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default();
    sentence.replace("{t}", name).replace("{T}", &capitalised)
}

/// A bank of sentences dealt in a shuffled order, so a guide repeats one only after it has
/// used all the others.
struct Deck {
    bank: &'static [&'static str],
    order: Vec<usize>,
}

impl Deck {
    fn new(bank: &'static [&'static str]) -> Self {
        Self {
            bank,
            order: Vec::new(),
        }
    }

    fn deal(&mut self, dice: &mut Dice) -> &'static str {
        if self.order.is_empty() {
            self.order = dice.pick(&(0..self.bank.len()).collect::<Vec<_>>(), self.bank.len());
        }
        self.order.pop().map_or("", |i| self.bank[i])
    }
}

/// A paragraph of two or three sentences from `deck`, with the `extra` sentences woven in.
fn paragraph(md: &mut String, dice: &mut Dice, deck: &mut Deck, name: &str, extra: &[&str]) {
    let count = 2 + dice.below(2);
    let mut sentences: Vec<String> = (0..count).map(|_| fill(deck.deal(dice), name)).collect();
    for s in extra {
        sentences.insert(dice.below(sentences.len() + 1), (*s).to_owned());
    }
    md.push_str(&sentences.join(" "));
    md.push_str("\n\n");
}

fn link(slug: &str) -> String {
    format!("[{}](/docs/{slug})", title_of(slug))
}

/// The Markdown of the seeded guide `slugs[index]`; `slugs` is the reading order, whose
/// neighbours the guide links to.
pub(crate) fn markdown(slugs: &[String], index: usize) -> String {
    let slug = slugs[index].as_str();
    let mut dice = Dice::new(slug);
    let previous = index.checked_sub(1).map(|i| slugs[i].as_str());
    let next = slugs.get(index + 1).map(String::as_str);
    let (main, second) = match topics_of(slug) {
        Some(found) => found,
        None if slug == "getting-started" => (TOPICS[0], None),
        None => (TOPICS[dice.below(TOPICS.len())], None),
    };
    let name = match second {
        Some(second) => format!(
            "{} with {}",
            title_of(main.slug).to_lowercase(),
            title_of(second.slug).to_lowercase()
        ),
        None if slug == "getting-started" => "getting started with isr-rs".to_owned(),
        None => title_of(main.slug).to_lowercase(),
    };
    let mut md = String::with_capacity(16 * 1024);
    let (mut intro, mut overview, mut detail) =
        (Deck::new(&INTRO), Deck::new(&OVERVIEW), Deck::new(&DETAIL));

    // The lede and the introduction.
    let lede = match second {
        Some(second) => format!(
            "A worked recipe: {} Then: {}",
            main.lede,
            second.lede.to_lowercase()
        ),
        None if slug == "getting-started" => {
            "Run the handbook's docs site, watch a page go from MISS to HIT to STALE, \
             and learn where to read next."
                .to_owned()
        }
        None => main.lede.to_owned(),
    };
    let _ = writeln!(md, "*{lede}*\n");
    paragraph(&mut md, &mut dice, &mut intro, &name, &[]);
    paragraph(&mut md, &mut dice, &mut overview, &name, &[]);

    // Overview.
    md.push_str("## Overview\n\n");
    paragraph(&mut md, &mut dice, &mut overview, &name, &[main.points[0]]);
    paragraph(&mut md, &mut dice, &mut detail, &name, &[main.points[1]]);

    // Prerequisites.
    md.push_str("## Before you begin\n\n");
    for item in dice.pick_some(&PREREQS, 3, 3) {
        let _ = writeln!(md, "- {item}");
    }
    if let Some(previous) = previous {
        let _ = writeln!(md, "- Having read {}.", link(previous));
    }
    md.push('\n');

    // How it works.
    let _ = writeln!(md, "## How {name} works\n");
    paragraph(&mut md, &mut dice, &mut overview, &name, &[main.points[2]]);
    let _ = writeln!(md, "> **Tip:** {}\n", main.points[3]);
    if let Some(second) = second {
        paragraph(&mut md, &mut dice, &mut detail, &name, &[second.points[0]]);
        let _ = writeln!(md, "> **Note:** {}\n", second.points[1]);
    }
    paragraph(&mut md, &mut dice, &mut detail, &name, &[]);

    // The steps: their count varies with the slug, and so does the page's size.
    let steps = dice.pick_some(&STEP_TITLES, 3, 10);
    md.push_str("## Step by step\n\n");
    for (i, step) in steps.iter().enumerate() {
        let _ = writeln!(md, "{}. {step}.", i + 1);
    }
    md.push('\n');
    let points: Vec<&str> = main
        .points
        .iter()
        .chain(second.iter().flat_map(|s| s.points.iter()))
        .copied()
        .collect();
    for (i, step) in steps.iter().enumerate() {
        let _ = writeln!(md, "### Step {}: {step}\n", i + 1);
        paragraph(
            &mut md,
            &mut dice,
            &mut detail,
            &name,
            &[points[i % points.len()]],
        );
        paragraph(&mut md, &mut dice, &mut overview, &name, &[]);
        for check in dice.pick_some(&CHECKS, 2, 2) {
            let _ = writeln!(md, "- {check}");
        }
        md.push('\n');
    }

    // An example in code.
    md.push_str("## Example\n\n");
    paragraph(&mut md, &mut dice, &mut detail, &name, &[]);
    let _ = writeln!(md, "```rust\n{}\n```\n", SNIPPETS[main.snippet]);
    if let Some(second) = second.filter(|s| s.snippet != main.snippet) {
        md.push_str("And the second half of the recipe:\n\n");
        let _ = writeln!(md, "```rust\n{}\n```\n", SNIPPETS[second.snippet]);
    }
    md.push_str("Try it against the running docs site:\n\n");
    let _ = writeln!(
        md,
        "```sh\ncurl -si localhost:3000/docs/{slug} | head -n 12\n\
         curl -s -X POST localhost:3000/api/revalidate -H 'x-revalidate-secret: my-secret' \\\n  \
         -H 'content-type: application/json' -d '{{\"path\": \"/docs/{slug}\"}}'\n```\n"
    );

    // Configuration.
    md.push_str("## Configuration\n\n");
    md.push_str("| Setting | Default | Meaning |\n|---|---|---|\n");
    for (setting, default, meaning) in dice.pick_some(&SETTINGS, 4, 5) {
        let _ = writeln!(md, "| {setting} | {default} | {meaning} |");
    }
    md.push('\n');
    paragraph(&mut md, &mut dice, &mut detail, &name, &[]);

    // Mistakes and a checklist.
    md.push_str("## Common mistakes\n\n");
    for (what, why) in dice.pick_some(&MISTAKES, 3, 3) {
        let _ = writeln!(md, "- **{what}** {why}");
    }
    md.push_str("\n## Checklist\n\n");
    for (i, check) in dice.pick_some(&CHECKS, 4, 3).iter().enumerate() {
        let _ = writeln!(md, "{}. {check}", i + 1);
    }

    // Where to go next.
    md.push_str("\n## Related guides\n\n");
    if let Some(previous) = previous {
        let _ = writeln!(md, "- Previous: {}", link(previous));
    }
    if let Some(next) = next {
        let _ = writeln!(md, "- Next: {}", link(next));
    }
    let mut related = vec![main.slug];
    related.extend(second.map(|s| s.slug));
    related.extend(dice.pick(&TOPICS, 3).iter().map(|t| t.slug));
    let related: Vec<String> = related
        .into_iter()
        .filter(|r| *r != slug && Some(*r) != previous && Some(*r) != next)
        .take(3)
        .map(link)
        .collect();
    if !related.is_empty() {
        let _ = writeln!(md, "- See also: {}", related.join(", "));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slugs() -> Vec<String> {
        let mut slugs = vec!["getting-started".to_owned()];
        slugs.extend(TOPICS.iter().map(|t| t.slug.to_owned()));
        slugs.extend((1..=55).map(|n| format!("recipe-{n:02}")));
        slugs
    }

    #[test]
    fn the_same_slug_gives_the_same_text() {
        let slugs = slugs();
        for i in [0, 7, 40] {
            assert_eq!(markdown(&slugs, i), markdown(&slugs, i));
        }
        assert_ne!(markdown(&slugs, 30), markdown(&slugs, 31));
    }

    #[test]
    fn a_guide_has_sections_code_a_table_and_links_to_its_neighbours() {
        let slugs = slugs();
        let md = markdown(&slugs, 8);
        for part in [
            "## Overview",
            "```rust",
            "| Setting |",
            "- Previous: [Caching](/docs/caching)",
            "- Next: [Static Params](/docs/static-params)",
        ] {
            assert!(md.contains(part), "{part} in {md}");
        }
        assert!(
            !md.contains("\n# "),
            "only the page has a level-one heading"
        );
    }
}
