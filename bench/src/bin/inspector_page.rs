//! How long the cache inspector takes to answer a page of its listing with many entries, in
//! process (no HTTP): the layer is filled with `entries` pages of about 2 KB carrying two tags,
//! then the inspector is signed in to and asked for its first page, a page filtered by tag,
//! a page filtered by route prefix and state, and the last page, `rounds` times each.
//!
//! ```text
//! inspector-page [entries = 100000] [rounds = 5]
//! ```

#[path = "../origin.rs"]
mod origin;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Uri};
use http_body_util::Full;
use isr_layer::inspector::Inspector;
use isr_layer::purge::PurgeAuth;
use isr_layer::store::MemoryStore;
use isr_layer::{IsrLayer, Revalidate};
use origin::{page_number, tagged_page};
use tower::{Layer, ServiceExt};

const SECRET: &str = "inspector-bench-secret";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let entries: usize = args.next().map_or(Ok(100_000), |n| n.parse())?;
    let rounds: usize = args.next().map_or(Ok(5), |n| n.parse())?;

    let isr = IsrLayer::builder()
        .revalidate(Revalidate::secs(3600))
        .store(MemoryStore::new(4 << 30))
        .build()?;
    let service = isr.layer(tower::service_fn(|req: Request<Full<Bytes>>| async move {
        let n = page_number(&req);
        let body = "<p>a line of a page of about two kilobytes</p>\n".repeat(44);
        Ok::<_, Infallible>(tagged_page(n, body))
    }));
    let filled = Instant::now();
    for n in 0..entries {
        let request = Request::get(format!("/p/{n}"))
            .body(Full::default())
            .unwrap();
        service.clone().oneshot(request).await?;
    }
    println!(
        "filled {entries} entries in {:.1} s; the store holds {}",
        filled.elapsed().as_secs_f64(),
        isr.stats().entries
    );

    let inspector = Inspector::new("/_isr", isr.revalidator(), PurgeAuth::new(SECRET)?)?;
    let mut form = HeaderMap::new();
    form.insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    let signed_in = inspector
        .answer(
            &Method::POST,
            &Uri::from_static("/_isr/sign-in"),
            &form,
            |_| async { Ok(Bytes::from(format!("secret={SECRET}"))) },
        )
        .await;
    let cookie = signed_in
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or("no session cookie")?
        .to_owned();
    let mut session = HeaderMap::new();
    session.insert("cookie", cookie.parse()?);

    let last = entries.div_ceil(50).max(1);
    let pages = [
        ("first page".to_owned(), "/_isr".to_owned()),
        ("tag group-7".to_owned(), "/_isr?tag=group-7".to_owned()),
        (
            "route /p/9, fresh".to_owned(),
            "/_isr?route=%2Fp%2F9&state=fresh".to_owned(),
        ),
        (format!("page {last}"), format!("/_isr?page={last}")),
    ];
    println!("| page | median (ms) | min (ms) | max (ms) | bytes |");
    println!("|---|---:|---:|---:|---:|");
    for (name, uri) in pages {
        let uri: Uri = uri.parse()?;
        let mut times = Vec::with_capacity(rounds);
        let mut size = 0;
        for _ in 0..rounds {
            let started = Instant::now();
            let reply = inspector
                .answer(&Method::GET, &uri, &session, |_| async { Ok(Bytes::new()) })
                .await;
            times.push(started.elapsed());
            assert_eq!(reply.status, 200, "{name}");
            size = reply.body.len();
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {size} |",
            ms(times[times.len() / 2]),
            ms(times[0]),
            ms(times[times.len() - 1])
        );
    }
    Ok(())
}
