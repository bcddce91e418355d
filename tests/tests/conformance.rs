//! axum and actix-web give the same answers: every scenario runs against the axum app (tower
//! `IsrLayer`) and the actix app (`IsrActix`) over real HTTP, on tokio's paused clock, with the
//! same explicit expectations, and the two transcripts (status, `x-isr-cache`, body and render
//! counts of every step) must then be equal. Adding a scenario adds it for both frameworks.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use isr_tests::conformance::{self, Framework, GUIDES, Mode, Origin, SECRET};
use isr_tests::{Got, Server};

/// One framework's app, its origin, and the transcript of what was seen.
struct Site {
    framework: Framework,
    server: Server,
    origin: Arc<Origin>,
    isr: isr_layer::IsrLayer,
    transcript: RefCell<Vec<String>>,
}

impl Site {
    fn note(&self, line: String) {
        self.transcript.borrow_mut().push(line);
    }

    async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Got {
        let got = self.server.send(method.clone(), path, headers, body).await;
        // Purge answers carry wall-clock times, which differ between runs.
        let mut seen = got.body.clone();
        if let Ok(serde_json::Value::Object(mut object)) = serde_json::from_str(&got.body) {
            object.remove("now");
            object.remove("at");
            seen = serde_json::Value::Object(object).to_string();
        }
        self.note(format!(
            "{method} {path} -> {} {} {seen:?}",
            got.status.as_u16(),
            got.cache(),
        ));
        got
    }

    async fn get(&self, path: &str) -> Got {
        self.send(Method::GET, path, &[], "").await
    }

    /// `GET path`, expecting this status, `x-isr-cache` and body.
    async fn expect(&self, path: &str, status: u16, cache: &str, body: &str) -> Got {
        let got = self.get(path).await;
        assert_eq!(
            (got.status.as_u16(), got.cache(), got.body.as_str()),
            (status, cache, body),
            "GET {path}"
        );
        got
    }

    /// Renders of `path` so far, expected to be `n`.
    fn renders(&self, path: &str, n: usize) {
        let seen = self.origin.renders(path);
        self.note(format!("renders {path} = {seen}"));
        assert_eq!(seen, n, "renders of {path}");
    }

    async fn purge(&self, json: &str) -> Got {
        let got = self
            .send(
                Method::POST,
                "/api/revalidate",
                &[
                    ("content-type", "application/json"),
                    ("x-revalidate-secret", SECRET),
                ],
                json,
            )
            .await;
        assert_eq!(got.status, 200, "purge {json}: {}", got.body);
        got
    }

    async fn advance(&self, secs: u64) {
        self.note(format!("advance {secs}s"));
        tokio::time::advance(Duration::from_secs(secs)).await;
    }

    /// Whether the cache holds a fresh page for `path`.
    fn fresh(&self, path: &str) -> bool {
        self.isr.revalidator().inspect(1_000).iter().any(|summary| {
            summary.entry.key() == path && summary.state == isr_layer::invalidate::EntryState::Fresh
        })
    }

    /// Waits (on the paused clock, a bounded number of times) until `done` holds.
    async fn eventually(&self, what: &str, done: impl Fn(&Self) -> bool) {
        for _ in 0..4_000 {
            if done(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never happened: {what}");
    }

    /// `GET path` over a connection of its own. With `hang_up_when`, the client hangs up as
    /// soon as it holds, before any answer; without, the whole raw answer is read and returned.
    async fn raw_get(&self, path: &str, hang_up_when: Option<&dyn Fn(&Self) -> bool>) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.server.addr)
            .await
            .unwrap();
        let request =
            format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        if let Some(hang_up_when) = hang_up_when {
            self.eventually("the moment to hang up", hang_up_when).await;
            drop(stream);
            self.note(format!("GET {path} -> hung up"));
            return String::new();
        }
        let mut answer = Vec::new();
        // A reset connection reads as an error: what was read so far is the answer.
        let _ = stream.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer.split(' ').nth(1).unwrap_or("no answer").to_owned();
        self.note(format!("GET {path} -> raw {status}"));
        answer
    }

    /// Sends `n` concurrent `GET path` and returns their answers, in order.
    async fn storm(&self, path: &str, n: usize) -> Vec<Got> {
        let requests = (0..n).map(|_| self.server.get(path));
        let answers = futures_join_all(requests).await;
        for got in &answers {
            self.note(format!(
                "storm GET {path} -> {} {} {:?}",
                got.status.as_u16(),
                got.cache(),
                got.body
            ));
        }
        answers
    }
}

/// Polls every future to completion on the current task.
async fn futures_join_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = handles.iter().map(|_| None).collect();
    let mut handles: Vec<_> = handles.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, output) in handles.iter_mut().zip(outputs.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => {
                        *output = Some(value);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

/// Runs `scenario` against both frameworks and compares their transcripts.
async fn conform<F, Fut>(scenario: F)
where
    F: Fn(Rc<Site>) -> Fut,
    Fut: Future<Output = ()>,
{
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let mut transcripts = Vec::new();
            for framework in [Framework::Axum, Framework::Actix] {
                let origin = Arc::new(Origin::default());
                let isr = conformance::isr();
                let server = conformance::start(framework, isr.clone(), Arc::clone(&origin)).await;
                let site = Rc::new(Site {
                    framework,
                    server,
                    origin,
                    isr,
                    transcript: RefCell::default(),
                });
                scenario(Rc::clone(&site)).await;
                transcripts.push((framework, site.transcript.take()));
            }
            let (axum, actix) = (&transcripts[0].1, &transcripts[1].1);
            for (step, (a, b)) in axum.iter().zip(actix).enumerate() {
                assert_eq!(a, b, "step {step}: axum and actix differ");
            }
            assert_eq!(axum.len(), actix.len(), "transcript lengths");
        })
        .await;
}

use std::rc::Rc;

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(start_paused = true)]
        async fn $name() {
            conform(scenarios::$name).await;
        }
    )*};
}

scenarios!(
    five_acts,
    cold_storm_renders_once,
    stale_storm_regenerates_once,
    failed_regeneration_keeps_the_last_good_page,
    panicking_regeneration_keeps_the_last_good_page,
    hanging_regeneration_keeps_the_last_good_page,
    failed_first_render_caches_nothing,
    panicking_first_render_leaves_no_lock,
    a_visitor_who_hangs_up_does_not_cancel_the_render,
    purge_by_path_tag_and_layout,
    purge_endpoint_codes,
    bypass_rules,
    policies_lowest_wins,
    head_and_conditional_requests,
    representations_of_one_render,
    accept_encoding_spellings_render_once,
    an_app_encoded_body_is_stored_once,
    a_miss_streams_as_rendered,
    a_stream_that_fails_half_way_keeps_the_last_good_page,
    renders_ask_for_identity,
    tracking_parameters_never_render,
    undeclared_parameters_never_render,
    declared_parameters_key_the_page,
    cookies_never_reach_a_shared_page,
    the_purge_listing_reads_its_query_behind_the_cache,
    the_purge_endpoint_answers_stats_and_filtered_listings,
    vary_keeps_one_entry_per_value,
    a_body_over_the_limit_passes_through_whole,
    spellings_of_a_path_share_one_entry,
    authorization_is_shared_only_when_the_page_opts_in,
    head_and_304_on_a_stale_page_start_one_regeneration,
    a_purge_during_a_background_regeneration_is_not_lost,
    prerender_renders_each_listed_path_once,
    dynamic_params_false_refuses_an_unlisted_path_without_the_handler,
    the_attribute_sets_revalidate_tags_and_declared_query,
);

mod scenarios {
    use super::*;

    /// The handbook's five acts: first visit, hit, stale with one background render, the new
    /// page, and an on-demand purge.
    pub(super) async fn five_acts(site: Rc<Site>) {
        site.expect("/page/a", 200, "MISS", "a v1").await;
        site.expect("/page/a", 200, "HIT", "a v1").await;
        site.renders("/page/a", 1);

        site.advance(11).await;
        site.origin.set_version(2);
        site.expect("/page/a", 200, "STALE", "a v1").await;
        site.eventually("the background render", |s| s.fresh("/page/a"))
            .await;
        site.expect("/page/a", 200, "HIT", "a v2").await;

        site.origin.set_version(3);
        site.purge(r#"{"path": "/page/a"}"#).await;
        site.expect("/page/a", 200, "MISS", "a v3").await;
        site.expect("/page/a", 200, "HIT", "a v3").await;
        site.renders("/page/a", 3);
    }

    /// 20 visitors of a page nobody has seen yet: one render, every visitor gets it.
    pub(super) async fn cold_storm_renders_once(site: Rc<Site>) {
        site.origin.close_gate();
        let storm = {
            let site = Rc::clone(&site);
            tokio::task::spawn_local(async move { site.storm("/page/cold", 20).await })
        };
        site.eventually("all requests arrive", |s| {
            s.origin.arrived() == 20 && s.origin.entered() == 1
        })
        .await;
        // Let the followers reach the render in flight.
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        site.origin.open_gate();
        let answers = storm.await.unwrap();
        assert!(
            answers
                .iter()
                .all(|got| got.status == 200 && got.cache() == "MISS" && got.body == "cold v1")
        );
        site.renders("/page/cold", 1);
        site.expect("/page/cold", 200, "HIT", "cold v1").await;
    }

    /// 20 visitors of a stale page: all answered at once from the cache, one regeneration.
    pub(super) async fn stale_storm_regenerates_once(site: Rc<Site>) {
        site.expect("/page/s", 200, "MISS", "s v1").await;
        site.advance(11).await;
        site.origin.set_version(2);
        site.origin.close_gate();
        let answers = site.storm("/page/s", 20).await;
        assert!(
            answers
                .iter()
                .all(|got| got.status == 200 && got.cache() == "STALE" && got.body == "s v1")
        );
        site.eventually("the regeneration starts", |s| s.origin.entered() == 1)
            .await;
        site.origin.open_gate();
        site.eventually("the regeneration lands", |s| s.fresh("/page/s"))
            .await;
        site.expect("/page/s", 200, "HIT", "s v2").await;
        site.renders("/page/s", 2);
    }

    /// Shared steps of the safety-net scenarios: a stale page whose regeneration goes wrong
    /// in `mode` keeps being served, and the next good render replaces it.
    async fn regeneration_goes_wrong(site: &Site, mode: Mode) {
        site.expect("/page/f", 200, "MISS", "f v1").await;
        site.advance(11).await;
        site.origin.set_version(2);
        site.origin.set_mode(mode);
        site.expect("/page/f", 200, "STALE", "f v1").await;
        site.eventually("the regeneration fails", |s| {
            s.isr.stats().failed_renders == 1
        })
        .await;
        site.expect("/page/f", 200, "STALE", "f v1").await;
        site.renders("/page/f", 2);

        site.origin.set_mode(Mode::Ok);
        site.advance(31).await; // past the retry back-off
        site.expect("/page/f", 200, "STALE", "f v1").await;
        site.eventually("the good render lands", |s| s.fresh("/page/f"))
            .await;
        site.expect("/page/f", 200, "HIT", "f v2").await;
    }

    pub(super) async fn failed_regeneration_keeps_the_last_good_page(site: Rc<Site>) {
        regeneration_goes_wrong(&site, Mode::Fail).await;
    }

    pub(super) async fn panicking_regeneration_keeps_the_last_good_page(site: Rc<Site>) {
        regeneration_goes_wrong(&site, Mode::Panic).await;
    }

    pub(super) async fn hanging_regeneration_keeps_the_last_good_page(site: Rc<Site>) {
        regeneration_goes_wrong(&site, Mode::Hang).await;
    }

    /// A first render that fails reaches the visitor as it is, and nothing is cached.
    pub(super) async fn failed_first_render_caches_nothing(site: Rc<Site>) {
        site.origin.set_mode(Mode::Fail);
        site.expect("/page/new", 500, "BYPASS", "the origin failed")
            .await;
        site.origin.set_mode(Mode::Ok);
        site.expect("/page/new", 200, "MISS", "new v1").await;
        site.expect("/page/new", 200, "HIT", "new v1").await;
        site.renders("/page/new", 2);
    }

    /// A first render that panics ends the visitor's connection without an answer, as it would
    /// without the cache; the key is not left locked.
    pub(super) async fn panicking_first_render_leaves_no_lock(site: Rc<Site>) {
        site.origin.set_mode(Mode::Panic);
        let answer = site.raw_get("/page/p", None).await;
        assert!(answer.is_empty(), "no answer expected, got {answer:?}");
        site.origin.set_mode(Mode::Ok);
        site.expect("/page/p", 200, "MISS", "p v1").await;
        site.expect("/page/p", 200, "HIT", "p v1").await;
        site.renders("/page/p", 2);
    }

    /// The render belongs to the cache: the visitor who started it hangs up, and the page is
    /// still rendered once and stored.
    pub(super) async fn a_visitor_who_hangs_up_does_not_cancel_the_render(site: Rc<Site>) {
        site.origin.close_gate();
        site.raw_get("/page/gone", Some(&|s: &Site| s.origin.entered() == 1))
            .await;
        // hyper drops the request of a visitor who hung up, so the render is handed to a task
        // of its own; wait for that before the render may finish. actix keeps the request
        // until its answer is written (and its renders are tasks of their own anyway).
        if site.framework == Framework::Axum {
            site.eventually("the server drops the request", |s| {
                s.origin.abandoned() == 1
            })
            .await;
        }
        site.origin.open_gate();
        site.eventually("the render lands", |s| s.fresh("/page/gone"))
            .await;
        site.expect("/page/gone", 200, "HIT", "gone v1").await;
        site.renders("/page/gone", 1);
    }

    /// Purges by path, by tag and by layout reach exactly their pages.
    pub(super) async fn purge_by_path_tag_and_layout(site: Rc<Site>) {
        for path in ["/tagged/x", "/tagged/y", "/layout/p", "/page/q"] {
            site.get(path).await;
        }
        site.origin.set_version(2);

        let got = site.purge(r#"{"tag": "t-x"}"#).await;
        assert_eq!(got.json()["tags"], serde_json::json!(["t-x"]));
        site.expect("/tagged/x", 200, "MISS", "x v2").await;
        site.expect("/tagged/y", 200, "HIT", "y v1").await;

        site.purge(r#"{"tags": ["all"]}"#).await;
        site.expect("/tagged/x", 200, "MISS", "x v2").await;
        site.expect("/tagged/y", 200, "MISS", "y v2").await;

        site.purge(r#"{"path": "/layout", "type": "layout"}"#).await;
        site.expect("/layout/p", 200, "MISS", "p v2").await;
        site.expect("/page/q", 200, "HIT", "q v1").await;

        site.purge(r#"{"tag": "layout", "mode": "stale"}"#).await;
        site.origin.set_version(3);
        site.expect("/layout/p", 200, "STALE", "p v2").await;
        site.eventually("the regeneration", |s| s.fresh("/layout/p"))
            .await;
        site.renders("/tagged/x", 3);
        site.renders("/tagged/y", 2);
        site.renders("/page/q", 1);
    }

    /// The purge endpoint's status codes and messages.
    pub(super) async fn purge_endpoint_codes(site: Rc<Site>) {
        let json = [("content-type", "application/json")];
        /// Method, headers, body, and the expected status.
        type Case<'a> = (Method, Vec<(&'a str, &'a str)>, String, u16);
        let cases: [Case<'_>; 8] = [
            (
                Method::POST,
                json.to_vec(),
                r#"{"tag": "a"}"#.to_owned(),
                401,
            ),
            (
                Method::POST,
                json.to_vec(),
                r#"{"tag": "a", "secret": "wrong"}"#.to_owned(),
                401,
            ),
            (
                Method::POST,
                json.to_vec(),
                format!(r#"{{"secret": "{SECRET}", "tag": "#),
                400,
            ),
            (
                Method::POST,
                json.to_vec(),
                format!(r#"{{"secret": "{SECRET}"}}"#),
                400,
            ),
            (
                Method::POST,
                vec![
                    ("content-type", "text/plain"),
                    ("x-revalidate-secret", SECRET),
                ],
                "tag=a".to_owned(),
                415,
            ),
            (
                Method::POST,
                vec![
                    ("content-type", "application/json"),
                    ("x-revalidate-secret", SECRET),
                ],
                format!(r#"{{"tag": "{}"}}"#, "a".repeat(70 * 1024)),
                413,
            ),
            (Method::PUT, json.to_vec(), "{}".to_owned(), 405),
            (
                Method::GET,
                vec![("x-revalidate-secret", SECRET)],
                String::new(),
                200,
            ),
        ];
        for (method, headers, body, status) in cases {
            let got = site
                .send(method.clone(), "/api/revalidate", &headers, &body)
                .await;
            assert_eq!(got.status, status, "{method} {body:.40}: {}", got.body);
            assert_eq!(got.header("cache-control"), Some("no-store, private"));
            if status != 200 {
                assert!(got.json()["error"].is_string(), "{}", got.body);
            }
        }
    }

    /// What the cache never stores, for both frameworks alike.
    pub(super) async fn bypass_rules(site: Rc<Site>) {
        for _ in 0..2 {
            site.expect("/cookie", 200, "BYPASS", "cookie v1").await;
            site.expect("/private", 200, "BYPASS", "private v1").await;
            site.expect("/dynamic", 200, "BYPASS", "dynamic v1").await;
        }
        site.renders("/cookie", 2);
        site.renders("/private", 2);
        site.renders("/dynamic", 2);

        let post = site.send(Method::POST, "/page/a", &[], "").await;
        assert_eq!(
            (post.status.as_u16(), post.cache(), post.body.as_str()),
            (200, "BYPASS", "posted a")
        );
        let authorized = site
            .send(
                Method::GET,
                "/page/a",
                &[("authorization", "Bearer u1")],
                "",
            )
            .await;
        assert_eq!(
            (authorized.status.as_u16(), authorized.cache()),
            (200, "BYPASS")
        );
        site.expect("/page/a", 200, "MISS", "a v1").await;
        site.renders("/page/a", 2);
    }

    /// Handler, `s-maxage` and layout revalidate times; the lowest wins.
    pub(super) async fn policies_lowest_wins(site: Rc<Site>) {
        for path in ["/short", "/smaxage", "/layout/p", "/layout/long", "/page/d"] {
            let got = site.get(path).await;
            assert_eq!(got.cache(), "MISS", "{path}");
        }
        site.advance(3).await;
        site.expect("/short", 200, "STALE", "short v1").await;
        site.expect("/smaxage", 200, "STALE", "smaxage v1").await;
        site.expect("/layout/p", 200, "HIT", "p v1").await;
        site.eventually("the regenerations", |s| {
            s.fresh("/short") && s.fresh("/smaxage")
        })
        .await;
        site.advance(3).await;
        site.expect("/layout/p", 200, "STALE", "p v1").await;
        site.expect("/layout/long", 200, "STALE", "long v1").await;
        site.expect("/page/d", 200, "HIT", "d v1").await;
        site.eventually("the regenerations", |s| {
            s.fresh("/layout/p") && s.fresh("/layout/long")
        })
        .await;
        assert_eq!(site.origin.all_renders(), 9);
    }

    /// `HEAD` from the stored `GET`, and `304` for a matching `If-None-Match`.
    pub(super) async fn head_and_conditional_requests(site: Rc<Site>) {
        let first = site.expect("/page/h", 200, "MISS", "h v1").await;
        let etag = first.header("etag").expect("an ETag").to_owned();

        let head = site.send(Method::HEAD, "/page/h", &[], "").await;
        assert_eq!(
            (head.status.as_u16(), head.cache(), head.body.as_str()),
            (200, "HIT", "")
        );
        assert_eq!(head.header("content-length"), Some("4"));
        assert_eq!(head.header("etag"), Some(etag.as_str()));

        let cold_head = site.send(Method::HEAD, "/page/h2", &[], "").await;
        assert_eq!(
            (cold_head.status.as_u16(), cold_head.cache()),
            (200, "MISS")
        );
        assert_eq!(cold_head.header("content-length"), Some("5"));
        site.expect("/page/h2", 200, "HIT", "h2 v1").await;

        let not_modified = site
            .send(Method::GET, "/page/h", &[("if-none-match", &etag)], "")
            .await;
        assert_eq!(
            (
                not_modified.status.as_u16(),
                not_modified.cache(),
                not_modified.body.as_str()
            ),
            (304, "HIT", "")
        );
        let other = site
            .send(
                Method::GET,
                "/page/h",
                &[("if-none-match", "\"other\"")],
                "",
            )
            .await;
        assert_eq!((other.status.as_u16(), other.body.as_str()), (200, "h v1"));
        site.renders("/page/h", 1);
        site.renders("/page/h2", 1);

        // A page that is not cached answers HEAD with its length too.
        let dynamic = site.send(Method::HEAD, "/dynamic", &[], "").await;
        assert_eq!(
            (
                dynamic.status.as_u16(),
                dynamic.cache(),
                dynamic.body.as_str()
            ),
            (200, "BYPASS", "")
        );
        assert_eq!(dynamic.header("content-length"), Some("10"));
    }

    /// The names in an answer's `Vary`, lowercased.
    fn vary(got: &Got) -> Vec<String> {
        got.headers
            .get_all("vary")
            .iter()
            .flat_map(|v| v.to_str().unwrap().split(','))
            .map(|name| name.trim().to_ascii_lowercase())
            .collect()
    }

    /// One render, four representations: each decodes to the identity page byte for byte and
    /// has its own `Content-Length`, `ETag` and `304`; `HEAD` announces its length;
    /// `If-None-Match` lists compare weakly; `If-Modified-Since` yields to `If-None-Match`.
    pub(super) async fn representations_of_one_render(site: Rc<Site>) {
        let plain = site.send(Method::GET, "/html/a", &[], "").await;
        assert_eq!((plain.status.as_u16(), plain.cache()), (200, "MISS"));
        assert_eq!(plain.header("content-encoding"), None);
        assert!(plain.body.contains("<h1>a v1</h1>"));
        assert!(vary(&plain).contains(&"accept-encoding".to_owned()));
        let page = plain.bytes.to_vec();
        let identity_tag = plain.header("etag").expect("an ETag").to_owned();
        let mut tags = vec![identity_tag.clone()];
        for coding in ["gzip", "br", "zstd"] {
            let accept = [("accept-encoding", coding)];
            let got = site.send(Method::GET, "/html/a", &accept, "").await;
            assert_eq!((got.status.as_u16(), got.cache()), (200, "HIT"), "{coding}");
            assert_eq!(got.header("content-encoding"), Some(coding));
            let length = got.bytes.len().to_string();
            assert_eq!(got.header("content-length"), Some(length.as_str()));
            assert!(
                got.bytes.len() * 3 < page.len(),
                "{coding} compresses the page"
            );
            assert_eq!(got.decoded(), page, "{coding} decodes to the page");
            assert!(vary(&got).contains(&"accept-encoding".to_owned()));
            let tag = got.header("etag").expect("an ETag").to_owned();
            assert!(!tags.contains(&tag), "{coding} has a tag of its own");

            let not_modified = site
                .send(
                    Method::GET,
                    "/html/a",
                    &[("accept-encoding", coding), ("if-none-match", &tag)],
                    "",
                )
                .await;
            assert_eq!(
                (not_modified.status.as_u16(), not_modified.cache()),
                (304, "HIT")
            );
            assert!(not_modified.bytes.is_empty());
            assert_eq!(not_modified.header("etag"), Some(tag.as_str()));
            assert!(vary(&not_modified).contains(&"accept-encoding".to_owned()));
            // The identity page's tag is another representation's: no 304 for this one.
            let other = site
                .send(
                    Method::GET,
                    "/html/a",
                    &[
                        ("accept-encoding", coding),
                        ("if-none-match", &identity_tag),
                    ],
                    "",
                )
                .await;
            assert_eq!(other.status, 200);
            assert_eq!(other.decoded(), page);

            let head = site.send(Method::HEAD, "/html/a", &accept, "").await;
            assert_eq!((head.status.as_u16(), head.cache()), (200, "HIT"));
            assert!(head.bytes.is_empty());
            assert_eq!(head.header("content-encoding"), Some(coding));
            assert_eq!(head.header("content-length"), Some(length.as_str()));
            tags.push(tag);
        }

        // A list, with a weak tag: weak comparison finds the Brotli representation's.
        let listed = format!("\"nope\", W/{}", tags[2]);
        let got = site
            .send(
                Method::GET,
                "/html/a",
                &[("accept-encoding", "br"), ("if-none-match", &listed)],
                "",
            )
            .await;
        assert_eq!(got.status, 304);

        let last_modified = plain.header("last-modified").expect("Last-Modified");
        let since = |date: &str, extra: Option<(&'static str, &'static str)>| {
            let mut headers = vec![("if-modified-since", date.to_owned())];
            headers.extend(extra.map(|(n, v)| (n, v.to_owned())));
            headers
        };
        for (headers, status) in [
            (since(last_modified, None), 304),
            (since("Sat, 01 Jan 2000 00:00:00 GMT", None), 200),
            (since("not a date", None), 200),
            // If-None-Match takes precedence over If-Modified-Since.
            (
                since(last_modified, Some(("if-none-match", "\"nope\""))),
                200,
            ),
        ] {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let got = site.send(Method::GET, "/html/a", &headers, "").await;
            assert_eq!(got.status.as_u16(), status, "{headers:?}");
        }
        site.renders("/html/a", 1);
    }

    /// However browsers and tools spell `Accept-Encoding`, a page renders once, and once again
    /// after a purge; each spelling gets the representation it prefers.
    pub(super) async fn accept_encoding_spellings_render_once(site: Rc<Site>) {
        const SPELLINGS: [(&str, Option<&str>); 9] = [
            ("gzip, deflate, br, zstd", Some("br")),
            ("gzip, deflate, br", Some("br")),
            ("gzip, deflate", Some("gzip")),
            ("br;q=1.0, gzip;q=0.8, *;q=0.1", Some("br")),
            ("GZIP", Some("gzip")),
            ("identity;q=0, gzip", Some("gzip")),
            ("zstd;q=0.5, br;q=0", Some("zstd")),
            ("gzip;q=0.5, identity", None),
            ("", None),
        ];
        let mut page = None;
        for round in 0..2 {
            for (i, (spelling, coding)) in SPELLINGS.iter().enumerate() {
                let got = site
                    .send(Method::GET, "/html/b", &[("accept-encoding", spelling)], "")
                    .await;
                let expected = if i == 0 { "MISS" } else { "HIT" };
                assert_eq!(
                    (got.status.as_u16(), got.cache()),
                    (200, expected),
                    "{spelling:?}"
                );
                assert_eq!(got.header("content-encoding"), *coding, "{spelling:?}");
                let decoded = got.decoded();
                assert_eq!(page.get_or_insert_with(|| decoded.clone()), &decoded);
            }
            site.renders("/html/b", round + 1);
            if round == 0 {
                site.purge(r#"{"path": "/html/b"}"#).await;
            }
        }

        // A page too small to compress is only identity: a client that refuses identity gets
        // 406, one that merely prefers an encoding gets identity.
        site.expect("/page/x", 200, "MISS", "x v1").await;
        let refused = site
            .send(
                Method::GET,
                "/page/x",
                &[("accept-encoding", "br, identity;q=0")],
                "",
            )
            .await;
        assert_eq!((refused.status.as_u16(), refused.cache()), (406, "HIT"));
        let preferred = site
            .send(Method::GET, "/page/x", &[("accept-encoding", "br")], "")
            .await;
        assert_eq!(
            (preferred.status.as_u16(), preferred.body.as_str()),
            (200, "x v1")
        );
        assert_eq!(preferred.header("content-encoding"), None);
        site.renders("/page/x", 1);
    }

    /// A body the application gzip-encoded itself is decoded once and stored as the page: one
    /// render serves identity, gzip and Brotli visitors alike.
    pub(super) async fn an_app_encoded_body_is_stored_once(site: Rc<Site>) {
        let br = site
            .send(Method::GET, "/encoded/e", &[("accept-encoding", "br")], "")
            .await;
        assert_eq!((br.status.as_u16(), br.cache()), (200, "MISS"));
        assert_eq!(br.header("content-encoding"), Some("br"));
        let plain = site.send(Method::GET, "/encoded/e", &[], "").await;
        assert_eq!((plain.status.as_u16(), plain.cache()), (200, "HIT"));
        assert_eq!(plain.header("content-encoding"), None);
        assert!(plain.body.contains("<h1>e v1</h1>"), "{}", plain.body);
        assert_eq!(br.decoded(), plain.bytes.to_vec());
        let gzip = site
            .send(
                Method::GET,
                "/encoded/e",
                &[("accept-encoding", "gzip")],
                "",
            )
            .await;
        assert_eq!(gzip.header("content-encoding"), Some("gzip"));
        assert_eq!(gzip.decoded(), plain.bytes.to_vec());
        site.renders("/encoded/e", 1);
    }

    /// The visitor whose request renders a page gets its first bytes while the application is
    /// still writing the rest; a visitor who comes meanwhile waits for the stored page.
    pub(super) async fn a_miss_streams_as_rendered(site: Rc<Site>) {
        use http_body_util::BodyExt;
        site.origin.close_body_gate();
        // The origin holds its second chunk until the gate opens: a render that waited for
        // the whole body would answer only after this timeout.
        let response = tokio::time::timeout(
            Duration::from_secs(60),
            site.server
                .open("/stream/s", &[("accept-encoding", "gzip, br")]),
        )
        .await
        .expect("the answer's head before the whole body");
        let cache = response.headers()["x-isr-cache"]
            .to_str()
            .unwrap()
            .to_owned();
        site.note(format!(
            "GET /stream/s -> head {} {cache}",
            response.status()
        ));
        assert_eq!((response.status().as_u16(), cache.as_str()), (200, "MISS"));
        assert!(response.headers().get("content-encoding").is_none());
        let mut body = response.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        // The origin is still held before its second chunk: these bytes were streamed.
        assert_eq!(&first[..], b"<!doctype html><p>first chunk</p>\n");
        site.note("first chunk while the origin holds the rest".to_owned());

        let waiting = Rc::clone(&site);
        let waiter = tokio::task::spawn_local(async move {
            waiting
                .send(Method::GET, "/stream/s", &[("accept-encoding", "br")], "")
                .await
        });
        site.eventually("the second visitor arrives", |s| s.origin.arrived() >= 2)
            .await;
        site.origin.open_body_gate();
        let rest = body
            .collect()
            .await
            .expect("the rest of the page")
            .to_bytes();
        let page = [&first[..], &rest[..]].concat();
        assert_eq!(page, b"<!doctype html><p>first chunk</p>\n<p>s v1</p>\n");

        let waited = waiter.await.unwrap();
        assert_eq!((waited.status.as_u16(), waited.cache()), (200, "MISS"));
        assert_eq!(waited.decoded(), page);
        let hit = site.send(Method::GET, "/stream/s", &[], "").await;
        assert_eq!((hit.cache(), hit.bytes.to_vec()), ("HIT", page));
        site.renders("/stream/s", 1);
    }

    /// A streamed body that fails half-way ends its visitor's stream with an error; the page it
    /// was to replace stays, and is served while the retry backs off.
    pub(super) async fn a_stream_that_fails_half_way_keeps_the_last_good_page(site: Rc<Site>) {
        use http_body_util::BodyExt;
        let good = site.send(Method::GET, "/stream/f", &[], "").await;
        assert_eq!((good.status.as_u16(), good.cache()), (200, "MISS"));
        site.purge(r#"{"path": "/stream/f"}"#).await;

        site.origin.set_mode(Mode::Fail);
        let response = site.server.open("/stream/f", &[]).await;
        let cache = response.headers()["x-isr-cache"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!((response.status().as_u16(), cache.as_str()), (200, "MISS"));
        let mut body = response.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&first[..], b"<!doctype html><p>first chunk</p>\n");
        let broken = body.collect().await;
        site.note(format!(
            "GET /stream/f -> MISS, then the body fails: {}",
            broken.is_err()
        ));
        assert!(
            broken.is_err(),
            "the visitor sees the failure, not a short page"
        );

        site.origin.set_mode(Mode::Ok);
        let kept = site.send(Method::GET, "/stream/f", &[], "").await;
        assert_eq!((kept.cache(), &kept.bytes), ("STALE", &good.bytes));
        site.renders("/stream/f", 2);
    }

    /// A render is sent `Accept-Encoding: identity`, whatever the visitor accepts: the cache
    /// makes the encodings itself.
    pub(super) async fn renders_ask_for_identity(site: Rc<Site>) {
        let got = site
            .send(
                Method::GET,
                "/accept",
                &[("accept-encoding", "gzip, br")],
                "",
            )
            .await;
        assert_eq!(
            (got.cache(), got.body.as_str()),
            ("MISS", "render accepts Some(\"identity\")")
        );
    }

    /// A hundred visits from ads and social networks, each with a unique click id or campaign:
    /// one render, one entry, and the page never sees those parameters.
    pub(super) async fn tracking_parameters_never_render(site: Rc<Site>) {
        for i in 0..100 {
            let target = match i % 4 {
                0 => format!("/page/t?fbclid=IwAR{i}"),
                1 => format!("/page/t?utm_source=social&utm_campaign=c{i}"),
                2 => format!("/page/t?gclid={i}&msclkid={i}"),
                _ => format!("/page/t?_ga=2.{i}&igshid={i}&ttclid={i}"),
            };
            let cache = if i == 0 { "MISS" } else { "HIT" };
            site.expect(&target, 200, cache, "t v1").await;
        }
        site.renders("/page/t", 1);
        site.expect(
            "/echo?utm_source=mail&page=2&fbclid=x",
            200,
            "MISS",
            "render query None",
        )
        .await;
    }

    /// Parameters no route declared: no entry, no render, and the render is sent none of them
    /// (Next.js keys a static page by its path), so `?x=<random>` cannot bust the cache.
    pub(super) async fn undeclared_parameters_never_render(site: Rc<Site>) {
        for i in 0..100 {
            let target = match i % 3 {
                0 => format!("/page/u?x={i}"),
                1 => format!("/page/u?fbclid={i}&utm_source=s{i}"),
                _ => format!("/page/u?q={i}&sort=new"),
            };
            let cache = if i == 0 { "MISS" } else { "HIT" };
            site.expect(&target, 200, cache, "u v1").await;
        }
        site.renders("/page/u", 1);
        site.expect("/echo?x=1&page=2", 200, "MISS", "render query None")
            .await;
        site.expect("/echo?y=3", 200, "HIT", "render query None")
            .await;
    }

    /// A parameter the handler (`query_param`) or a layout (`query_params`) declares keys the
    /// page: one entry per value, the others still never reach the render; a path purge
    /// covers every value.
    pub(super) async fn declared_parameters_key_the_page(site: Rc<Site>) {
        let two = "list v1 page Some(\"2\")";
        site.expect("/list?page=2", 200, "MISS", two).await;
        site.expect("/list?x=9&page=2&utm_source=a", 200, "HIT", two)
            .await;
        site.expect("/list?page=3", 200, "MISS", "list v1 page Some(\"3\")")
            .await;
        site.expect("/list", 200, "MISS", "list v1 page None").await;
        site.expect("/list?x=1", 200, "HIT", "list v1 page None")
            .await;
        site.renders("/list", 3);

        let posts = "posts v1 query Some(\"page=2\")";
        site.expect("/posts/all?x=1&page=2", 200, "MISS", posts)
            .await;
        site.expect("/posts/all?page=2", 200, "HIT", posts).await;
        site.expect("/posts/all", 200, "MISS", "posts v1 query None")
            .await;
        site.renders("/posts/all", 2);

        site.purge(r#"{"path": "/list"}"#).await;
        site.expect("/list?page=2", 200, "MISS", two).await;
        site.expect("/list?page=3", 200, "MISS", "list v1 page Some(\"3\")")
            .await;
        site.renders("/list", 5);
    }

    /// The purge endpoint behind the cache still reads its query (`secret`, `limit`): it takes
    /// it back, which makes its answer dynamic.
    pub(super) async fn the_purge_listing_reads_its_query_behind_the_cache(site: Rc<Site>) {
        site.expect("/page/a", 200, "MISS", "a v1").await;
        site.expect("/page/b", 200, "MISS", "b v1").await;
        // The listings' order and sizes differ between frameworks: only the counts are noted.
        for (query, count) in [("&limit=1", 1), ("", 2)] {
            let target = format!("/api/revalidate?secret={SECRET}{query}");
            let listing = site.server.send(Method::GET, &target, &[], "").await;
            assert_eq!((listing.status.as_u16(), listing.cache()), (200, "BYPASS"));
            let json: serde_json::Value = serde_json::from_str(&listing.body).unwrap();
            assert_eq!(json["count"], count, "{target}: {json}");
            site.note(format!("GET {target} -> {} entries", json["count"]));
        }
        assert_eq!(site.get("/api/revalidate?secret=wrong").await.status, 401);
    }

    /// The purge endpoint's `?view=stats` and its filtered listings answer alike (the counters
    /// and the keys are noted; sizes and routes differ between frameworks).
    pub(super) async fn the_purge_endpoint_answers_stats_and_filtered_listings(site: Rc<Site>) {
        site.expect("/tagged/x", 200, "MISS", "x v1").await;
        site.expect("/tagged/x", 200, "HIT", "x v1").await;
        site.expect("/page/a", 200, "MISS", "a v1").await;
        site.expect("/dynamic", 200, "BYPASS", "dynamic v1").await;
        site.purge(r#"{"tag": "t-x"}"#).await;
        let read = |query: &'static str| {
            let site = Rc::clone(&site);
            async move {
                let target = format!("/api/revalidate?secret={SECRET}&{query}");
                let got = site.server.send(Method::GET, &target, &[], "").await;
                assert_eq!(
                    (got.status.as_u16(), got.cache()),
                    (200, "BYPASS"),
                    "{query}"
                );
                got.json()
            }
        };
        let stats = read("view=stats").await;
        let counters: Vec<String> = [
            "entries",
            "hits",
            "stale",
            "misses",
            "bypasses",
            "renders",
            "invalidations",
        ]
        .iter()
        .map(|name| format!("{name}={}", stats[name]))
        .collect();
        site.note(format!("stats {}", counters.join(" ")));
        assert_eq!(
            (&stats["hits"], &stats["misses"], &stats["invalidations"]),
            (
                &serde_json::json!(1),
                &serde_json::json!(2),
                &serde_json::json!(1)
            ),
            "{stats}"
        );
        assert!(stats["bytes"].as_u64().unwrap() > 0, "{stats}");
        for (query, keys) in [
            ("state=invalid", vec!["/tagged/x"]),
            ("state=fresh", vec!["/page/a"]),
            ("tag=all", vec!["/tagged/x"]),
            ("route=/page", vec!["/page/a"]),
            ("route=/nowhere", vec![]),
        ] {
            let listing = read(query).await;
            let seen: Vec<&str> = listing["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["key"].as_str().unwrap())
                .collect();
            assert_eq!(seen, keys, "{query}: {listing}");
            assert_eq!(listing["matched"], keys.len(), "{query}");
            site.note(format!("GET ?{query} -> {seen:?}"));
        }
        let bad = site
            .get(&format!("/api/revalidate?secret={SECRET}&state=old"))
            .await;
        assert_eq!(bad.status, 400, "{}", bad.body);
    }

    /// A cacheable render is sent no cookies: two sessions share one page rendered once. A
    /// dynamic handler (`cookies()`) and a dynamic layout get them (and the whole query); a
    /// declared cookie (`cookie("theme")`) keys the page.
    pub(super) async fn cookies_never_reach_a_shared_page(site: Rc<Site>) {
        let visit = |path: &'static str, cookie: &'static str| {
            let site = Rc::clone(&site);
            async move {
                let headers: Vec<(&str, &str)> = if cookie.is_empty() {
                    Vec::new()
                } else {
                    vec![("cookie", cookie)]
                };
                let got = site.send(Method::GET, path, &headers, "").await;
                (got.cache().to_owned(), got.body)
            }
        };
        let shared = ("MISS".to_owned(), "whoami v1 cookie None".to_owned());
        assert_eq!(visit("/whoami", "session=alice").await, shared);
        let shared = ("HIT".to_owned(), shared.1);
        assert_eq!(visit("/whoami", "session=bob").await, shared);
        site.renders("/whoami", 1);

        for who in ["alice", "bob"] {
            let cookie = if who == "alice" {
                "session=alice"
            } else {
                "session=bob"
            };
            let (cache, body) = visit("/account", cookie).await;
            assert_eq!(cache, "BYPASS");
            assert_eq!(body, format!("account v1 cookies Some(\"session={who}\")"));
        }
        site.renders("/account", 2);

        let (cache, body) = visit("/dash/home?tab=2&utm_source=x", "session=alice").await;
        assert_eq!(cache, "BYPASS");
        assert_eq!(
            body,
            "home v1 cookie Some(\"session=alice\") query Some(\"tab=2\")"
        );
        let (_, body) = visit("/dash/home?tab=3", "session=bob").await;
        assert_eq!(
            body,
            "home v1 cookie Some(\"session=bob\") query Some(\"tab=3\")"
        );

        let dark = "themed v1 theme Some(\"dark\")";
        let dark = |cache: &str| (cache.to_owned(), dark.to_owned());
        assert_eq!(
            visit("/themed", "session=alice; theme=dark").await,
            dark("MISS")
        );
        assert_eq!(
            visit("/themed", "theme=dark; session=bob").await,
            dark("HIT")
        );
        let (cache, body) = visit("/themed", "theme=light").await;
        assert_eq!(
            (cache.as_str(), body.as_str()),
            ("MISS", "themed v1 theme Some(\"light\")")
        );
        let (cache, body) = visit("/themed", "").await;
        assert_eq!(
            (cache.as_str(), body.as_str()),
            ("MISS", "themed v1 theme None")
        );
        site.renders("/themed", 3);
    }

    /// `Vary: x-theme`: one entry per value, an absent header its own variant.
    pub(super) async fn vary_keeps_one_entry_per_value(site: Rc<Site>) {
        let theme = |value: Option<&'static str>| {
            let site = Rc::clone(&site);
            async move {
                let headers: Vec<(&str, &str)> =
                    value.map(|v| ("x-theme", v)).into_iter().collect();
                site.send(Method::GET, "/vary", &headers, "").await
            }
        };
        let dark = theme(Some("dark")).await;
        assert_eq!(
            (dark.cache(), dark.body.as_str()),
            ("MISS", "vary v1 theme Some(\"dark\")")
        );
        assert_eq!(theme(Some("dark")).await.cache(), "HIT");
        let light = theme(Some("light")).await;
        assert_eq!(
            (light.cache(), light.body.as_str()),
            ("MISS", "vary v1 theme Some(\"light\")")
        );
        let none = theme(None).await;
        assert_eq!(
            (none.cache(), none.body.as_str()),
            ("MISS", "vary v1 theme None")
        );
        assert_eq!(theme(None).await.body, "vary v1 theme None");
        assert_eq!(
            theme(Some("dark")).await.body,
            "vary v1 theme Some(\"dark\")"
        );
        site.renders("/vary", 3);
    }

    /// A page over the body limit reaches its visitor whole and is not kept; the next visitor
    /// gets it passed through without the cache reading it.
    pub(super) async fn a_body_over_the_limit_passes_through_whole(site: Rc<Site>) {
        for _ in 0..2 {
            let got = site.get("/big").await;
            assert_eq!(got.status, 200);
            assert_ne!(got.cache(), "HIT");
            assert_eq!(got.bytes.len(), 100 * 1024);
        }
        site.renders("/big", 2);
    }

    /// `/page/sp`, `/page/./sp`, `/page//sp` and `/page/%73p` are one page: one render, and
    /// every spelling is answered from the canonical page's entry.
    pub(super) async fn spellings_of_a_path_share_one_entry(site: Rc<Site>) {
        site.expect("/page/sp", 200, "MISS", "sp v1").await;
        for spelling in ["/page//sp", "/page/./sp", "/page/%73p", "/page/x/../sp"] {
            site.expect(spelling, 200, "HIT", "sp v1").await;
        }
        site.renders("/page/sp", 1);
    }

    /// A request with `Authorization` gets a shared page only where the page says `public`.
    pub(super) async fn authorization_is_shared_only_when_the_page_opts_in(site: Rc<Site>) {
        let auth = [("authorization", "Bearer someone")];
        for _ in 0..2 {
            let got = site.send(Method::GET, "/page/private-ish", &auth, "").await;
            assert_eq!((got.cache(), got.status.as_u16()), ("BYPASS", 200));
        }
        site.renders("/page/private-ish", 2);
        let first = site.send(Method::GET, "/public", &auth, "").await;
        assert_eq!(first.cache(), "MISS");
        let second = site.send(Method::GET, "/public", &auth, "").await;
        assert_eq!((second.cache(), second.body.as_str()), ("HIT", "public v1"));
        site.renders("/public", 1);
    }

    /// `HEAD` and a matching `If-None-Match` on a stale page are answered at once (`STALE`, no
    /// body, `304`), and together start one regeneration.
    pub(super) async fn head_and_304_on_a_stale_page_start_one_regeneration(site: Rc<Site>) {
        let first = site.expect("/page/s", 200, "MISS", "s v1").await;
        let etag = first.header("etag").unwrap().to_owned();
        site.advance(11).await;
        site.origin.set_version(2);
        site.origin.close_gate(); // holds the regeneration until both have been answered
        let head = site.send(Method::HEAD, "/page/s", &[], "").await;
        assert_eq!(
            (head.status.as_u16(), head.cache(), head.body.as_str()),
            (200, "STALE", "")
        );
        let not_modified = site
            .send(Method::GET, "/page/s", &[("if-none-match", &etag)], "")
            .await;
        assert_eq!(
            (not_modified.status.as_u16(), not_modified.cache()),
            (304, "STALE")
        );
        site.eventually("one regeneration rendering", |s| s.origin.entered() == 1)
            .await;
        site.origin.open_gate();
        site.eventually("the regeneration", |s| s.fresh("/page/s"))
            .await;
        site.expect("/page/s", 200, "HIT", "s v2").await;
        site.renders("/page/s", 2);
    }

    /// A purge that lands while a background regeneration renders: the regeneration started
    /// before the purge, so its page is not served as fresh; the next visitor renders.
    pub(super) async fn a_purge_during_a_background_regeneration_is_not_lost(site: Rc<Site>) {
        site.expect("/page/r", 200, "MISS", "r v1").await;
        site.advance(11).await;
        site.origin.set_version(2);
        site.origin.close_gate();
        site.expect("/page/r", 200, "STALE", "r v1").await;
        site.eventually("the regeneration renders", |s| s.origin.entered() == 1)
            .await;
        site.purge(r#"{"path": "/page/r"}"#).await;
        site.origin.open_gate();
        site.eventually("the regeneration landed", |s| {
            s.isr.revalidator().inspect(100).iter().any(|summary| {
                summary.entry.key() == "/page/r" && &summary.entry.body()[..] == b"r v2"
            })
        })
        .await;
        site.origin.set_version(3);
        site.expect("/page/r", 200, "MISS", "r v3").await;
        site.expect("/page/r", 200, "HIT", "r v3").await;
        site.renders("/page/r", 3);
    }

    /// Static params: the prerender renders every listed guide once through the app; the
    /// first visitors then get `HIT`s, and a second prerender (a restart over a store that
    /// kept the pages) renders nothing.
    pub(super) async fn prerender_renders_each_listed_path_once(site: Rc<Site>) {
        let prerender = || {
            conformance::prerender(
                site.framework,
                site.isr.clone(),
                Arc::clone(&site.origin),
                2,
            )
        };
        let report = prerender().await;
        site.note(format!(
            "prerender -> {} rendered, failed {:?}",
            report.rendered, report.failed
        ));
        assert_eq!((report.rendered, report.failed.len()), (3, 0));
        for slug in GUIDES {
            site.renders(&format!("/guides/{slug}"), 1);
        }
        for slug in GUIDES {
            site.expect(
                &format!("/guides/{slug}"),
                200,
                "HIT",
                &format!("{slug} v1"),
            )
            .await;
        }
        let again = prerender().await;
        site.note(format!("prerender again -> {} rendered", again.rendered));
        assert_eq!((again.rendered, again.failed.len()), (3, 0));
        assert_eq!(site.origin.all_renders(), 3);
    }

    /// `dynamic_params(false)`: an unlisted guide is `404` without its handler running (and
    /// the `404` is cached); a listed one renders as usual.
    pub(super) async fn dynamic_params_false_refuses_an_unlisted_path_without_the_handler(
        site: Rc<Site>,
    ) {
        site.expect("/guides/unlisted", 404, "MISS", "Not Found")
            .await;
        site.expect("/guides/unlisted", 404, "HIT", "Not Found")
            .await;
        site.renders("/guides/unlisted", 0);
        site.expect("/guides/setup", 200, "MISS", "setup v1").await;
        site.expect("/guides/setup", 200, "HIT", "setup v1").await;
        site.renders("/guides/setup", 1);
        assert_eq!(site.origin.all_renders(), 1);
    }

    /// `#[revalidate(5, tags = ["attr"])]` on a handler: caches in front are told
    /// `s-maxage=5` (lower than the layer's 10, so it wins), the page goes stale after 5 s,
    /// and a purge of the tag reaches it. `#[revalidate(5, query = ["page"])]` keys the page
    /// by `page`.
    pub(super) async fn the_attribute_sets_revalidate_tags_and_declared_query(site: Rc<Site>) {
        let first = site.expect("/attr/a", 200, "MISS", "a v1").await;
        let cache_control = first.header("cache-control").unwrap_or("-").to_owned();
        site.note(format!("cache-control {cache_control}"));
        assert!(cache_control.starts_with("s-maxage=5,"), "{cache_control}");
        site.expect("/attr/b", 200, "MISS", "b v1").await;

        site.advance(4).await;
        let hit = site.expect("/attr/a", 200, "HIT", "a v1").await;
        assert!(
            hit.header("cache-control")
                .unwrap()
                .starts_with("s-maxage=5")
        );
        site.advance(1).await;
        site.origin.set_version(2);
        site.expect("/attr/a", 200, "STALE", "a v1").await;
        site.eventually("the regeneration", |s| s.fresh("/attr/a"))
            .await;
        site.expect("/attr/a", 200, "HIT", "a v2").await;

        site.origin.set_version(3);
        site.purge(r#"{"tag": "attr"}"#).await;
        site.expect("/attr/a", 200, "MISS", "a v3").await;
        site.expect("/attr/b", 200, "MISS", "b v3").await;
        site.renders("/attr/a", 3);
        site.renders("/attr/b", 2);

        let two = "attr-list v3 page Some(\"2\")";
        site.expect("/attr-list?x=1&page=2", 200, "MISS", two).await;
        site.expect("/attr-list?page=2&utm_source=a", 200, "HIT", two)
            .await;
        site.expect(
            "/attr-list?page=3",
            200,
            "MISS",
            "attr-list v3 page Some(\"3\")",
        )
        .await;
        site.expect("/attr-list", 200, "MISS", "attr-list v3 page None")
            .await;
        site.renders("/attr-list", 3);
    }
}
