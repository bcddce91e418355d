//! The app over HTTP: its origin, its pages, and its purge endpoint's protocol (stats, listings,
//! revalidations), with each way a call can fail mapped to a [`Failure`].

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Client, RequestBuilder, StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;

use crate::cli::{AppArgs, SortArg, StateArg};
use crate::failure::Failure;

/// The app: where it is, its purge endpoint and secret, and one HTTP client.
#[derive(Debug)]
pub(crate) struct App {
    origin: Url,
    endpoint: Url,
    secret: Option<String>,
    client: Client,
}

/// The counters of `GET ?view=stats`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub(crate) struct Stats {
    pub(crate) entries: u64,
    pub(crate) bytes: u64,
    pub(crate) hits: u64,
    pub(crate) stale: u64,
    pub(crate) misses: u64,
    pub(crate) bypasses: u64,
    pub(crate) hit_ratio: Option<f64>,
    pub(crate) renders: u64,
    pub(crate) failed_renders: u64,
    pub(crate) regenerations_deferred: u64,
    pub(crate) invalidations: u64,
    #[serde(default)]
    pub(crate) invalidation_stamps: u64,
    pub(crate) store_errors: u64,
    /// The store (apps of this release on; absent from older ones).
    #[serde(default)]
    pub(crate) store: Option<StoreInfo>,
}

/// The store of `GET ?view=stats`: its kind, bound and whether it answers since when.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub(crate) struct StoreInfo {
    pub(crate) kind: String,
    pub(crate) max_bytes: Option<u64>,
    pub(crate) reachable: bool,
    /// Unix ms of the last change of `reachable`.
    pub(crate) since: Option<u64>,
    #[serde(default)]
    pub(crate) outages: u64,
}

/// What a listing asks for.
#[derive(Clone, Debug, Default)]
pub(crate) struct ListQuery {
    pub(crate) state: Option<StateArg>,
    pub(crate) tag: Option<String>,
    pub(crate) route: Option<String>,
    pub(crate) sort: Option<SortArg>,
    pub(crate) limit: u64,
}

impl ListQuery {
    fn is_filtered(&self) -> bool {
        self.state.is_some() || self.tag.is_some() || self.route.is_some() || self.sort.is_some()
    }
}

/// A listing: the entries shown, and (for a filtered one) how many matched before the limit.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Listing {
    pub(crate) count: u64,
    #[serde(default)]
    pub(crate) matched: Option<u64>,
    pub(crate) entries: Vec<EntryRow>,
}

/// One entry of a listing.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct EntryRow {
    pub(crate) key: String,
    pub(crate) route: Option<String>,
    pub(crate) age: u64,
    pub(crate) revalidate: RevalidateField,
    pub(crate) state: String,
    pub(crate) tags: Vec<String>,
    pub(crate) bytes: u64,
}

/// An entry's revalidate time: seconds (`0`: dynamic) or `false` (until purged).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub(crate) enum RevalidateField {
    /// Seconds.
    Secs(u64),
    /// `false`: never on its own.
    Never(bool),
}

/// What a purge revalidates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PurgeTarget {
    /// One page.
    Page(String),
    /// Every page under a path.
    Layout(String),
    /// Every page carrying any of these tags.
    Tags(Vec<String>),
}

impl App {
    /// The app of the command line's `--url`, `--endpoint`, `--secret` and `--timeout`.
    pub(crate) fn new(args: &AppArgs) -> Result<Self, Failure> {
        let origin = parse_origin(&args.url)?;
        let mut endpoint = origin.clone();
        endpoint.set_path(&args.endpoint);
        let client = Client::builder()
            .timeout(args.timeout)
            .connect_timeout(args.timeout.min(Duration::from_secs(10)))
            // A redirect is an answer of its own (a cached 301 or 308), not a page to follow.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("isr-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::Usage(format!("cannot set up an HTTP client: {e}")))?;
        Ok(Self {
            origin,
            endpoint,
            secret: args.secret.clone().filter(|s| !s.trim().is_empty()),
            client,
        })
    }

    /// The app's origin, e.g. `http://127.0.0.1:3000/`.
    pub(crate) fn origin(&self) -> &Url {
        &self.origin
    }

    /// The client every request goes through.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The URL of a page of the app, from its path (and query). Always on the app's origin,
    /// even for a path like `//elsewhere/x`, which joining would read as another host.
    pub(crate) fn page_url(&self, path_and_query: &str) -> Url {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        let mut url = self.origin.clone();
        url.set_path(path);
        url.set_query(query);
        url
    }

    fn secret(&self) -> Result<&str, Failure> {
        self.secret.as_deref().ok_or_else(|| {
            Failure::Usage(
                "no secret: pass --secret or set REVALIDATION_SECRET (the purge endpoint's)"
                    .to_owned(),
            )
        })
    }

    /// `GET ?view=stats`, as the app answered it.
    pub(crate) async fn stats_json(&self) -> Result<Value, Failure> {
        let mut url = self.endpoint.clone();
        url.query_pairs_mut().append_pair("view", "stats");
        let answer = self.call(&url, self.client.get(url.clone())).await?;
        if answer.get("entries").is_some_and(Value::is_array) {
            return Err(Failure::Server {
                url: url.to_string(),
                message: "the purge endpoint answered a listing instead of its counters: \
                          the app needs a newer isr-layer for `isr status` and `isr watch`"
                    .to_owned(),
            });
        }
        Ok(answer)
    }

    /// `GET ?view=stats`.
    pub(crate) async fn stats(&self) -> Result<Stats, Failure> {
        let answer = self.stats_json().await?;
        decode(&self.endpoint, answer)
    }

    /// `GET ?limit=..&state=..`, as the app answered it.
    pub(crate) async fn list_json(&self, query: &ListQuery) -> Result<Value, Failure> {
        let mut url = self.endpoint.clone();
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("limit", &query.limit.to_string());
            if let Some(state) = query.state {
                pairs.append_pair("state", state.as_str());
            }
            if let Some(tag) = &query.tag {
                pairs.append_pair("tag", tag);
            }
            if let Some(route) = &query.route {
                pairs.append_pair("route", route);
            }
            if let Some(sort) = query.sort {
                pairs.append_pair("sort", sort.as_str());
            }
        }
        let answer = self.call(&url, self.client.get(url.clone())).await?;
        if query.is_filtered() && answer.get("matched").is_none() {
            return Err(Failure::Server {
                url: url.to_string(),
                message: "the purge endpoint ignored --state, --tag, --route and --sort: \
                          the app needs a newer isr-layer for them"
                    .to_owned(),
            });
        }
        Ok(answer)
    }

    /// `GET ?limit=..&state=..`.
    pub(crate) async fn list(&self, query: &ListQuery) -> Result<Listing, Failure> {
        let answer = self.list_json(query).await?;
        decode(&self.endpoint, answer)
    }

    /// `POST` a revalidation; the app's answer.
    pub(crate) async fn purge(&self, target: &PurgeTarget, stale: bool) -> Result<Value, Failure> {
        let mut body = match target {
            PurgeTarget::Page(path) => serde_json::json!({ "path": path }),
            PurgeTarget::Layout(path) => serde_json::json!({ "path": path, "type": "layout" }),
            PurgeTarget::Tags(tags) => match tags.as_slice() {
                [tag] => serde_json::json!({ "tag": tag }),
                tags => serde_json::json!({ "tags": tags }),
            },
        };
        if stale {
            body["mode"] = Value::from("stale");
        }
        let request = self
            .client
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        self.call(&self.endpoint, request).await
    }

    /// Sends a call to the purge endpoint with the secret; its JSON answer, or why not.
    async fn call(&self, url: &Url, request: RequestBuilder) -> Result<Value, Failure> {
        let secret = self.secret()?;
        let response = request
            .header(AUTHORIZATION, format!("Bearer {secret}"))
            .send()
            .await
            .map_err(|e| Failure::transport(url.as_str(), &e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| Failure::transport(url.as_str(), &e))?;
        let json = serde_json::from_slice::<Value>(&body).ok();
        match status {
            StatusCode::UNAUTHORIZED => Err(Failure::Unauthorized {
                url: url.to_string(),
            }),
            status if status.is_success() => json.ok_or_else(|| Failure::Server {
                url: url.to_string(),
                message: format!(
                    "{status}, but the answer is not JSON: is --endpoint the purge endpoint?"
                ),
            }),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => Err(Failure::Server {
                url: url.to_string(),
                message: format!("{status}: no purge endpoint here (see --endpoint)"),
            }),
            status => {
                let message = json
                    .as_ref()
                    .and_then(|j| j.get("error"))
                    .and_then(Value::as_str)
                    .map_or_else(|| snippet(&body), str::to_owned);
                Err(Failure::Server {
                    url: url.to_string(),
                    message: format!("{status}: {message}"),
                })
            }
        }
    }
}

/// `answer` as a `T`, or a clear failure naming the endpoint.
fn decode<T: serde::de::DeserializeOwned>(endpoint: &Url, answer: Value) -> Result<T, Failure> {
    serde_json::from_value(answer).map_err(|e| Failure::Server {
        url: endpoint.to_string(),
        message: format!("an answer this isr does not understand: {e}"),
    })
}

/// The start of a body that is not JSON, on one line.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let short: String = line.chars().take(120).collect();
    if short.is_empty() {
        "(empty answer)".to_owned()
    } else if short.len() < line.len() {
        format!("{short}…")
    } else {
        short
    }
}

/// The app's origin from `--url`: plain HTTP, a host, no path, query or fragment. Without a
/// scheme (`127.0.0.1:3000`, `localhost:3000`), `http://` is meant.
pub(crate) fn parse_origin(text: &str) -> Result<Url, Failure> {
    let trimmed = text.trim();
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("http://{trimmed}")
    };
    let url = Url::parse(&with_scheme)
        .map_err(|e| Failure::Usage(format!("--url {text:?} is not a URL: {e}")))?;
    match url.scheme() {
        "http" => {}
        "https" => {
            return Err(Failure::Usage(format!(
                "--url {text:?}: this isr speaks plain HTTP only; reach the app on its own \
                 address (e.g. http://127.0.0.1:3000 on its host, or through a tunnel)"
            )));
        }
        scheme => {
            return Err(Failure::Usage(format!(
                "--url {text:?}: expected an http:// URL, not {scheme}:"
            )));
        }
    }
    if url.host().is_none() {
        return Err(Failure::Usage(format!("--url {text:?} has no host")));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(Failure::Usage(format!(
            "--url {text:?}: give the app's origin only (scheme, host, port); the purge \
             endpoint's path goes in --endpoint"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_plain_http_with_a_host_and_nothing_else() {
        assert_eq!(
            parse_origin("http://127.0.0.1:3000").unwrap().as_str(),
            "http://127.0.0.1:3000/"
        );
        assert!(parse_origin("http://localhost:8080/").is_ok());
        assert_eq!(
            parse_origin("localhost:3000").unwrap().as_str(),
            "http://localhost:3000/"
        );
        for (bad, expect) in [
            ("http://", "not a URL"),
            ("", "not a URL"),
            ("127.0.0.1:99999", "not a URL"),
            ("https://example.com", "plain HTTP only"),
            ("ftp://example.com", "expected an http:// URL"),
            ("http://127.0.0.1:3000/api/revalidate", "--endpoint"),
            ("http://127.0.0.1:3000/?a=b", "origin only"),
        ] {
            let message = parse_origin(bad).unwrap_err().to_string();
            assert!(message.contains(expect), "{bad}: {message}");
        }
    }

    #[test]
    fn pages_stay_on_the_app_s_origin() {
        let args = AppArgs {
            url: "http://127.0.0.1:3000".to_owned(),
            secret: None,
            endpoint: "/api/revalidate".to_owned(),
            timeout: Duration::from_secs(1),
        };
        let app = App::new(&args).unwrap();
        assert_eq!(
            app.page_url("/docs/a?x=1").as_str(),
            "http://127.0.0.1:3000/docs/a?x=1"
        );
        assert_eq!(
            app.page_url("//elsewhere.example/x").as_str(),
            "http://127.0.0.1:3000//elsewhere.example/x"
        );
        assert_eq!(
            app.endpoint.as_str(),
            "http://127.0.0.1:3000/api/revalidate"
        );
        assert!(
            app.secret()
                .unwrap_err()
                .to_string()
                .contains("REVALIDATION_SECRET")
        );
    }

    #[test]
    fn listings_and_stats_decode() {
        let listing: Listing = serde_json::from_str(
            r#"{"count": 2, "matched": 7, "entries": [
                {"key": "/a", "route": "/{x}", "status": 200, "age": 3, "revalidate": 60,
                 "state": "fresh", "tags": ["t"], "bytes": 900},
                {"key": "/b", "route": null, "status": 404, "age": 0, "revalidate": false,
                 "state": "invalid", "tags": [], "bytes": 10}]}"#,
        )
        .unwrap();
        assert_eq!((listing.count, listing.matched), (2, Some(7)));
        assert_eq!(listing.entries[0].revalidate, RevalidateField::Secs(60));
        assert_eq!(listing.entries[1].revalidate, RevalidateField::Never(false));
        assert_eq!(listing.entries[1].route, None);

        let stats: Stats = serde_json::from_str(
            r#"{"entries": 1, "bytes": 2, "hits": 3, "stale": 4, "misses": 5, "bypasses": 6,
                "hit_ratio": null, "renders": 7, "failed_renders": 8,
                "regenerations_deferred": 9, "invalidations": 10, "invalidation_stamps": 11,
                "store_errors": 12}"#,
        )
        .unwrap();
        assert_eq!(
            (stats.hits, stats.hit_ratio, stats.store_errors),
            (3, None, 12)
        );
    }

    #[test]
    fn a_body_that_is_not_json_is_shown_short_on_one_line() {
        assert_eq!(snippet(b""), "(empty answer)");
        assert_eq!(snippet(b"<h1>Bad\n  Gateway</h1>"), "<h1>Bad Gateway</h1>");
        assert!(snippet("x".repeat(500).as_bytes()).ends_with('…'));
    }
}
