use isr_axum::revalidate;

#[revalidate(-5)]
async fn page() -> &'static str {
    "page"
}

fn main() {}
