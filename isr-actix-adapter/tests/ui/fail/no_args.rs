use isr_actix_adapter::revalidate;

#[revalidate]
async fn page() -> &'static str {
    "page"
}

fn main() {}
