//! The pages' HTML, shared by the axum app and the actix example: MiniJinja templates (the
//! files under `templates/`, compiled into the binary) around guides written in Markdown.
//!
//! Every value a template interpolates is escaped (the templates are `.html`, so MiniJinja
//! escapes them automatically); the only markup passed through is the guides' HTML, which
//! [`crate::markdown`] makes from Markdown with raw HTML shown as text.

use std::sync::LazyLock;
use std::time::SystemTime;

use http::StatusCode;
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior, context};

use crate::content::{Guide, GuideLink, Product};
use crate::markdown;

/// The templates, by name.
const TEMPLATES: [(&str, &str); 8] = [
    ("style.css", include_str!("../templates/style.css")),
    ("base.html", include_str!("../templates/base.html")),
    ("sidebar.html", include_str!("../templates/sidebar.html")),
    ("guide.html", include_str!("../templates/guide.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("product.html", include_str!("../templates/product.html")),
    ("stats.html", include_str!("../templates/stats.html")),
    (
        "not_found.html",
        include_str!("../templates/not_found.html"),
    ),
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters are valid"),
    );
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name}: {e:#}"));
    }
    env
});

/// A rendered page: its status and its HTML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// The status to answer with.
    pub status: StatusCode,
    /// The page.
    pub html: String,
}

/// Renders `template` with the layout's values (`title`, `section`, `rendered_at`) and `values`.
fn render(
    template: &str,
    status: StatusCode,
    now: SystemTime,
    title: &str,
    section: &str,
    description: &str,
    values: Value,
) -> View {
    let layout = context! {
        title,
        section,
        description,
        rendered_at => httpdate::fmt_http_date(now),
    };
    let rendered = ENV
        .get_template(template)
        .and_then(|t| t.render(context! { ..values, ..layout }));
    match rendered {
        Ok(html) => View { status, html },
        Err(e) => {
            tracing::error!(
                template,
                error = format!("{e:#}"),
                "a page failed to render"
            );
            View {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                html: format!(
                    "<!doctype html>\n<title>Error</title>\n<p>{} could not be rendered.</p>\n",
                    escape(title)
                ),
            }
        }
    }
}

/// A price in cents as dollars.
pub fn price(cents: u64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

fn link(guide: &GuideLink) -> Value {
    context! { slug => guide.slug.as_str(), title => guide.title.as_str() }
}

/// The sidebar's groups of guides, in the index's order.
fn groups(index: &[GuideLink]) -> Value {
    let mut groups: Vec<(&str, Vec<Value>)> = Vec::new();
    for guide in index {
        let name = match guide.section {
            crate::content::Section::Start => "Start here",
            crate::content::Section::Guides => "Guides",
            crate::content::Section::Recipes => "Recipes",
            crate::content::Section::More => "More guides",
        };
        match groups.last_mut() {
            Some((last, guides)) if *last == name => guides.push(link(guide)),
            _ => groups.push((name, vec![link(guide)])),
        }
    }
    groups
        .into_iter()
        .map(|(name, guides)| context! { name, guides })
        .collect::<Vec<_>>()
        .into()
}

/// `GET /`: the home page featuring `featured`, and its tags: `all-products` and each featured
/// `product-{slug}`.
pub fn home_page(now: SystemTime, featured: &[Product]) -> (View, Vec<String>) {
    let mut tags: Vec<String> = vec!["all-products".to_owned()];
    tags.extend(featured.iter().map(|p| format!("product-{}", p.slug)));
    let featured: Vec<Value> = featured
        .iter()
        .map(|p| {
            context! {
                slug => p.slug.as_str(),
                name => p.name.as_str(),
                amount => price(p.price_cents),
            }
        })
        .collect();
    let view = render(
        "home.html",
        StatusCode::OK,
        now,
        "Home",
        "home",
        "The isr-rs shop and handbook: cached pages, regenerated in the background.",
        context! { featured },
    );
    (view, tags)
}

/// `GET /docs/{slug}`: the guide, with the sidebar of `index` (every guide in reading order);
/// a 404 page when there is no such guide.
pub fn guide_page(now: SystemTime, slug: &str, guide: Option<&Guide>, index: &[GuideLink]) -> View {
    let Some(guide) = guide else {
        return not_found(now, "guide", Some(slug), index);
    };
    let body = markdown::render(&guide.body);
    let toc: Vec<Value> = body
        .toc
        .iter()
        .map(|h| context! { id => h.id.as_str(), text => h.text.as_str() })
        .collect();
    let position = index.iter().position(|g| g.slug == guide.slug);
    let previous = position
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| index.get(i))
        .map(link);
    let next = position.and_then(|i| index.get(i + 1)).map(link);
    render(
        "guide.html",
        StatusCode::OK,
        now,
        &guide.title,
        "docs",
        &format!("{}: a guide of the isr-rs handbook.", guide.title),
        context! {
            slug => guide.slug.as_str(),
            updated => httpdate::fmt_http_date(guide.updated),
            content => Value::from_safe_string(body.html),
            toc,
            previous,
            next,
            groups => groups(index),
        },
    )
}

/// What the product page says about a product, from its name: a description and details.
fn product_details(product: &Product) -> (String, Vec<Value>) {
    let mut words = product.name.split_whitespace();
    let colour = words.next().unwrap_or("Plain");
    let kind = words.next_back().unwrap_or("item").to_lowercase();
    let (material, sizes, care) = match kind.as_str() {
        "sneakers" => (
            "Canvas upper, natural rubber sole",
            "EU 36 to 46",
            "Wipe clean; air dry",
        ),
        "boots" => (
            "Full-grain leather, stitched welt",
            "EU 37 to 47",
            "Brush, then wax once a season",
        ),
        "hat" => ("Wool felt, cotton band", "S, M, L", "Brush; keep its shape"),
        "jacket" => (
            "Waxed cotton, quilted lining",
            "XS to XXL",
            "Sponge clean; re-wax yearly",
        ),
        "tee" => (
            "Organic cotton jersey",
            "XS to XXL",
            "Machine wash at 30 °C",
        ),
        "scarf" => ("Merino wool", "One size", "Hand wash cold; dry flat"),
        _ => ("Mixed materials", "One size", "See the label"),
    };
    let description = format!(
        "{}, made to last and easy to pair. {}; available in {}. Shipped in recycled packaging.",
        product.name, material, sizes,
    );
    let rows = [
        ("Colour", colour),
        ("Material", material),
        ("Sizes", sizes),
        ("Care", care),
        ("Reference", product.slug.as_str()),
    ];
    let details = rows
        .into_iter()
        .map(|(label, value)| context! { label, value })
        .collect();
    (description, details)
}

/// `GET /products/{slug}`: the product; a 404 page when there is no such product.
pub fn product_page(now: SystemTime, product: Option<&Product>) -> View {
    let Some(product) = product else {
        return not_found(now, "product", None, &[]);
    };
    let (description, details) = product_details(product);
    render(
        "product.html",
        StatusCode::OK,
        now,
        &product.name,
        "products",
        &format!("{} at the isr-rs shop.", product.name),
        context! {
            slug => product.slug.as_str(),
            name => product.name.as_str(),
            amount => price(product.price_cents),
            description,
            details,
        },
    )
}

/// What the dashboard shows, kept in the data cache for `STATS_REVALIDATE` seconds (the same
/// entry, `dashboard-stats`, for the axum and the actix app).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    /// How many guides there are.
    pub guides: usize,
    /// How many products there are.
    pub products: usize,
    /// How many reads the content source had answered.
    pub fetches: u64,
    /// When these figures were fetched.
    pub fetched_at: SystemTime,
}

/// `GET /dashboard/stats`: the figures, for `visitor`.
pub fn stats_page(now: SystemTime, visitor: &str, stats: &Stats) -> View {
    render(
        "stats.html",
        StatusCode::OK,
        now,
        "Stats",
        "dashboard",
        "Figures of the isr-rs handbook's content source.",
        context! {
            visitor,
            guides => stats.guides,
            products => stats.products,
            fetches => stats.fetches,
            fetched_at => httpdate::fmt_http_date(stats.fetched_at),
        },
    )
}

/// A 404 page for a missing `what` ("guide", "product"); with the guides' sidebar when `index`
/// is not empty.
pub fn not_found(now: SystemTime, what: &str, slug: Option<&str>, index: &[GuideLink]) -> View {
    let groups = if index.is_empty() {
        Value::from(())
    } else {
        groups(index)
    };
    render(
        "not_found.html",
        StatusCode::NOT_FOUND,
        now,
        "Not found",
        if what == "guide" { "docs" } else { "products" },
        "There is nothing at this address.",
        context! { what, slug => slug.unwrap_or_default(), groups },
    )
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::content::Content;

    #[test]
    fn every_template_compiles() {
        for (name, _) in TEMPLATES {
            assert!(ENV.get_template(name).is_ok(), "{name}");
        }
    }

    #[tokio::test]
    async fn every_seeded_guide_is_a_page_of_10_to_40_kb() {
        let content = Content::seeded(Duration::ZERO);
        let (_, index) = content.guide_with_index("getting-started").await;
        assert_eq!(index.len(), 80);
        let now = SystemTime::now();
        for link in &index {
            let guide = content.guide(&link.slug).await.unwrap();
            let view = guide_page(now, &link.slug, Some(&guide), &index);
            assert_eq!(view.status, StatusCode::OK);
            let kb = view.html.len() / 1024;
            assert!(
                (10..40).contains(&kb),
                "{}: {} bytes",
                link.slug,
                view.html.len()
            );
            assert!(view.html.starts_with("<!doctype html>"));
            assert!(view.html.contains(&format!("<h1>{}</h1>", guide.title)));
            assert_eq!(view.html.matches("<h1>").count(), 1, "{}", link.slug);
            for absent in ["x-isr-cache", "X-Isr-Cache", "data-fetched-at"] {
                assert!(!view.html.contains(absent), "{absent} in {}", link.slug);
            }
            assert_eq!(view.html.matches("rendered-at").count(), 1);
        }
    }

    #[test]
    fn interpolated_text_is_escaped() {
        let now = SystemTime::now();
        let guide = Guide {
            slug: "x".to_owned(),
            title: "<script>alert(1)</script>".to_owned(),
            body: "<img src=x onerror=alert(1)>".to_owned(),
            updated: now,
        };
        let index = [GuideLink {
            slug: "x".to_owned(),
            title: "\"quoted\" & <b>bold</b>".to_owned(),
            section: crate::content::Section::More,
        }];
        let html = guide_page(now, "x", Some(&guide), &index).html;
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>bold"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        let stats = Stats {
            guides: 1,
            products: 2,
            fetches: 3,
            fetched_at: now,
        };
        let html = stats_page(now, "<ada>", &stats).html;
        assert!(html.contains("<h1>Stats for &lt;ada&gt;</h1>"), "{html}");
    }

    #[test]
    fn the_pages_keep_what_the_walk_through_greps_for() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_600_800);
        let product = Product {
            slug: "blue-sneakers".to_owned(),
            name: "Blue Sneakers".to_owned(),
            price_cents: 8900,
            featured: true,
        };
        let (home, tags) = home_page(now, std::slice::from_ref(&product));
        assert_eq!(tags, ["all-products", "product-blue-sneakers"]);
        let blue: Vec<&str> = home.html.lines().filter(|l| l.contains("Blue")).collect();
        assert_eq!(
            blue,
            ["<li><a href=\"/products/blue-sneakers\">Blue Sneakers</a> — $89.00</li>"]
        );
        let page = product_page(now, Some(&product)).html;
        let price: Vec<&str> = page.lines().filter(|l| l.contains("price")).collect();
        assert_eq!(price, ["<p class=\"amount\">price: $89.00</p>"]);
        let rendered: Vec<&str> = page.lines().filter(|l| l.contains("rendered-at")).collect();
        assert_eq!(
            rendered,
            ["<p>rendered-at: Wed, 25 Nov 2026 10:00:00 GMT</p>"]
        );
        let missing = product_page(now, None);
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(missing.html.contains("<h1>No such product</h1>"));
    }
}
