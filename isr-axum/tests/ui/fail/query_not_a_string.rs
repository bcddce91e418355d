use isr_axum::revalidate;

#[revalidate(60, query = [page])]
async fn posts() -> &'static str {
    "posts"
}

fn main() {}
