//! The cache inspector as an actix scope (see [`isr_layer::inspector`]).

use actix_web::{HttpRequest, HttpResponse, Scope, web};
pub use isr_layer::inspector::{Inspector, InspectorError};

use crate::convert::{request_head, to_actix_reply};
use crate::purge::read_payload;

/// The inspector's scope (its page and actions under [`Inspector::path`]), to mount with
/// `App::service` beside the cache, not under `IsrActix`.
///
/// ```
/// use actix_web::App;
/// use isr_actix_adapter::{Inspector, inspector_scope};
/// use isr_layer::IsrLayer;
/// use isr_layer::purge::PurgeAuth;
///
/// let isr = IsrLayer::new();
/// let auth = PurgeAuth::new("a-long-random-secret").unwrap();
/// let inspector = Inspector::new("/_isr", isr.revalidator(), auth).unwrap();
/// let app = App::new().service(inspector_scope(inspector));
/// ```
pub fn inspector_scope(inspector: Inspector) -> Scope {
    web::scope(inspector.path())
        .app_data(web::Data::new(inspector))
        .default_service(web::to(dispatch))
}

async fn dispatch(
    request: HttpRequest,
    payload: web::Payload,
    inspector: web::Data<Inspector>,
) -> HttpResponse {
    let Some(head) = request_head(request.head()) else {
        return HttpResponse::BadRequest()
            .insert_header(("cache-control", "no-store, private"))
            .body("the request head is not valid HTTP\n");
    };
    let reply = inspector
        .answer(head.method(), head.uri(), head.headers(), |limit| {
            read_payload(payload, limit)
        })
        .await;
    to_actix_reply(reply.status, &reply.headers, reply.body)
}
