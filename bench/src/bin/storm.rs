//! Fires N concurrent GETs at one URL (each on its own connection) and prints how many
//! answered 200: a storm, to count how many origin renders it causes. With several URLs
//! (comma-separated, e.g. two instances of one site), the requests take them in turn.
//!
//! ```text
//! storm <url>[,<url>...] [n = 1000]
//! ```

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn get(host: String, path: String) -> Result<u16, std::io::Error> {
    let mut stream = TcpStream::connect(&host).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let status = std::str::from_utf8(&response[..response.len().min(12)])
        .ok()
        .and_then(|line| line.get(9..12))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Ok(status)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let urls = args
        .next()
        .ok_or("usage: storm <http://host:port/path>[,<url>...] [n]")?;
    let n: usize = args.next().map_or(Ok(1000), |n| n.parse())?;
    let mut targets = Vec::new();
    for url in urls.split(',') {
        let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        targets.push((host.to_owned(), path.to_owned()));
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (host, path) = targets[i % targets.len()].clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                tokio::time::timeout(Duration::from_secs(30), get(host, path)).await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        if let Ok(Ok(Ok(200))) = task.await {
            ok += 1;
        }
    }
    println!("{ok}/{n} answered 200");
    Ok(())
}
