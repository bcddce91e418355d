//! The actix middleware: the engine's steps for actix requests.

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use isr_layer::IsrLayer;
use isr_layer::adapter::{Lookup, Served};

use crate::body::{ActixBody, HttpBody};
use crate::convert::{
    ActixHead, detached_request, prepare_render, to_actix_answer, to_actix_response,
};
use crate::future::IsrActixFuture;
use crate::render::{ActixRender, Returned};

/// Incremental Static Regeneration for an actix-web app: `App::new().wrap(IsrActix::new(isr))`.
///
/// `isr` is the same [`IsrLayer`] handle a tower app would use: its store, revalidator, data
/// cache and stats are shared by every worker (and with any tower service it also wraps).
///
/// ```
/// use actix_web::{App, web};
/// use isr_actix_adapter::IsrActix;
/// use isr_layer::IsrLayer;
///
/// let isr = IsrLayer::new();
/// let app = App::new()
///     .wrap(IsrActix::new(isr.clone()))
///     .route("/", web::get().to(|| async { "rendered once, then served from the cache" }));
/// ```
#[derive(Clone, Debug)]
pub struct IsrActix {
    isr: IsrLayer,
}

impl IsrActix {
    /// The middleware for this cache.
    pub fn new(isr: IsrLayer) -> Self {
        Self { isr }
    }
}

impl<S, B> Transform<S, ServiceRequest> for IsrActix
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<ActixBody<B>>;
    type Error = Error;
    type Transform = IsrActixService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(IsrActixService {
            service: Rc::new(service),
            isr: self.isr.clone(),
        }))
    }
}

/// The service made by [`IsrActix`].
#[derive(Debug)]
pub struct IsrActixService<S> {
    service: Rc<S>,
    isr: IsrLayer,
}

impl<S, B> Service<ServiceRequest> for IsrActixService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<ActixBody<B>>;
    type Error = Error;
    type Future = IsrActixFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        match self
            .isr
            .lookup::<_, HttpBody<B>>(&ActixHead(request.head()))
        {
            Lookup::Hit(answer)
            | Lookup::Stale {
                answer,
                regeneration: None,
            } => IsrActixFuture::ready(request.into_response(to_actix_answer(answer))),
            Lookup::Stale {
                answer,
                regeneration: Some(regeneration),
            } => {
                // The visitor's request renders the page in the background; the visitor is
                // answered now, with a copy of its request's head.
                let visitor = detached_request(request.head().clone());
                prepare_render(&mut request, regeneration.rewrite());
                regeneration.spawn_local(ActixRender {
                    service: Rc::clone(&self.service),
                    request,
                    returned: None,
                });
                IsrActixFuture::ready(ServiceResponse::new(visitor, to_actix_answer(answer)))
            }
            Lookup::Bypass(_) => IsrActixFuture::bypass(self.service.call(request)),
            Lookup::Render(visit) => {
                let head_request = request.method() == actix_web::http::Method::HEAD;
                let head = request.head().clone();
                prepare_render(&mut request, visit.rewrite());
                let returned = Returned::default();
                let render = ActixRender {
                    service: Rc::clone(&self.service),
                    request,
                    returned: Some(Rc::clone(&returned)),
                };
                IsrActixFuture::render(Box::pin(async move {
                    let Served { response, unused } = visit.serve_local(render).await;
                    // Answer with the visitor's own request: back from its render, or unused;
                    // a copy if it went to a background regeneration.
                    let request = match unused {
                        Some(render) => render.request.into_parts().0,
                        None => returned.take().unwrap_or_else(|| detached_request(head)),
                    };
                    Ok(ServiceResponse::new(
                        request,
                        to_actix_response(response?, head_request),
                    ))
                }))
            }
        }
    }
}
