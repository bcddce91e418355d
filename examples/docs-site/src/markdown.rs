//! Markdown to HTML with `pulldown-cmark`, safe for text from a CMS: raw HTML is shown as text,
//! links and images keep only harmless destinations, and the page's single `<h1>` stays the
//! page's own (a level-one heading in the text becomes a level two).

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// One entry of a guide's table of contents: a level-two heading and its anchor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heading {
    /// The `id` of the heading, for `#anchor` links.
    pub id: String,
    /// The heading's text.
    pub text: String,
}

/// Rendered Markdown: the HTML and the level-two headings, in order.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    /// The HTML.
    pub html: String,
    /// The table of contents.
    pub toc: Vec<Heading>,
}

/// Whether a link or image destination is safe to put in a page: relative, a fragment, or
/// `http`, `https` or `mailto` (never `javascript:` or `data:`).
fn safe_destination(dest: &str) -> bool {
    let dest = dest.trim_start();
    match dest.find([':', '/', '?', '#']) {
        Some(i) if dest.as_bytes()[i] == b':' => {
            let scheme = dest[..i].to_ascii_lowercase();
            matches!(scheme.as_str(), "http" | "https" | "mailto")
        }
        _ => true,
    }
}

/// An anchor for a heading's text: lower case letters and digits joined by `-`.
fn anchor(text: &str) -> String {
    let mut id = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c.to_ascii_lowercase());
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
    }
    let id = id.trim_end_matches('-');
    if id.is_empty() {
        "section".to_owned()
    } else {
        id.to_owned()
    }
}

/// Renders `markdown` to HTML (tables and strikethrough enabled).
pub fn render(markdown: &str) -> Rendered {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut events: Vec<Event<'_>> = Parser::new_ext(markdown, options)
        .map(|event| match event {
            Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) if !safe_destination(&dest_url) => Event::Start(Tag::Link {
                link_type,
                dest_url: CowStr::Borrowed("#"),
                title,
                id,
            }),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) if !safe_destination(&dest_url) => Event::Start(Tag::Image {
                link_type,
                dest_url: CowStr::Borrowed("#"),
                title,
                id,
            }),
            Event::Start(Tag::Heading {
                level: HeadingLevel::H1,
                id,
                classes,
                attrs,
            }) => Event::Start(Tag::Heading {
                level: HeadingLevel::H2,
                id,
                classes,
                attrs,
            }),
            Event::End(TagEnd::Heading(HeadingLevel::H1)) => {
                Event::End(TagEnd::Heading(HeadingLevel::H2))
            }
            other => other,
        })
        .collect();

    // Give every heading an anchor, unique in the page, and list the level-two ones.
    let mut toc = Vec::new();
    let mut used: Vec<String> = Vec::new();
    let mut i = 0;
    while i < events.len() {
        if let Event::Start(Tag::Heading { level, .. }) = &events[i] {
            let level = *level;
            let mut text = String::new();
            for event in &events[i + 1..] {
                match event {
                    Event::End(TagEnd::Heading(_)) => break,
                    Event::Text(t) | Event::Code(t) => text.push_str(t),
                    _ => {}
                }
            }
            let base = anchor(&text);
            let mut id = base.clone();
            let mut n = 2;
            while used.contains(&id) {
                id = format!("{base}-{n}");
                n += 1;
            }
            used.push(id.clone());
            if level == HeadingLevel::H2 {
                toc.push(Heading {
                    id: id.clone(),
                    text,
                });
            }
            if let Event::Start(Tag::Heading { id: slot, .. }) = &mut events[i] {
                *slot = Some(CowStr::from(id));
            }
        }
        i += 1;
    }

    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    Rendered { html, toc }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_headings_with_anchors_lists_tables_and_code() {
        let out = render(
            "Intro\n\n## How it works\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n\
             ```rust\nlet x = 1 < 2;\n```\n\n## How it works\n",
        );
        assert!(
            out.html
                .contains("<h2 id=\"how-it-works\">How it works</h2>")
        );
        assert!(out.html.contains("<h2 id=\"how-it-works-2\">"));
        assert!(out.html.contains("<li>one</li>"));
        assert!(out.html.contains("<table>"));
        assert!(out.html.contains("let x = 1 &lt; 2;"));
        assert_eq!(out.toc.len(), 2);
        assert_eq!(out.toc[0].id, "how-it-works");
    }

    #[test]
    fn text_from_a_cms_cannot_inject_markup() {
        let out = render(
            "# Title\n\n<script>alert(1)</script>\n\nHi <b onclick=\"x\">there</b>\n\n\
             [click](javascript:alert(1)) [ok](/docs/routing) [web](https://example.com) \
             ![img](data:text/html,x)",
        );
        assert!(!out.html.contains("<h1"), "{}", out.html);
        assert!(!out.html.contains("<script"), "{}", out.html);
        assert!(!out.html.contains("<b "), "{}", out.html);
        assert!(out.html.contains("&lt;script&gt;"), "{}", out.html);
        assert!(!out.html.contains("javascript:"), "{}", out.html);
        assert!(!out.html.contains("data:"), "{}", out.html);
        assert!(out.html.contains("href=\"/docs/routing\""));
        assert!(out.html.contains("href=\"https://example.com\""));
    }
}
