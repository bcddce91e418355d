//! Static params through an actix-web app: prerender at start-up, `dynamic_params(false)`,
//! the report of failures. On tokio's paused clock, inside a `LocalSet` as actix runs.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web};
use isr_actix_adapter::{IsrActix, ParamSet, StaticParams};
use isr_layer::{IsrLayer, Revalidate};

/// Handler calls per path.
#[derive(Default)]
struct Calls(std::sync::Mutex<std::collections::HashMap<String, usize>>);

impl Calls {
    fn of(&self, path: &str) -> usize {
        self.0.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    fn all(&self) -> usize {
        self.0.lock().unwrap().values().sum()
    }
}

fn guides(dynamic_params: bool) -> StaticParams {
    StaticParams::new()
        .route("/docs/{slug}", || async {
            Ok(
                ["getting-started", "routing", "caching", "broken", "panics"]
                    .into_iter()
                    .map(|s| vec![("slug".to_owned(), s.to_owned())])
                    .collect::<Vec<ParamSet>>(),
            )
        })
        .unwrap()
        .dynamic_params(dynamic_params)
}

async fn guide(calls: web::Data<Arc<Calls>>, slug: web::Path<String>) -> HttpResponse {
    *calls
        .0
        .lock()
        .unwrap()
        .entry(format!("/docs/{slug}"))
        .or_default() += 1;
    match slug.as_str() {
        "broken" => HttpResponse::InternalServerError().body("broken"),
        "panics" => panic!("the guide's template is missing"),
        _ => HttpResponse::Ok().body(format!("guide {slug}")),
    }
}

fn app(
    isr: &IsrLayer,
    params: &StaticParams,
    calls: &Arc<Calls>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody + use<>>,
        Error = actix_web::Error,
        InitError = (),
    > + use<>,
> {
    App::new()
        .app_data(web::Data::new(Arc::clone(calls)))
        .route("/docs/{slug}", web::get().to(guide))
        .wrap(params.middleware())
        .wrap(IsrActix::new(isr.clone()))
}

fn cache() -> IsrLayer {
    IsrLayer::builder()
        .revalidate(Revalidate::secs(3600))
        .build()
        .unwrap()
}

/// `(status, x-isr-cache)` of `GET path` through a started `app`.
async fn visit<S, B>(app: &S, path: &str) -> (u16, String)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: MessageBody,
{
    let response = test::call_service(app, test::TestRequest::get().uri(path).to_request()).await;
    let cache = response
        .headers()
        .get("x-isr-cache")
        .map_or("-", |v| v.to_str().unwrap())
        .to_owned();
    (response.status().as_u16(), cache)
}

#[tokio::test(start_paused = true)]
async fn prerender_renders_every_listed_path_once_then_the_app_hits() {
    tokio::task::LocalSet::new()
        .run_until(async {
            let (isr, params, calls) = (cache(), guides(true), Arc::new(Calls::default()));
            assert_eq!(params.generate().await, 5);
            let report = params.prerender(app(&isr, &params, &calls), 2).await;
            assert_eq!(report.rendered, 3);
            let mut failed = report.failed.clone();
            failed.sort();
            assert_eq!(
                failed[0],
                ("/docs/broken".to_owned(), "status 500".to_owned())
            );
            assert_eq!(failed[1].0, "/docs/panics");
            assert!(failed[1].1.starts_with("task failed"), "{failed:?}");
            for path in ["/docs/getting-started", "/docs/routing", "/docs/caching"] {
                assert_eq!(calls.of(path), 1, "{path}");
            }

            // The server's workers build their own instance of the app over the same cache.
            let served = test::init_service(app(&isr, &params, &calls)).await;
            for path in ["/docs/getting-started", "/docs/routing", "/docs/caching"] {
                assert_eq!(
                    visit(&served, path).await,
                    (200, "HIT".to_owned()),
                    "{path}"
                );
            }
            // A restart over a store that kept the pages renders nothing still good.
            let again = params.prerender(app(&isr, &params, &calls), 8).await;
            assert_eq!(again.rendered, 3);
            assert_eq!(calls.all(), 3 + 2 + 2, "only the two failures render again");
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn dynamic_params_false_answers_404_without_calling_the_handler() {
    tokio::task::LocalSet::new()
        .run_until(async {
            let (isr, params, calls) = (cache(), guides(false), Arc::new(Calls::default()));
            params.generate().await;
            let served = test::init_service(app(&isr, &params, &calls)).await;
            assert_eq!(
                visit(&served, "/docs/not-a-guide").await,
                (404, "MISS".to_owned())
            );
            assert_eq!(
                visit(&served, "/docs/not-a-guide").await,
                (404, "HIT".to_owned()),
                "the 404 is cached"
            );
            assert_eq!(calls.all(), 0);
            assert_eq!(
                visit(&served, "/docs/routing").await,
                (200, "MISS".to_owned())
            );
            assert_eq!(calls.of("/docs/routing"), 1);
            // Another spelling of an unlisted path is refused too: the cache checks its
            // canonical form.
            assert_eq!(visit(&served, "/docs//not-a-guide/").await.0, 404);
            assert_eq!(calls.all(), 1);
        })
        .await;
}

#[tokio::test(start_paused = true)]
async fn dynamic_params_true_renders_an_unlisted_path_once_then_caches_it() {
    tokio::task::LocalSet::new()
        .run_until(async {
            let (isr, params, calls) = (cache(), guides(true), Arc::new(Calls::default()));
            params.generate().await;
            let served = test::init_service(app(&isr, &params, &calls)).await;
            assert_eq!(
                visit(&served, "/docs/brand-new").await,
                (200, "MISS".to_owned())
            );
            assert_eq!(
                visit(&served, "/docs/brand-new").await,
                (200, "HIT".to_owned())
            );
            assert_eq!(calls.of("/docs/brand-new"), 1);
        })
        .await;
}

#[tokio::test]
async fn the_middleware_without_the_cache_still_refuses() {
    tokio::task::LocalSet::new()
        .run_until(async {
            let params = guides(false);
            params.generate().await;
            let calls = Arc::new(Calls::default());
            let bare = test::init_service(
                App::new()
                    .app_data(web::Data::new(Arc::clone(&calls)))
                    .route("/docs/{slug}", web::get().to(guide))
                    .wrap(params.middleware()),
            )
            .await;
            let response = test::call_service(
                &bare,
                test::TestRequest::get().uri("/docs/nope").to_request(),
            )
            .await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND);
            assert_eq!(test::read_body(response).await, "Not Found");
            assert_eq!(calls.all(), 0);
        })
        .await;
}
