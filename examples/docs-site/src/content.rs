//! The content source: an in-process stand-in for a CMS or an API, with a simulated latency.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use crate::handbook::{self, TOPICS, title_of};

/// One documentation guide.
#[derive(Clone, Debug, PartialEq)]
pub struct Guide {
    /// URL slug: `/docs/{slug}`.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Body, in Markdown (rendered to HTML by [`crate::views`], raw HTML shown as text).
    pub body: String,
    /// When it was last changed.
    pub updated: SystemTime,
}

/// One product of the shop.
#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    /// URL slug: `/products/{slug}`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Price in cents.
    pub price_cents: u64,
    /// Shown on the home page.
    pub featured: bool,
}

/// Where a guide belongs in the docs' navigation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// `getting-started`.
    Start,
    /// The topic guides.
    Guides,
    /// The recipes (`recipe-NN`).
    Recipes,
    /// Guides published later.
    More,
}

/// A guide as the docs' navigation lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuideLink {
    /// URL slug: `/docs/{slug}`.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Where it belongs in the navigation.
    pub section: Section,
}

/// Where a guide stands in the reading order: `getting-started`, the topics, the recipes, then
/// anything published later (by slug).
fn reading_order(slug: &str) -> (Section, usize) {
    if slug == "getting-started" {
        return (Section::Start, 0);
    }
    if let Some(i) = TOPICS.iter().position(|t| t.slug == slug) {
        return (Section::Guides, i);
    }
    match slug.strip_prefix("recipe-").and_then(|n| n.parse().ok()) {
        Some(n) => (Section::Recipes, n),
        None => (Section::More, 0),
    }
}

#[derive(Debug, Default)]
struct Data {
    guides: BTreeMap<String, Guide>,
    products: BTreeMap<String, Product>,
    fetches: u64,
}

/// The content source. Every read waits `latency`, like a call to a real CMS.
#[derive(Clone, Debug)]
pub struct Content {
    data: Arc<RwLock<Data>>,
    latency: Duration,
}

const PRODUCTS: [(&str, &str, u64, bool); 6] = [
    ("blue-sneakers", "Blue Sneakers", 8900, true),
    ("red-hat", "Red Hat", 2500, true),
    ("green-jacket", "Green Jacket", 12900, true),
    ("black-boots", "Black Boots", 15900, false),
    ("white-tee", "White Tee", 1900, false),
    ("yellow-scarf", "Yellow Scarf", 2900, false),
];

impl Content {
    /// The seeded content: 80 guides (including `getting-started`) and six products
    /// (including `blue-sneakers`).
    pub fn seeded(latency: Duration) -> Self {
        let mut data = Data::default();
        let now = SystemTime::now();
        let mut slugs = vec!["getting-started".to_owned()];
        slugs.extend(TOPICS.iter().map(|t| t.slug.to_owned()));
        let mut n = 1;
        while slugs.len() < 80 {
            slugs.push(format!("recipe-{n:02}"));
            n += 1;
        }
        for (i, slug) in slugs.iter().enumerate() {
            let slug = slug.clone();
            let title = title_of(&slug);
            let body = handbook::markdown(&slugs, i);
            data.guides.insert(
                slug.clone(),
                Guide {
                    slug,
                    title,
                    body,
                    updated: now,
                },
            );
        }
        for (slug, name, price_cents, featured) in PRODUCTS {
            data.products.insert(
                slug.to_owned(),
                Product {
                    slug: slug.to_owned(),
                    name: name.to_owned(),
                    price_cents,
                    featured,
                },
            );
        }
        Self {
            data: Arc::new(RwLock::new(data)),
            latency,
        }
    }

    async fn read<T>(&self, f: impl FnOnce(&Data) -> T) -> T {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let mut data = self.data.write().unwrap_or_else(PoisonError::into_inner);
        data.fetches += 1;
        f(&data)
    }

    fn write<T>(&self, f: impl FnOnce(&mut Data) -> T) -> T {
        f(&mut self.data.write().unwrap_or_else(PoisonError::into_inner))
    }

    /// One guide.
    pub async fn guide(&self, slug: &str) -> Option<Guide> {
        self.read(|d| d.guides.get(slug).cloned()).await
    }

    /// One guide and the list of every guide in reading order, in one round trip (what a guide
    /// page shows in its sidebar).
    pub async fn guide_with_index(&self, slug: &str) -> (Option<Guide>, Vec<GuideLink>) {
        self.read(|d| {
            let mut index: Vec<GuideLink> = d
                .guides
                .values()
                .map(|g| GuideLink {
                    slug: g.slug.clone(),
                    title: g.title.clone(),
                    section: reading_order(&g.slug).0,
                })
                .collect();
            index.sort_by_key(|g| reading_order(&g.slug));
            (d.guides.get(slug).cloned(), index)
        })
        .await
    }

    /// Every guide slug.
    pub async fn guide_slugs(&self) -> Vec<String> {
        self.read(|d| d.guides.keys().cloned().collect()).await
    }

    /// One product.
    pub async fn product(&self, slug: &str) -> Option<Product> {
        self.read(|d| d.products.get(slug).cloned()).await
    }

    /// The featured products, for the home page.
    pub async fn featured(&self) -> Vec<Product> {
        self.read(|d| {
            d.products
                .values()
                .filter(|p| p.featured)
                .cloned()
                .collect()
        })
        .await
    }

    /// Counts for the dashboard.
    pub async fn stats(&self) -> (usize, usize, u64) {
        self.read(|d| (d.guides.len(), d.products.len(), d.fetches))
            .await
    }

    /// Changes a product's price; `false` if there is no such product.
    pub fn set_price(&self, slug: &str, price_cents: u64) -> bool {
        self.write(|d| match d.products.get_mut(slug) {
            Some(p) => {
                p.price_cents = price_cents;
                true
            }
            None => false,
        })
    }

    /// Adds or replaces a guide.
    pub fn put_guide(&self, guide: Guide) {
        self.write(|d| d.guides.insert(guide.slug.clone(), guide));
    }

    /// How many reads the source has answered (each one a simulated round trip).
    pub fn fetches(&self) -> u64 {
        self.write(|d| d.fetches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_seed_has_what_the_handbook_uses() {
        let content = Content::seeded(Duration::ZERO);
        let slugs = content.guide_slugs().await;
        assert!(slugs.len() >= 80);
        assert!(slugs.contains(&"getting-started".to_owned()));
        assert_eq!(
            content.guide("getting-started").await.unwrap().title,
            "Getting Started"
        );
        assert!(content.product("blue-sneakers").await.is_some());
        assert!(
            content
                .guide("caching")
                .await
                .unwrap()
                .body
                .contains("## Overview")
        );
    }

    #[tokio::test]
    async fn the_index_is_in_reading_order() {
        let content = Content::seeded(Duration::ZERO);
        content.put_guide(Guide {
            slug: "guide-81".to_owned(),
            title: "Guide #81".to_owned(),
            body: String::new(),
            updated: SystemTime::now(),
        });
        let (guide, index) = content.guide_with_index("routing").await;
        assert_eq!(guide.unwrap().title, "Routing");
        let slugs: Vec<&str> = index.iter().map(|g| g.slug.as_str()).collect();
        assert_eq!(slugs.len(), 81);
        assert_eq!(
            slugs[..3],
            ["getting-started", "installation", "project-structure"]
        );
        assert_eq!(slugs[25..27], ["recipe-01", "recipe-02"]);
        assert_eq!(slugs[80], "guide-81");
        assert_eq!(content.guide_with_index("nope").await.0, None);
    }
}
