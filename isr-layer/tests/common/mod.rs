//! A scripted origin service and small helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use isr_layer::{IsrLayer, service::IsrBody, service::IsrService};
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceExt, service_fn};

/// What the origin does on its next renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answers 200 with `"<path> v<n>"`.
    Ok,
    /// Returns an error from the service.
    Error,
    /// Answers 500.
    ServerError,
    /// Panics.
    Panic,
    /// Never answers.
    Hang,
}

type Hook = Arc<dyn Fn(&Request<Full<Bytes>>, &mut Response<Full<Bytes>>) + Send + Sync>;

struct State {
    renders: AtomicUsize,
    mode: Mutex<Mode>,
    delay: Mutex<Duration>,
    hook: Mutex<Option<Hook>>,
    seen: Mutex<Vec<String>>,
}

/// A service that counts its renders and answers what the test scripts.
#[derive(Clone)]
pub struct Origin {
    state: Arc<State>,
}

/// The origin's error: a plain type, as a service's own error would be.
#[derive(Debug)]
pub struct OriginError;

impl std::fmt::Display for OriginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("origin error")
    }
}

impl std::error::Error for OriginError {}

pub type OriginService =
    BoxCloneSyncService<Request<Full<Bytes>>, Response<Full<Bytes>>, OriginError>;

impl Origin {
    pub fn new() -> Self {
        Self {
            state: Arc::new(State {
                renders: AtomicUsize::new(0),
                mode: Mutex::new(Mode::Ok),
                delay: Mutex::new(Duration::ZERO),
                hook: Mutex::new(None),
                seen: Mutex::new(Vec::new()),
            }),
        }
    }

    pub fn renders(&self) -> usize {
        self.state.renders.load(Ordering::SeqCst)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    /// Changes every response before it leaves the origin.
    pub fn on_response(
        &self,
        hook: impl Fn(&Request<Full<Bytes>>, &mut Response<Full<Bytes>>) + Send + Sync + 'static,
    ) {
        *self.state.hook.lock().unwrap() = Some(Arc::new(hook));
    }

    /// The request targets (path and query) the origin saw, in order.
    pub fn seen(&self) -> Vec<String> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn service(&self) -> OriginService {
        let state = Arc::clone(&self.state);
        BoxCloneSyncService::new(service_fn(move |req: Request<Full<Bytes>>| {
            let state = Arc::clone(&state);
            async move {
                let n = state.renders.fetch_add(1, Ordering::SeqCst) + 1;
                let target = req
                    .uri()
                    .path_and_query()
                    .map_or("/".into(), |pq| pq.to_string());
                state.seen.lock().unwrap().push(target.clone());
                let delay = *state.delay.lock().unwrap();
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let mode = *state.mode.lock().unwrap();
                match mode {
                    Mode::Ok | Mode::ServerError => {}
                    Mode::Error => return Err(OriginError),
                    Mode::Panic => panic!("origin panicked"),
                    Mode::Hang => std::future::pending::<()>().await,
                }
                let mut res = Response::new(Full::new(Bytes::from(format!("{target} v{n}"))));
                if mode == Mode::ServerError {
                    *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                }
                let hook = state.hook.lock().unwrap().clone();
                if let Some(hook) = hook {
                    hook(&req, &mut res);
                }
                Ok(res)
            }
        }))
    }

    /// The origin behind `isr`.
    pub fn behind(&self, isr: &IsrLayer) -> IsrService<OriginService> {
        isr.layer(self.service())
    }
}

/// What a visitor got.
#[derive(Debug)]
pub struct Got {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Got {
    pub fn cache(&self) -> &str {
        self.headers
            .get("x-isr-cache")
            .map_or("-", |v| v.to_str().unwrap())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// Sends `req` through `svc` and reads the whole answer.
pub fn send(
    svc: &IsrService<OriginService>,
    req: Request<Full<Bytes>>,
) -> impl Future<Output = Got> + Send + 'static {
    let svc = svc.clone();
    async move {
        let res: Response<IsrBody<Full<Bytes>>> = svc.oneshot(req).await.expect("no error");
        let (parts, body) = res.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Got {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }
}

/// `GET target`.
pub fn get(
    svc: &IsrService<OriginService>,
    target: &str,
) -> impl Future<Output = Got> + Send + 'static {
    send(svc, request("GET", target))
}

pub fn request(method: &str, target: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(target)
        .body(Full::default())
        .unwrap()
}

/// Lets background work finish: on the paused clock this runs every ready task and timer due
/// within 10 ms, deterministically.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(10)).await;
}

pub async fn advance(secs: u64) {
    tokio::time::advance(Duration::from_secs(secs)).await;
}

pub fn never_fails() -> Infallible {
    unreachable!()
}
