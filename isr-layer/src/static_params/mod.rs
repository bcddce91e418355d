//! Static params: Next.js `generateStaticParams` and `dynamicParams`, for any framework.
//!
//! A [`StaticParams`] lists the known pages of parameterised routes (`/docs/{slug}`): an async
//! generator per route pattern gives its parameter sets, [`StaticParams::generate`] turns them
//! into canonical paths. Then:
//!
//! - **prerender** renders every listed page through the real app at start-up, so the first
//!   visitor of each gets a `HIT`. It goes through the cache like any visitor: a page already
//!   good in the store (a warm restart with a persistent one) is answered from it and not
//!   rendered again, and concurrent visitors of a page being prerendered wait for that one
//!   render. At most `concurrency` pages are asked for at once; the [`PrerenderReport`] says
//!   how many were answered, which failed (a `5xx`, an error or a panic) and why, and how long
//!   it took. A failure never aborts the run.
//! - **`dynamic_params(false)`** answers an unlisted path of that route `404 Not Found` without
//!   its handler running ([`StaticParamsLayer`] for tower, a middleware in each framework
//!   crate); inside the cache, that `404` is cached like any page. With `dynamic_params(true)`
//!   (the default) an unlisted path renders on its first visit and is then cached.
//! - [`StaticParams::refresh_on_revalidation`] re-runs a route's generator when a revalidation
//!   covers its prefix, so a page published later joins the list.
//!
//! The listing knows nothing of a framework. Renders go through [`StaticParams::prerender`]
//! for tower services and [`StaticParams::prerender_with`] for any other: `isr-axum` and
//! `isr-actix-adapter` each wrap this type in a `StaticParams` of their own whose `prerender`
//! takes their app (an axum `Router`, an actix-web `App`) and whose layer or middleware
//! enforces `dynamic_params(false)`.
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use isr_layer::IsrLayer;
//! use isr_layer::static_params::StaticParams;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let params = StaticParams::new()
//!     .route("/docs/{slug}", || async {
//!         Ok(["getting-started", "routing"]
//!             .map(|slug| vec![("slug".to_owned(), slug.to_owned())])
//!             .to_vec())
//!     })?
//!     .dynamic_params(false);
//! params.generate().await;
//!
//! let calls = Arc::new(AtomicUsize::new(0));
//! let counted = Arc::clone(&calls);
//! let isr = IsrLayer::new();
//! let app = ServiceBuilder::new()
//!     .layer(isr.clone())
//!     .layer(params.layer())
//!     .service(service_fn(move |req: Request<Full<Bytes>>| {
//!         counted.fetch_add(1, Ordering::SeqCst);
//!         let page = format!("<h1>{}</h1>", req.uri().path());
//!         async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(page)))) }
//!     }));
//!
//! let report = params.prerender(app.clone(), 16).await;
//! assert_eq!((report.rendered, report.failed.len()), (2, 0));
//!
//! let visit = |path: &str| Request::get(path).body(Full::default()).unwrap();
//! let first = app.clone().oneshot(visit("/docs/routing")).await?;
//! assert_eq!(first.headers()["x-isr-cache"], "HIT");
//! let unlisted = app.oneshot(visit("/docs/not-a-guide")).await?;
//! assert_eq!(unlisted.status(), StatusCode::NOT_FOUND);
//! assert_eq!(calls.load(Ordering::SeqCst), 2, "the handler never ran for the unlisted path");
//! # Ok(())
//! # }
//! ```

mod future;
mod layer;
mod list;
mod pattern;
mod prerender;

pub use self::future::ResponseFuture;
pub use self::layer::{StaticParamsLayer, StaticParamsService};
pub use self::list::{GeneratorError, ParamSet, StaticParams};
pub use self::pattern::PatternError;
pub use self::prerender::PrerenderReport;
