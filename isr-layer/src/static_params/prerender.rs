//! Prerendering: every listed path through the real app, a bounded number at a time, with a
//! report.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use http::{Request, Response, StatusCode};
use tower_service::Service;

use super::StaticParams;

/// What a prerender did.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct PrerenderReport {
    /// Pages answered successfully (rendered now, or already in the cache).
    pub rendered: usize,
    /// Pages that failed, with the reason.
    pub failed: Vec<(String, String)>,
    /// How long it took.
    pub took: Duration,
}

impl StaticParams {
    /// Renders every listed path through `app` (the tower service with its
    /// [`IsrLayer`](crate::IsrLayer)) with a `GET` and an empty request body, at most
    /// `concurrency` at a time, logging progress. An answer with a `5xx` status, an error or
    /// a panic is reported as failed and never aborts the run. Each request runs as a task of
    /// its own on the tokio runtime.
    ///
    /// The request body type `ReqBody` is the app's; an app generic over it (an axum `Router`)
    /// needs it named, which `isr-axum`'s `StaticParams::prerender` does.
    ///
    /// ```
    /// use std::convert::Infallible;
    ///
    /// use bytes::Bytes;
    /// use http::{Request, Response};
    /// use http_body_util::Full;
    /// use isr_layer::IsrLayer;
    /// use isr_layer::static_params::StaticParams;
    /// use tower::{ServiceBuilder, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let params = StaticParams::new().route("/docs/{slug}", || async {
    ///     Ok(vec![vec![("slug".to_owned(), "routing".to_owned())]])
    /// })?;
    /// params.generate().await;
    ///
    /// let isr = IsrLayer::new();
    /// let app = ServiceBuilder::new()
    ///     .layer(isr.clone())
    ///     .layer(params.layer())
    ///     .service(service_fn(|req: Request<Full<Bytes>>| async move {
    ///         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(req.uri().to_string()))))
    ///     }));
    /// let report = params.prerender(app, 8).await;
    /// assert_eq!((report.rendered, report.failed.len()), (1, 0));
    /// assert_eq!(isr.stats().renders, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn prerender<S, ReqBody, ResBody>(
        &self,
        app: S,
        concurrency: usize,
    ) -> PrerenderReport
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: fmt::Display + Send + 'static,
        ReqBody: Default + Send + 'static,
        ResBody: Send + 'static,
    {
        self.prerender_with(concurrency, move |path| {
            let mut app = app.clone();
            // A task per page, so pages render in parallel and a panic fails one page only.
            let task = tokio::spawn(async move {
                let request = Request::get(path.as_str())
                    .body(ReqBody::default())
                    .map_err(|e| format!("invalid path: {e}"))?;
                poll_fn(|cx| app.poll_ready(cx))
                    .await
                    .map_err(|e| e.to_string())?;
                let response = app.call(request).await.map_err(|e| e.to_string())?;
                Ok::<_, String>(response.status())
            });
            async move { task.await.map_err(|e| format!("task failed: {e}"))? }
        })
        .await
    }

    /// Prerenders every listed path with `render_path`, the adapter's way of sending its app
    /// one `GET path` and telling the answer's status, at most `concurrency` at a time, logging
    /// progress. A `5xx` status or an error is reported as failed and never aborts the run.
    ///
    /// The futures run inside the one this returns (nothing is spawned), so they need not be
    /// `Send`: an adapter for a framework whose services are not `Send` (actix-web) calls its
    /// app directly. [`prerender`](Self::prerender) is this for tower services.
    ///
    /// ```
    /// use http::StatusCode;
    /// use isr_layer::static_params::StaticParams;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let params = StaticParams::new().route("/docs/{slug}", || async {
    ///     Ok(["a", "b", "broken"].map(|s| vec![("slug".to_owned(), s.to_owned())]).to_vec())
    /// })?;
    /// params.generate().await;
    /// let report = params
    ///     .prerender_with(2, |path| async move {
    ///         match path.as_str() {
    ///             "/docs/broken" => Ok::<_, std::io::Error>(StatusCode::BAD_GATEWAY),
    ///             _ => Ok(StatusCode::OK),
    ///         }
    ///     })
    ///     .await;
    /// assert_eq!(report.rendered, 2);
    /// assert_eq!(report.failed, [("/docs/broken".to_owned(), "status 502".to_owned())]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn prerender_with<F, Fut, E>(
        &self,
        concurrency: usize,
        mut render_path: F,
    ) -> PrerenderReport
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<StatusCode, E>>,
        E: fmt::Display,
    {
        let started = Instant::now();
        let mut pending = self.paths().into_iter();
        let total = pending.len();
        let limit = concurrency.max(1);
        let step = (total / 10).max(1);
        let mut running: Vec<(String, Pin<Box<Fut>>)> = Vec::with_capacity(limit.min(total));
        let mut report = PrerenderReport::default();
        poll_fn(|cx| {
            loop {
                while running.len() < limit {
                    let Some(path) = pending.next() else { break };
                    let render = Box::pin(render_path(path.clone()));
                    running.push((path, render));
                }
                let mut finished = false;
                let mut i = 0;
                while i < running.len() {
                    let Poll::Ready(outcome) = running[i].1.as_mut().poll(cx) else {
                        i += 1;
                        continue;
                    };
                    let (path, _) = running.swap_remove(i);
                    finished = true;
                    match outcome {
                        Ok(status) if status.is_server_error() => {
                            report.fail(path, format!("status {}", status.as_u16()));
                        }
                        Ok(_) => report.rendered += 1,
                        Err(e) => report.fail(path, e.to_string()),
                    }
                    let done = report.rendered + report.failed.len();
                    if done % step == 0 || done == total {
                        tracing::info!(target: "isr", "prerendered {done}/{total} ({} failed)", report.failed.len());
                    }
                }
                if running.is_empty() && pending.len() == 0 {
                    return Poll::Ready(());
                }
                // Finished renders made room: start the next ones before waiting.
                if !finished {
                    return Poll::Pending;
                }
            }
        })
        .await;
        report.took = started.elapsed();
        report
    }
}

impl PrerenderReport {
    fn fail(&mut self, path: String, why: String) {
        tracing::warn!(target: "isr", %path, %why, "prerender failed");
        self.failed.push((path, why));
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::Duration;

    use super::*;
    use crate::static_params::ParamSet;

    fn guides(n: usize) -> StaticParams {
        StaticParams::new()
            .route("/docs/{slug}", move || async move {
                Ok((0..n)
                    .map(|i| vec![("slug".to_owned(), format!("g{i}"))])
                    .collect::<Vec<ParamSet>>())
            })
            .unwrap()
    }

    /// The bound holds however many paths there are, and every path is asked for once.
    #[tokio::test(start_paused = true)]
    async fn at_most_concurrency_renders_run_at_once() {
        let params = guides(25);
        params.generate().await;
        let (now, most, calls) = (
            Rc::new(Cell::new(0)),
            Rc::new(Cell::new(0)),
            Rc::new(Cell::new(0)),
        );
        let report = params
            .prerender_with(4, |_path| {
                let (now, most, calls) = (Rc::clone(&now), Rc::clone(&most), Rc::clone(&calls));
                async move {
                    calls.set(calls.get() + 1);
                    now.set(now.get() + 1);
                    most.set(most.get().max(now.get()));
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    now.set(now.get() - 1);
                    Ok::<_, String>(StatusCode::OK)
                }
            })
            .await;
        assert_eq!((report.rendered, report.failed.len()), (25, 0));
        assert_eq!((calls.get(), most.get()), (25, 4));
    }

    #[tokio::test]
    async fn errors_and_server_errors_fail_their_page_only() {
        let params = guides(3);
        params.generate().await;
        let report = params
            .prerender_with(0, |path| async move {
                match path.as_str() {
                    "/docs/g0" => Err("connection refused"),
                    "/docs/g1" => Ok(StatusCode::SERVICE_UNAVAILABLE),
                    _ => Ok(StatusCode::NOT_FOUND),
                }
            })
            .await;
        assert_eq!(
            report.rendered, 1,
            "a 404 is an answer, cached like any page"
        );
        let mut failed = report.failed;
        failed.sort();
        assert_eq!(
            failed,
            [
                ("/docs/g0".to_owned(), "connection refused".to_owned()),
                ("/docs/g1".to_owned(), "status 503".to_owned()),
            ]
        );
    }

    #[tokio::test]
    async fn a_panicking_tower_service_fails_its_page_only() {
        let params = guides(2);
        params.generate().await;
        let app = tower::service_fn(|req: Request<String>| async move {
            assert_ne!(req.uri().path(), "/docs/g1", "the handler broke");
            Ok::<_, std::convert::Infallible>(Response::new(String::new()))
        });
        let report = params.prerender(app, 2).await;
        assert_eq!(report.rendered, 1);
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].0, "/docs/g1");
        assert!(
            report.failed[0].1.starts_with("task failed"),
            "{:?}",
            report.failed
        );
    }

    #[tokio::test]
    async fn nothing_listed_is_an_empty_report() {
        let report = StaticParams::new()
            .prerender_with(4, |_| async { Ok::<_, String>(StatusCode::OK) })
            .await;
        assert_eq!((report.rendered, report.failed.len()), (0, 0));
    }
}
