//! Reading a sitemap (sitemaps.org protocol 0.9): the `<loc>` of every `<url>`, with an XML
//! parser, so entities, CDATA, comments and namespace prefixes are read as XML reads them.

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;

/// What a sitemap document lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Sitemap {
    /// A `<urlset>`: the pages' URLs, in document order.
    Pages(Vec<String>),
    /// A `<sitemapindex>`: the URLs of other sitemaps.
    Index(Vec<String>),
}

/// The `<loc>` values of a `<urlset>` or `<sitemapindex>` document, trimmed, empty ones left out.
pub(crate) fn parse(xml: &[u8]) -> Result<Sitemap, String> {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut root: Option<String> = None;
    // The element names from the root down to the current one (local names, no prefix).
    let mut open: Vec<String> = Vec::new();
    let mut loc: Option<String> = None;
    let mut locs = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            format!(
                "not well-formed XML (at byte {}): {e}",
                reader.error_position()
            )
        })?;
        match event {
            Event::Start(start) => {
                let name = start.local_name().as_ref().to_owned();
                if root.is_none() {
                    if name != "urlset" && name != "sitemapindex" {
                        return Err(format!(
                            "not a sitemap: the root element is <{name}>, not <urlset> or \
                             <sitemapindex>"
                        ));
                    }
                    root = Some(name.clone());
                }
                if name == "loc" && open.len() == 2 {
                    loc = Some(String::new());
                }
                open.push(name);
            }
            Event::Empty(start) if root.is_none() => {
                let name = start.local_name().as_ref().to_owned();
                return Err(format!(
                    "not a sitemap: the root element <{name}/> is empty"
                ));
            }
            Event::End(_) => {
                if open.pop().as_deref() == Some("loc")
                    && let Some(text) = loc.take()
                {
                    let text = text.trim();
                    if !text.is_empty() {
                        locs.push(text.to_owned());
                    }
                }
            }
            Event::Text(text) => {
                if let Some(loc) = &mut loc {
                    loc.push_str(&text.xml_content(XmlVersion::Implicit1_0));
                }
            }
            Event::CData(data) => {
                if let Some(loc) = &mut loc {
                    loc.push_str(&data.xml_content(XmlVersion::Implicit1_0));
                }
            }
            Event::GeneralRef(reference) => {
                if let Some(loc) = &mut loc {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        Ok(None) => resolve_predefined_entity(&reference)
                            .ok_or_else(|| format!("unknown entity &{};", &*reference))?
                            .to_owned(),
                        Err(e) => return Err(format!("bad character reference: {e}")),
                    };
                    loc.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    match root.as_deref() {
        Some("urlset") if open.is_empty() => Ok(Sitemap::Pages(locs)),
        Some("sitemapindex") if open.is_empty() => Ok(Sitemap::Index(locs)),
        Some(_) => Err("not well-formed XML: the document ends inside an element".to_owned()),
        None => Err("not a sitemap: no root element".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urlset_lists_its_locs_in_order() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
            <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
              <!-- the docs -->
              <url><loc>https://example.com/docs/a</loc><lastmod>2024-01-01</lastmod></url>
              <url>
                <loc>
                  https://example.com/search?q=a&amp;page=2
                </loc>
                <changefreq>daily</changefreq>
              </url>
              <url><loc><![CDATA[https://example.com/b?x=<1>]]></loc></url>
              <url><loc>https://example.com/caf&#xE9;</loc></url>
              <url><loc></loc></url>
            </urlset>"#;
        assert_eq!(
            parse(xml),
            Ok(Sitemap::Pages(vec![
                "https://example.com/docs/a".to_owned(),
                "https://example.com/search?q=a&page=2".to_owned(),
                "https://example.com/b?x=<1>".to_owned(),
                "https://example.com/café".to_owned(),
            ]))
        );
    }

    #[test]
    fn prefixed_names_and_other_elements_named_loc() {
        let xml = br#"<sm:urlset xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9"
                        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
              <sm:url>
                <sm:loc>http://127.0.0.1:3000/a</sm:loc>
                <image:image><image:loc>http://cdn.example/a.png</image:loc></image:image>
              </sm:url>
            </sm:urlset>"#;
        assert_eq!(
            parse(xml),
            Ok(Sitemap::Pages(vec!["http://127.0.0.1:3000/a".to_owned()]))
        );
    }

    #[test]
    fn an_index_lists_sitemaps() {
        let xml = br#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
              <sitemap><loc>https://example.com/sitemap-docs.xml</loc></sitemap>
            </sitemapindex>"#;
        assert_eq!(
            parse(xml),
            Ok(Sitemap::Index(vec![
                "https://example.com/sitemap-docs.xml".to_owned()
            ]))
        );
    }

    #[test]
    fn bad_documents_say_why() {
        for (xml, expect) in [
            (
                &b"<html><body>404</body></html>"[..],
                "root element is <html>",
            ),
            (b"<urlset><url><loc>x</url></urlset>", "not well-formed"),
            (b"<urlset><url><loc>x</loc></url>", "ends inside an element"),
            (b"", "no root element"),
            (b"<urlset/>", "is empty"),
            (
                b"<urlset><url><loc>&nbsp;</loc></url></urlset>",
                "unknown entity",
            ),
            (b"just text", "no root element"),
        ] {
            let error = parse(xml).unwrap_err();
            assert!(
                error.contains(expect),
                "{:?}: {error}",
                String::from_utf8_lossy(xml)
            );
        }
    }
}
