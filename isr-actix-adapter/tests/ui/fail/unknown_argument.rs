use isr_actix_adapter::revalidate;

#[revalidate(60, tag = ["products"])]
async fn page() -> &'static str {
    "page"
}

fn main() {}
