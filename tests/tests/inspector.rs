//! The cache inspector (`/_isr`) of both docs sites over real HTTP: sign-in, the session
//! cookie, the bound on wrong secrets, the page's figures, entries, filters and "not cached"
//! panel, purges with the CSRF token, and answers that are never cached.

use std::time::Duration;

use actix_docs_site::app;
use docs_site::{Config, Site};
use http::Method;
use isr_tests::{Got, Server};

const SECRET: &str = "inspector-secret";
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

fn config() -> Config {
    Config::from_vars(|name| match name {
        "REVALIDATION_SECRET" => Some(SECRET.to_owned()),
        _ => None,
    })
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_inspector_on_axum() {
    let site = Site::new(config()).await.unwrap();
    let router = site.router();
    let report = site.prerender(router.clone()).await;
    assert_eq!(report.failed.len(), 0);
    let server = Server::start(router).await;
    scenario(&server).await;
}

#[tokio::test(start_paused = true)]
async fn the_inspector_on_actix() {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let site = actix_docs_site::Site::new(config()).await.unwrap();
            let report = site.prerender().await;
            assert_eq!(report.failed.len(), 0);
            let server = Server::start_actix(app(site)).await;
            scenario(&server).await;
        })
        .await;
}

/// The `name=value` of the session cookie a sign-in set.
fn session_cookie(got: &Got) -> String {
    let set = got.header("set-cookie").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/_isr", "Max-Age=3600"] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    assert!(!set.contains(SECRET), "the cookie never holds the secret");
    set.split(';').next().unwrap().to_owned()
}

/// `POST path` with a form `body`, signed in with `cookie` or not.
async fn post(server: &Server, path: &str, cookie: Option<&str>, body: &str) -> Got {
    let mut headers = vec![FORM];
    if let Some(cookie) = cookie {
        headers.push(("cookie", cookie));
    }
    server.send(Method::POST, path, &headers, body).await
}

/// `GET path`, signed in with `cookie`.
async fn get(server: &Server, path: &str, cookie: &str) -> Got {
    server
        .send(Method::GET, path, &[("cookie", cookie)], "")
        .await
}

/// The CSRF token in the page's forms.
fn csrf(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).expect("a CSRF field") + 19;
    page[at..].split('"').next().unwrap().to_owned()
}

fn entry_rows(page: &str) -> usize {
    page.matches(r#"<tr class="entry""#).count()
}

async fn scenario(server: &Server) {
    // Signed out: the sign-in form, never cached, never the secret.
    let form = server.get("/_isr").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains(r#"id="sign-in""#), "{}", form.body);
    assert_eq!(form.header("cache-control"), Some("no-store, private"));
    assert!(
        form.headers.get("x-isr-cache").is_none(),
        "beside the cache"
    );
    assert_eq!(server.get("/_isr/figures").await.status, 401);

    // A wrong secret: the form again, with an error.
    let wrong = post(server, "/_isr/sign-in", None, "secret=nope").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains(r#"id="error""#));
    assert!(wrong.headers.get("set-cookie").is_none());
    // Not a form: refused with a message.
    let json = server
        .send(
            Method::POST,
            "/_isr/sign-in",
            &[("content-type", "application/json")],
            "{}",
        )
        .await;
    assert_eq!(json.status, 415, "{}", json.body);

    // The right secret: a session cookie and the page.
    let signed_in = post(server, "/_isr/sign-in", None, &format!("secret={SECRET}")).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.header("location"), Some("/_isr"));
    let cookie = session_cookie(&signed_in);

    // Traffic to show: a hit, and the dynamic dashboard (not cached).
    assert_eq!(server.get("/docs/getting-started").await.cache(), "HIT");
    assert_eq!(server.get("/dashboard/stats").await.cache(), "BYPASS");

    let page = get(server, "/_isr", &cookie).await;
    assert_eq!(page.status, 200);
    let slash = get(server, "/_isr/", &cookie).await;
    assert_eq!(slash.status, 200, "the page with its trailing slash");
    assert!(slash.body.contains(r#"id="summary""#));
    assert_eq!(page.header("cache-control"), Some("no-store, private"));
    let body = &page.body;
    // The summary: 80 prerendered guides, one hit.
    assert!(
        body.contains(r#"id="entries" data-figure="entries">80<"#),
        "{body}"
    );
    // hits · stale · misses (the prerender's) · bypasses (the dashboard).
    assert!(
        body.contains(r#"data-figure="answers">1 · 0 · 80 · 1<"#),
        "{body}"
    );
    // The "not cached" panel names the dashboard and why.
    let bypass = body
        .split(r#"<tr class="bypass""#)
        .nth(1)
        .expect("a bypass row");
    assert!(bypass.contains("dashboard"), "{bypass}");
    assert!(bypass.contains("dynamic"), "{bypass}");
    // 50 entries per page, two pages.
    assert_eq!(entry_rows(body), 50);
    assert!(body.contains(r#"id="matched">80<"#));
    assert!(body.contains("page 1 of 2"));
    let second = get(server, "/_isr?page=2", &cookie).await;
    assert_eq!(entry_rows(&second.body), 30);

    // Filters: a tag nothing carries, a route prefix, a state.
    let none = get(server, "/_isr?tag=no-such-tag", &cookie).await;
    assert_eq!(entry_rows(&none.body), 0);
    let one = get(server, "/_isr?route=%2Fdocs%2Fgetting", &cookie).await;
    assert_eq!(entry_rows(&one.body), 1, "{}", one.body);
    let bad = get(server, "/_isr?state=rotten", &cookie).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("unknown state"));

    // The figures the page refreshes itself with.
    let figures = get(server, "/_isr/figures", &cookie).await.json();
    assert_eq!(figures["entries"], "80");
    assert_eq!(figures["store"], "memory, answering");

    // A purge needs the session's CSRF token.
    let token = csrf(body);
    let forged = post(
        server,
        "/_isr/purge",
        Some(&cookie),
        "csrf=forged&kind=tag&target=docs&mode=expire",
    )
    .await;
    assert_eq!(forged.status, 403);
    let anonymous = post(
        server,
        "/_isr/purge",
        None,
        &format!("csrf={token}&kind=tag&target=docs"),
    )
    .await;
    assert_eq!(anonymous.status, 401);
    let bad_kind = post(
        server,
        "/_isr/purge",
        Some(&cookie),
        &format!("csrf={token}&kind=everything&target=docs"),
    )
    .await;
    assert_eq!(bad_kind.status, 400);
    assert!(bad_kind.body.contains("unknown kind"));

    // Purging the tag from the page: every guide is invalid, then a visit renders one again.
    let purged = post(
        server,
        "/_isr/purge",
        Some(&cookie),
        &format!("csrf={token}&kind=tag&target=docs&mode=expire"),
    )
    .await;
    assert_eq!(purged.status, 303, "{}", purged.body);
    let location = purged.header("location").unwrap().to_owned();
    let after = get(server, &location, &cookie).await;
    assert!(after.body.contains(r#"id="flash""#), "{}", after.body);
    assert!(after.body.contains("Revalidated tag docs (expire)."));
    let purges = after
        .body
        .split(r#"<tr class="purge">"#)
        .nth(1)
        .expect("the purge is listed");
    assert!(
        purges.contains("<td>tag docs</td><td>expire</td><td>inspector</td>"),
        "the purge is listed with its origin: {purges}"
    );
    let invalid = get(server, "/_isr?state=invalid", &cookie).await;
    assert!(
        invalid.body.contains(r#"id="matched">80<"#),
        "{}",
        invalid.body
    );
    assert_eq!(server.get("/docs/getting-started").await.cache(), "MISS");
    assert_eq!(server.get("/docs/getting-started").await.cache(), "HIT");
    let fresh = get(server, "/_isr?state=fresh&tag=docs", &cookie).await;
    assert!(fresh.body.contains(r#"id="matched">1<"#), "{}", fresh.body);

    // Methods and paths it does not serve.
    let delete = server
        .send(Method::DELETE, "/_isr", &[("cookie", &cookie)], "")
        .await;
    assert_eq!(delete.status, 405);
    assert_eq!(delete.header("allow"), Some("GET"));
    assert_eq!(get(server, "/_isr/nothing", &cookie).await.status, 404);

    // Signing out ends the session in the browser.
    let out = post(
        server,
        "/_isr/sign-out",
        Some(&cookie),
        &format!("csrf={token}"),
    )
    .await;
    assert_eq!(out.status, 303);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));

    // Five wrong secrets in a minute: sign-in refused, even with the right one, for the rest
    // of the minute. (A minute first, so that the wrong secret above is out of the window.)
    tokio::time::advance(Duration::from_secs(61)).await;
    for _ in 0..5 {
        let wrong = post(server, "/_isr/sign-in", None, "secret=guess").await;
        assert_eq!(wrong.status, 401);
    }
    let refused = post(server, "/_isr/sign-in", None, &format!("secret={SECRET}")).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.body.contains("Too many wrong secrets"));
    tokio::time::advance(Duration::from_secs(61)).await;
    let again = post(server, "/_isr/sign-in", None, &format!("secret={SECRET}")).await;
    assert_eq!(again.status, 303);
}
