use isr_axum::revalidate;

#[revalidate(60)]
fn page() -> &'static str {
    "page"
}

fn main() {}
