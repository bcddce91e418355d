//! The pages `isr warm` requests: read from a sitemap (an http:// URL or a file) or from a list
//! of paths, and reduced to paths (and queries) on the app. URLs of other origins are skipped.

use std::collections::HashSet;
use std::io::Read as _;
use std::path::Path;

use reqwest::Url;

use crate::app::App;
use crate::cli::WarmArgs;
use crate::failure::Failure;
use crate::sitemap::{self, Sitemap};

/// The largest sitemap read (the protocol's own limit is 50 MB uncompressed).
const MAX_SITEMAP_BYTES: usize = 64 * 1024 * 1024;

/// Pages to warm.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Pages {
    /// Where they were read from, for the report.
    pub(crate) source: String,
    /// Paths with their query, each once, in the order listed.
    pub(crate) paths: Vec<String>,
    /// Listed URLs of other origins, left out.
    pub(crate) skipped: Vec<String>,
}

/// The origins whose URLs are pages of the app, as `scheme://host:port`.
#[derive(Debug)]
struct Origins(Vec<String>);

impl Origins {
    fn of(app: &App, extra: Option<&str>) -> Result<Self, Failure> {
        let mut origins = vec![app.origin().origin().ascii_serialization()];
        if let Some(extra) = extra {
            let url = Url::parse(extra)
                .map_err(|e| Failure::Usage(format!("--origin {extra:?} is not a URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                return Err(Failure::Usage(format!(
                    "--origin {extra:?}: expected http(s)://host[:port]"
                )));
            }
            origins.push(url.origin().ascii_serialization());
        }
        Ok(Self(origins))
    }

    fn add(&mut self, url: &Url) {
        self.0.push(url.origin().ascii_serialization());
    }

    fn contains(&self, url: &Url) -> bool {
        let origin = url.origin().ascii_serialization();
        self.0.contains(&origin)
    }
}

/// One listed page: a path on the app, or a URL elsewhere.
#[derive(Debug, PartialEq, Eq)]
enum Listed {
    Path(String),
    Elsewhere(String),
}

/// Reads the pages `args` names.
pub(crate) async fn load(app: &App, args: &WarmArgs) -> Result<Pages, Failure> {
    let mut origins = Origins::of(app, args.origin.as_deref())?;
    if let Some(file) = &args.file {
        let (source, text) = read_list(file)?;
        return from_lines(&text, source, &origins);
    }
    let Some(sitemap) = &args.sitemap else {
        return Err(Failure::Usage("give --sitemap or --file".to_owned()));
    };
    let xml = if sitemap.starts_with("http://") || sitemap.starts_with("https://") {
        let url = Url::parse(sitemap)
            .map_err(|e| Failure::Usage(format!("--sitemap {sitemap:?} is not a URL: {e}")))?;
        if url.scheme() == "https" {
            return Err(Failure::Usage(format!(
                "--sitemap {sitemap:?}: this isr fetches over plain HTTP only; download the \
                 sitemap and give its file (its URLs' origin with --origin)"
            )));
        }
        origins.add(&url);
        fetch(app, &url).await?
    } else {
        std::fs::File::open(sitemap)
            .and_then(read_limited)
            .map_err(|e| Failure::Usage(format!("cannot read the sitemap file {sitemap:?}: {e}")))?
    };
    if xml.len() > MAX_SITEMAP_BYTES {
        return Err(Failure::Usage(format!(
            "the sitemap {sitemap} is larger than 64 MiB"
        )));
    }
    let locs = match sitemap::parse(&xml) {
        Ok(Sitemap::Pages(locs)) => locs,
        Ok(Sitemap::Index(children)) => {
            let shown: Vec<&str> = children.iter().take(5).map(String::as_str).collect();
            return Err(Failure::Usage(format!(
                "{sitemap} is a sitemap index of {} sitemaps; warm each with --sitemap: {}{}",
                children.len(),
                shown.join(" "),
                if children.len() > shown.len() {
                    " …"
                } else {
                    ""
                }
            )));
        }
        Err(why) => return Err(Failure::Usage(format!("the sitemap {sitemap}: {why}"))),
    };
    let mut pages = Pages {
        source: format!("the sitemap {sitemap}"),
        ..Pages::default()
    };
    let mut seen = HashSet::new();
    for loc in locs {
        match listed(&loc, &origins) {
            Ok(Listed::Path(path)) => {
                if seen.insert(path.clone()) {
                    pages.paths.push(path);
                }
            }
            Ok(Listed::Elsewhere(url)) => pages.skipped.push(url),
            Err(why) => return Err(Failure::Usage(format!("the sitemap {sitemap}: {why}"))),
        }
    }
    Ok(pages)
}

/// The text of a list of pages: a file, or standard input for `-`.
fn read_list(file: &Path) -> Result<(String, String), Failure> {
    let (source, bytes) = if file == Path::new("-") {
        let bytes = read_limited(std::io::stdin().lock()).map_err(|e| {
            Failure::Usage(format!("cannot read the pages from standard input: {e}"))
        })?;
        ("standard input".to_owned(), bytes)
    } else {
        let bytes = std::fs::File::open(file)
            .and_then(read_limited)
            .map_err(|e| {
                Failure::Usage(format!(
                    "cannot read the list of pages {}: {e}",
                    file.display()
                ))
            })?;
        (file.display().to_string(), bytes)
    };
    if bytes.len() > MAX_SITEMAP_BYTES {
        return Err(Failure::Usage(format!("{source} is larger than 64 MiB")));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| Failure::Usage(format!("{source} is not UTF-8 text")))?;
    Ok((source, text))
}

/// Up to one byte more than [`MAX_SITEMAP_BYTES`] of `reader`, so that a file that never ends
/// (a device, a pipe left open) is refused instead of read forever.
fn read_limited(reader: impl std::io::Read) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_SITEMAP_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The pages of a list: one path or URL a line; blank lines and `#` comments are skipped.
fn from_lines(text: &str, source: String, origins: &Origins) -> Result<Pages, Failure> {
    let mut pages = Pages {
        source,
        ..Pages::default()
    };
    let mut seen = HashSet::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match listed(line, origins) {
            Ok(Listed::Path(path)) => {
                if seen.insert(path.clone()) {
                    pages.paths.push(path);
                }
            }
            Ok(Listed::Elsewhere(url)) => pages.skipped.push(url),
            Err(why) => {
                return Err(Failure::Usage(format!(
                    "{} line {}: {why}",
                    pages.source,
                    number + 1
                )));
            }
        }
    }
    Ok(pages)
}

/// A listed page: a path (kept as it is, without a fragment), or an http(s) URL reduced to its
/// path and query when it is of one of `origins`.
fn listed(text: &str, origins: &Origins) -> Result<Listed, String> {
    if text.starts_with('/') && !text.starts_with("//") {
        let path = text.split('#').next().unwrap_or(text);
        return Ok(Listed::Path(path.to_owned()));
    }
    let url = Url::parse(text)
        .map_err(|_| format!("{text:?} is neither a path starting with '/' nor a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{text:?}: only http(s) URLs and paths are pages"));
    }
    if !origins.contains(&url) {
        return Ok(Listed::Elsewhere(text.to_owned()));
    }
    let mut path = url.path().to_owned();
    if let Some(query) = url.query() {
        path.push('?');
        path.push_str(query);
    }
    Ok(Listed::Path(path))
}

/// The body of `url`, fetched over HTTP.
async fn fetch(app: &App, url: &Url) -> Result<Vec<u8>, Failure> {
    let mut response = app
        .client()
        .get(url.clone())
        .send()
        .await
        .map_err(|e| Failure::transport(url.as_str(), &e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(Failure::Server {
            url: url.to_string(),
            message: format!("{status} for the sitemap"),
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Failure::transport(url.as_str(), &e))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_SITEMAP_BYTES {
            break;
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins() -> Origins {
        Origins(vec![
            "http://127.0.0.1:3000".to_owned(),
            "https://docs.example".to_owned(),
        ])
    }

    #[test]
    fn urls_of_the_app_become_paths_and_others_are_skipped() {
        let o = origins();
        let path = |p: &str| Ok(Listed::Path(p.to_owned()));
        assert_eq!(listed("/docs/a", &o), path("/docs/a"));
        assert_eq!(listed("/docs/a#intro", &o), path("/docs/a"));
        assert_eq!(
            listed("http://127.0.0.1:3000/docs/a?x=1#y", &o),
            path("/docs/a?x=1")
        );
        assert_eq!(listed("https://docs.example:443/b", &o), path("/b"));
        assert_eq!(listed("https://docs.example", &o), path("/"));
        assert_eq!(
            listed("http://docs.example/b", &o),
            Ok(Listed::Elsewhere("http://docs.example/b".to_owned())),
            "another scheme is another origin"
        );
        assert_eq!(
            listed("//docs.example/b", &o).unwrap_err(),
            "\"//docs.example/b\" is neither a path starting with '/' nor a URL"
        );
        assert!(listed("docs/a", &o).unwrap_err().contains("neither a path"));
        assert!(
            listed("mailto:a@b.c", &o)
                .unwrap_err()
                .contains("only http(s)")
        );
    }

    #[test]
    fn a_source_that_never_ends_is_read_only_past_the_limit() {
        let bytes = read_limited(std::io::repeat(b'/')).unwrap();
        assert_eq!(bytes.len(), MAX_SITEMAP_BYTES + 1);
    }

    #[test]
    fn a_list_skips_blanks_and_comments_and_repeats() {
        let text = "# the docs\n/docs/a\n\n  /docs/b  \n/docs/a\nhttps://elsewhere.example/x\n";
        let pages = from_lines(text, "pages.txt".to_owned(), &origins()).unwrap();
        assert_eq!(pages.paths, ["/docs/a", "/docs/b"]);
        assert_eq!(pages.skipped, ["https://elsewhere.example/x"]);
        let error = from_lines("/a\nb\n", "pages.txt".to_owned(), &origins()).unwrap_err();
        assert_eq!(error.exit_code(), crate::failure::USAGE);
        assert!(
            error.to_string().starts_with("pages.txt line 2: "),
            "{error}"
        );
    }
}
