//! The purge endpoint as an actix resource, with the same JSON contract, secret and status
//! codes as the axum purge router (both are [`isr_layer::purge`]).

use actix_web::body::BodyLimitExceeded;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Resource, web};
use isr_layer::Revalidator;
use isr_layer::purge::{BodyError, PurgeAuth, PurgeEndpoint};

use crate::convert::{request_head, to_actix_reply};

/// The purge endpoint at `path`, to mount with `App::service` or `Scope::service`.
///
/// `POST` revalidates (`{"path": ..}`, `{"path": .., "type": "layout"}`, `{"tag": ..}`,
/// `{"tags": [..]}`, optional `"mode": "stale"`), `GET` lists entries (filtered with `?state=`,
/// `?tag=`, `?route=`, ordered with `?sort=`) or the counters (`?view=stats`); see
/// [`isr_layer::purge`] for the whole contract.
///
/// ```
/// use actix_web::App;
/// use isr_actix_adapter::{IsrActix, purge_resource};
/// use isr_layer::IsrLayer;
/// use isr_layer::purge::PurgeAuth;
///
/// let isr = IsrLayer::new();
/// let auth = PurgeAuth::new("a-long-random-secret").unwrap();
/// let app = App::new()
///     .wrap(IsrActix::new(isr.clone()))
///     .service(purge_resource("/api/revalidate", isr.revalidator(), auth));
/// ```
pub fn purge_resource(path: &str, revalidator: Revalidator, auth: PurgeAuth) -> Resource {
    web::resource(path)
        .app_data(web::Data::new(PurgeEndpoint::new(revalidator, auth)))
        .default_service(web::to(dispatch))
}

async fn dispatch(
    request: HttpRequest,
    payload: web::Payload,
    endpoint: web::Data<PurgeEndpoint>,
) -> HttpResponse {
    let Some(head) = request_head(request.head()) else {
        return HttpResponse::BadRequest()
            .insert_header((header::CACHE_CONTROL, "no-store, private"))
            .content_type("application/json")
            .body(r#"{"error":"the request head is not valid HTTP"}"#);
    };
    // Under the cache, the query (`secret`, `limit`) is not sent to renders: take it back.
    let render = actix_web::HttpMessage::extensions(&request)
        .get::<isr_layer::RenderContext>()
        .cloned();
    let uri = isr_layer::adapter::visitor_uri(head.uri(), render.as_ref());
    let reply = endpoint
        .answer(head.method(), &uri, head.headers(), |limit| {
            read_payload(payload, limit)
        })
        .await;
    to_actix_reply(reply.status, &reply.all_headers(), reply.body_bytes())
}

/// Reads a request body of at most `limit` bytes.
pub(crate) async fn read_payload(
    payload: web::Payload,
    limit: usize,
) -> Result<bytes::Bytes, BodyError> {
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(_)) => Err(BodyError::Broken),
        Err(BodyLimitExceeded { .. }) => Err(BodyError::TooLarge),
    }
}
