use isr_actix_adapter::revalidate;

type Params = std::collections::HashMap<String, String>;

#[revalidate(60, query = ["page"])]
async fn posts(query: actix_web::web::Query<Params>) -> String {
    format!("{:?}", query.get("page"))
}

#[revalidate(60, query = ["page"])]
async fn maybe(query: Option<actix_web::web::Query<Params>>) -> String {
    format!("{:?}", query.is_some())
}

fn main() {}
