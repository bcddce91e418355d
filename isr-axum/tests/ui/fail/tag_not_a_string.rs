use isr_axum::revalidate;

#[revalidate(60, tags = ["products", 7])]
async fn page() -> &'static str {
    "page"
}

fn main() {}
