use isr_axum::revalidate;

#[revalidate("60")]
async fn page() -> &'static str {
    "page"
}

fn main() {}
