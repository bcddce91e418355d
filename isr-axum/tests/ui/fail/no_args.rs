use isr_axum::revalidate;

#[revalidate]
async fn page() -> &'static str {
    "page"
}

fn main() {}
