use isr_axum::revalidate;

#[revalidate(forever)]
async fn page() -> &'static str {
    "page"
}

fn main() {}
