//! `isr purge`: one revalidation, and what the app answered.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;

use crate::app::{App, PurgeTarget};
use crate::cli::PurgeArgs;
use crate::failure::Failure;
use crate::output::emit;

/// Sends the revalidation `args` asks for and prints the answer.
pub(crate) async fn run(app: &App, args: &PurgeArgs) -> Result<(), Failure> {
    let target = match (&args.path, &args.layout) {
        (Some(path), _) => PurgeTarget::Page(path.clone()),
        (None, Some(path)) => PurgeTarget::Layout(path.clone()),
        // clap requires exactly one of the three.
        (None, None) => PurgeTarget::Tags(args.tag.clone()),
    };
    let answer = app.purge(&target, args.stale).await?;
    if args.json {
        emit(&format!("{answer:#}\n"))?;
    } else {
        emit(&render(&answer))?;
    }
    Ok(())
}

/// The app's answer, one field a line.
pub(crate) fn render(answer: &Value) -> String {
    let text = |name: &str| answer.get(name).and_then(Value::as_str);
    let target = match (text("path"), answer.get("tags").and_then(Value::as_array)) {
        (Some(path), _) => match text("type") {
            Some("layout") => format!("every page under {path}"),
            _ => format!("page {path}"),
        },
        (None, Some(tags)) => {
            let tags: Vec<&str> = tags.iter().filter_map(Value::as_str).collect();
            format!("pages tagged {}", tags.join(", "))
        }
        (None, None) => "?".to_owned(),
    };
    let affected = match answer.get("affected") {
        Some(Value::Number(n)) => format!("{n} cached here"),
        _ => "not counted (a purge by tag or layout is one stamp, not a scan)".to_owned(),
    };
    let mode = match text("mode") {
        Some("stale") => "stale (the old page is served while one regeneration runs)",
        Some("expire") | None => "expire (the next visitor waits for a fresh render)",
        Some(other) => other,
    };
    let mut out = String::new();
    let revalidated = answer.get("revalidated") == Some(&Value::Bool(true));
    let _ = writeln!(
        out,
        "{}  {target}",
        if revalidated {
            "revalidated"
        } else {
            "answered"
        }
    );
    let _ = writeln!(out, "mode         {mode}");
    let _ = writeln!(out, "affected     {affected}");
    if let Some(at) = answer.get("at").and_then(Value::as_u64) {
        let at = UNIX_EPOCH + Duration::from_millis(at);
        let _ = writeln!(out, "at           {}", httpdate::fmt_http_date(at));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_answer_reads_as_what_was_revalidated() {
        let page = render(&json!({
            "revalidated": true, "now": 1, "at": 1_700_000_000_000_u64, "mode": "expire",
            "affected": 1, "path": "/docs/a", "type": "page"
        }));
        assert_eq!(
            page,
            "revalidated  page /docs/a\n\
             mode         expire (the next visitor waits for a fresh render)\n\
             affected     1 cached here\n\
             at           Tue, 14 Nov 2023 22:13:20 GMT\n"
        );
        let tags = render(&json!({
            "revalidated": true, "mode": "stale", "affected": null, "tags": ["a", "b"]
        }));
        assert!(
            tags.starts_with("revalidated  pages tagged a, b\n"),
            "{tags}"
        );
        assert!(tags.contains("not counted"), "{tags}");
        assert!(tags.contains("stale (the old page"), "{tags}");
        let layout = render(&json!({"revalidated": true, "path": "/docs", "type": "layout"}));
        assert!(
            layout.starts_with("revalidated  every page under /docs\n"),
            "{layout}"
        );
    }
}
