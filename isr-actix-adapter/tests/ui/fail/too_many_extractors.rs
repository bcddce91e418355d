use isr_actix_adapter::revalidate;

type R = actix_web::HttpRequest;

#[revalidate(60)]
async fn sixteen(
    _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R, _: R,
) -> &'static str {
    "sixteen"
}

fn main() {}
