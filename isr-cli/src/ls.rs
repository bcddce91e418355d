//! `isr ls`: the cached entries as an aligned table, or JSON.

use crate::app::{App, EntryRow, ListQuery, Listing, RevalidateField};
use crate::cli::LsArgs;
use crate::failure::Failure;
use crate::format::{self, Align, Table};
use crate::output::emit;

/// Lists the entries `args` asks for.
pub(crate) async fn run(app: &App, args: &LsArgs) -> Result<(), Failure> {
    let query = ListQuery {
        state: args.state,
        tag: args.tag.clone(),
        route: args.route.clone(),
        sort: args.sort,
        limit: args.limit,
    };
    if args.json {
        let answer = app.list_json(&query).await?;
        emit(&format!("{answer:#}\n"))?;
        return Ok(());
    }
    let listing = app.list(&query).await?;
    if !listing.entries.is_empty() {
        emit(&table(&listing.entries))?;
    }
    if let Some(note) = footnote(&listing) {
        eprintln!("{note}");
    }
    Ok(())
}

/// The entries as a table.
pub(crate) fn table(entries: &[EntryRow]) -> String {
    let mut table = Table::new(&[
        ("KEY", Align::Left),
        ("ROUTE", Align::Left),
        ("STATE", Align::Left),
        ("AGE", Align::Right),
        ("REVALIDATE", Align::Right),
        ("BYTES", Align::Right),
        ("TAGS", Align::Left),
    ]);
    for entry in entries {
        table.row(vec![
            entry.key.clone(),
            entry.route.clone().unwrap_or_else(|| "-".to_owned()),
            entry.state.clone(),
            format::age(entry.age),
            revalidate(entry.revalidate),
            format::bytes(entry.bytes),
            if entry.tags.is_empty() {
                "-".to_owned()
            } else {
                entry.tags.join(",")
            },
        ]);
    }
    table.render()
}

/// An entry's revalidate time as an operator reads it.
fn revalidate(field: RevalidateField) -> String {
    match field {
        RevalidateField::Secs(0) => "dynamic".to_owned(),
        RevalidateField::Secs(secs) => format::age(secs),
        RevalidateField::Never(_) => "never".to_owned(),
    }
}

/// What the table does not show: entries past the limit, or that nothing matched.
fn footnote(listing: &Listing) -> Option<String> {
    match listing.matched {
        Some(0) => Some("no entry matches".to_owned()),
        Some(matched) if matched > listing.count => Some(format!(
            "{} of {matched} matching entries shown (raise --limit to see more)",
            listing.count
        )),
        None if listing.count == 0 => Some("no entry is cached".to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, revalidate: RevalidateField, tags: &[&str]) -> EntryRow {
        EntryRow {
            key: key.to_owned(),
            route: None,
            age: 75,
            revalidate,
            state: "fresh".to_owned(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            bytes: 2048,
        }
    }

    #[test]
    fn the_table_lines_up_and_reads_like_an_operator_speaks() {
        let text = table(&[
            row(
                "/docs/getting-started",
                RevalidateField::Secs(1800),
                &["docs"],
            ),
            row(
                "/",
                RevalidateField::Never(false),
                &["all-products", "product-x"],
            ),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "KEY                    ROUTE  STATE    AGE  REVALIDATE    BYTES  TAGS",
                "/docs/getting-started  -      fresh  1m15s         30m  2.0 KiB  docs",
                "/                      -      fresh  1m15s       never  2.0 KiB  all-products,product-x",
            ]
        );
        assert_eq!(revalidate(RevalidateField::Secs(0)), "dynamic");
    }

    #[test]
    fn the_footnote_says_what_is_not_shown() {
        let listing = |count, matched| Listing {
            count,
            matched,
            entries: Vec::new(),
        };
        assert_eq!(footnote(&listing(10, Some(10))), None);
        assert_eq!(
            footnote(&listing(10, Some(25))).unwrap(),
            "10 of 25 matching entries shown (raise --limit to see more)"
        );
        assert_eq!(footnote(&listing(0, Some(0))).unwrap(), "no entry matches");
        assert_eq!(footnote(&listing(0, None)).unwrap(), "no entry is cached");
    }
}
