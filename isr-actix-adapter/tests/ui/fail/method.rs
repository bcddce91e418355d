use isr_actix_adapter::revalidate;

struct Pages;

impl Pages {
    #[revalidate(60)]
    async fn page(&self) -> &'static str {
        "page"
    }
}

fn main() {}
