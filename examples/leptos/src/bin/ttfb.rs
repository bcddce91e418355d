//! Time to first byte of a `MISS` on the streaming route, uncached and behind the ISR layer.
//!
//! ```text
//! cargo run --release -p leptos-site --bin ttfb          # TTFB_REQUESTS=30 by default
//! ```
//!
//! Serves the site twice on ephemeral loopback ports, once without the layer and once behind it
//! (revalidate 60 s), and asks each for `TTFB_REQUESTS` paths it has never seen
//! (`/streaming/ttfb-N`), so every answer from the cached site is a `MISS`. The requests take
//! turns between the two sites, one at a time, each on a new connection (as `curl` would make
//! it: the time to first byte includes the connect). After 5 warm-up requests per site it prints
//! the median, 90th percentile and extremes of the time to the first byte of the answer and to
//! its last byte (the report resolves 200 ms after the shell).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use isr_layer::{IsrLayer, Revalidate};
use leptos_site::{STREAMING_DELAY, Site};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WARM_UP: usize = 5;

/// One measured request.
struct Sample {
    first_byte: Duration,
    last_byte: Duration,
}

async fn serve(isr: Option<&IsrLayer>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let app = Site::new(addr).app(isr);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("server on {addr} stopped: {e}");
        }
    });
    Ok(addr)
}

/// `GET path` on a new connection: the times to the first and the last byte, and the head.
async fn get(addr: SocketAddr, path: &str) -> std::io::Result<(Sample, String)> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/html\r\n\
         Accept-Encoding: gzip, deflate, br, zstd\r\nConnection: close\r\n\r\n"
    );
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    stream.write_all(request.as_bytes()).await?;
    let mut buf = vec![0; 64 * 1024];
    let mut answer = Vec::new();
    let n = stream.read(&mut buf).await?;
    let first_byte = start.elapsed();
    answer.extend_from_slice(&buf[..n]);
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let last_byte = start.elapsed();
    let text = String::from_utf8_lossy(&answer);
    let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
    Ok((
        Sample {
            first_byte,
            last_byte,
        },
        head,
    ))
}

fn cache_header(head: &str) -> &str {
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("x-isr-cache")
                .then_some(value.trim())
        })
        .unwrap_or("-")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median (mean of the middle two for an even count) and nearest-rank 90th percentile.
fn summary(mut values: Vec<Duration>) -> String {
    values.sort();
    let n = values.len();
    let median = if n.is_multiple_of(2) {
        (values[n / 2 - 1] + values[n / 2]) / 2
    } else {
        values[n / 2]
    };
    let p90 = values[(n * 9).div_ceil(10) - 1];
    format!(
        "median {:7.2} ms   p90 {:7.2} ms   min {:7.2} ms   max {:7.2} ms",
        ms(median),
        ms(p90),
        ms(values[0]),
        ms(values[n - 1])
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let requests: usize = match std::env::var("TTFB_REQUESTS") {
        Ok(v) => v.parse().map_err(|e| format!("TTFB_REQUESTS={v:?}: {e}"))?,
        Err(_) => 30,
    };
    if requests == 0 {
        return Err("TTFB_REQUESTS must be at least 1".into());
    }
    let isr = IsrLayer::builder()
        .revalidate(Revalidate::secs(60))
        .build()?;
    let uncached = serve(None).await?;
    let cached = serve(Some(&isr)).await?;

    let mut samples: [Vec<Sample>; 2] = [Vec::new(), Vec::new()];
    for i in 0..WARM_UP + requests {
        let path = format!("/streaming/ttfb-{i}");
        for (k, (addr, expect)) in [(uncached, "-"), (cached, "MISS")].into_iter().enumerate() {
            let (sample, head) = get(addr, &path).await?;
            if !head.starts_with("HTTP/1.1 200") || cache_header(&head) != expect {
                return Err(format!("unexpected answer to {path}:\n{head}").into());
            }
            if i >= WARM_UP {
                samples[k].push(sample);
            }
        }
    }

    println!(
        "{requests} MISSes on /streaming/ttfb-N per site (new paths, one at a time, new \
         connection each; the report resolves {} ms after the shell)",
        STREAMING_DELAY.as_millis()
    );
    for (name, samples) in ["uncached", "ISR MISS"].iter().zip(samples) {
        let first: Vec<Duration> = samples.iter().map(|s| s.first_byte).collect();
        let last: Vec<Duration> = samples.iter().map(|s| s.last_byte).collect();
        println!("{name:9} first byte: {}", summary(first));
        println!("{name:9} last byte:  {}", summary(last));
    }
    let stats = isr.stats();
    println!(
        "cache: {} renders, {} misses, {} hits",
        stats.renders, stats.misses, stats.hits
    );
    Ok(())
}
