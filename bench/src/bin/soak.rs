//! A bounded soak against a running docs-site: mixed traffic (hits, stale pages, misses on
//! unique keys), a purge every second, for a fixed time; then a check that no key stays
//! locked. Prints a Markdown report.
//!
//! ```text
//! soak <base-url> <seconds> <concurrency> <secret> [server-pid]
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

#[derive(Default)]
struct Tally {
    by_state: BTreeMap<String, u64>,
    server_errors_by_state: BTreeMap<String, u64>,
    transport_errors: u64,
    slowest: Duration,
}

fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn get(client: &HttpClient, url: String) -> Result<(u16, String), String> {
    let request = Request::get(url)
        .body(Full::default())
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let state = response
        .headers()
        .get("x-isr-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok((status, state))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        return Err("usage: soak <base-url> <seconds> <concurrency> <secret> [server-pid]".into());
    }
    let base = args[1].trim_end_matches('/').to_owned();
    let seconds: u64 = args[2].parse()?;
    let concurrency: usize = args[3].parse()?;
    let secret = args[4].clone();
    let pid: Option<u32> = args.get(5).and_then(|p| p.parse().ok());
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let guides: Vec<String> = (1..=24)
        .map(|n| format!("/docs/recipe-{n:02}"))
        .chain(
            ["getting-started", "routing", "caching", "layouts"]
                .iter()
                .map(|s| format!("/docs/{s}")),
        )
        .collect();
    let rss_start = rss_kib(pid);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let tally = Arc::new(Mutex::new(Tally::default()));

    let purger = {
        let (client, base, secret) = (client.clone(), base.clone(), secret.clone());
        tokio::spawn(async move {
            let mut purges = 0u64;
            while Instant::now() < deadline {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let body = format!(r#"{{"tag": "docs", "secret": "{secret}"}}"#);
                let request = Request::builder()
                    .method(Method::POST)
                    .uri(format!("{base}/api/revalidate"))
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body)));
                if let Ok(request) = request
                    && let Ok(Ok(res)) =
                        tokio::time::timeout(Duration::from_secs(5), client.request(request)).await
                    && res.status() == 200
                {
                    purges += 1;
                }
            }
            purges
        })
    };

    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let (client, base, guides, tally) =
                (client.clone(), base.clone(), guides.clone(), tally.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    n += 1;
                    let path = match n % 20 {
                        0 | 1 => format!("/docs/soak-{w}-{n}"), // a miss on a unique key
                        2 => "/products/blue-sneakers".to_owned(),
                        3 => "/".to_owned(),
                        _ => guides[(n as usize * 7 + w) % guides.len()].clone(),
                    };
                    let asked = Instant::now();
                    let outcome = get(&client, format!("{base}{path}")).await;
                    let took = asked.elapsed();
                    let mut t = tally.lock().unwrap();
                    t.slowest = t.slowest.max(took);
                    match outcome {
                        Ok((status, state)) => {
                            *t.by_state.entry(state.clone()).or_default() += 1;
                            if status >= 500 {
                                *t.server_errors_by_state.entry(state).or_default() += 1;
                            }
                        }
                        Err(_) => t.transport_errors += 1,
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await?;
    }
    let purges = purger.await?;
    let rss_end = rss_kib(pid);

    // No key left locked: every hot page answers promptly once the load has stopped.
    let mut locked = 0;
    for path in &guides {
        let asked = Instant::now();
        let ok = get(&client, format!("{base}{path}")).await.is_ok();
        if !ok || asked.elapsed() > Duration::from_secs(2) {
            locked += 1;
        }
    }

    let audit = {
        let request = Request::get(format!("{base}/api/render-audit"))
            .header("x-revalidate-secret", secret.as_str())
            .body(Full::default())?;
        let response = client.request(request).await?;
        let body = response.into_body().collect().await?.to_bytes();
        String::from_utf8_lossy(&body).into_owned()
    };

    let t = tally.lock().unwrap();
    let total: u64 = t.by_state.values().sum();
    println!("| figure | value |");
    println!("|---|---:|");
    println!("| duration | {seconds} s, {concurrency} connections |");
    println!("| requests answered | {total} |");
    for (state, count) in &t.by_state {
        println!("| answered `{state}` | {count} |");
    }
    for (state, count) in &t.server_errors_by_state {
        println!("| 5xx seen by visitors, `{state}` | {count} |");
    }
    println!("| transport errors | {} |", t.transport_errors);
    println!("| purges accepted | {purges} |");
    println!(
        "| slowest answer | {:.1} ms |",
        t.slowest.as_secs_f64() * 1e3
    );
    if let (Some(a), Some(b)) = (rss_start, rss_end) {
        println!(
            "| server RSS start → end | {} MiB → {} MiB |",
            a / 1024,
            b / 1024
        );
    }
    println!("| keys left locked | {locked} |");
    println!("| render audit (pages, per 1 s window) | `{audit}` |");
    Ok(())
}
