use isr_actix_adapter::revalidate;

#[revalidate(60)]
fn page() -> &'static str {
    "page"
}

fn main() {}
