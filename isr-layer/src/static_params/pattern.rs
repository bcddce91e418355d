//! Route patterns: `/docs/{slug}`, `/files/{*path}`; what a listed path looks like and which
//! request paths have a pattern's shape.

use super::ParamSet;

/// Why a route pattern was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// The pattern does not start with `/`.
    #[error("route pattern {0:?} must start with '/'")]
    NotAbsolute(String),
    /// A `{` without its `}`, an empty name, a name with a `:` (a regular expression), or a
    /// wildcard that is not last.
    #[error("route pattern {0:?} is malformed: {1}")]
    Malformed(String, &'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    Wildcard(String),
}

/// A route pattern: literal segments, `{name}` for one segment, `{*name}` for the rest of the
/// path (axum's syntax; actix-web's `{name}` is the same, its `{name:.*}` is `{*name}` here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Pattern {
    source: String,
    segments: Vec<Segment>,
}

impl Pattern {
    pub(super) fn parse(source: &str) -> Result<Self, PatternError> {
        let rest = source
            .strip_prefix('/')
            .ok_or_else(|| PatternError::NotAbsolute(source.to_owned()))?;
        let malformed = |why| PatternError::Malformed(source.to_owned(), why);
        let mut segments = Vec::new();
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        for (i, part) in parts.iter().enumerate() {
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if name.starts_with('*') => {
                    if i + 1 != parts.len() {
                        return Err(malformed("a wildcard must be the last segment"));
                    }
                    Segment::Wildcard(name[1..].to_owned())
                }
                Some("") => return Err(malformed("a parameter needs a name")),
                Some(name) => Segment::Param(name.to_owned()),
                None if part.contains(['{', '}']) => {
                    return Err(malformed("a parameter must fill a whole segment"));
                }
                None => Segment::Literal((*part).to_owned()),
            };
            if let Segment::Param(n) | Segment::Wildcard(n) = &segment {
                if n.is_empty() {
                    return Err(malformed("a parameter needs a name"));
                }
                // actix-web's `{name:regex}`: the list cannot tell which paths a regular
                // expression allows, so it is refused rather than read as a name with a colon.
                if n.contains(':') {
                    return Err(malformed(
                        "a parameter name cannot carry a regular expression; \
                         write `{name}` for one segment or `{*name}` for the rest of the path",
                    ));
                }
            }
            segments.push(segment);
        }
        Ok(Self {
            source: source.to_owned(),
            segments,
        })
    }

    /// The pattern as it was written.
    pub(super) fn source(&self) -> &str {
        &self.source
    }

    /// The literal prefix before the first parameter, e.g. `/docs` for `/docs/{slug}`.
    pub(super) fn static_prefix(&self) -> String {
        let mut prefix = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(l) => {
                    prefix.push('/');
                    prefix.push_str(l);
                }
                _ => break,
            }
        }
        if prefix.is_empty() {
            prefix.push('/');
        }
        prefix
    }

    /// Whether a canonical request path has this pattern's shape.
    pub(super) fn matches(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut i = 0;
        for segment in &self.segments {
            match segment {
                Segment::Wildcard(_) => return i < parts.len() && !parts[i].is_empty(),
                Segment::Literal(l) => {
                    if parts.get(i) != Some(&l.as_str()) {
                        return false;
                    }
                }
                Segment::Param(_) => {
                    if parts.get(i).is_none_or(|p| p.is_empty()) {
                        return false;
                    }
                }
            }
            i += 1;
        }
        i == parts.len() || (self.segments.is_empty() && path == "/")
    }

    /// The canonical path of one parameter set.
    pub(super) fn render(&self, params: &ParamSet) -> Result<String, String> {
        let value = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| format!("missing parameter {name:?} for {}", self.source))
        };
        let mut path = String::new();
        for segment in &self.segments {
            path.push('/');
            match segment {
                Segment::Literal(l) => path.push_str(l),
                Segment::Param(name) => path.push_str(&encode_segment(value(name)?)),
                Segment::Wildcard(name) => {
                    let parts: Vec<String> = value(name)?.split('/').map(encode_segment).collect();
                    path.push_str(&parts.join("/"));
                }
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        Ok(path)
    }
}

/// Percent-encodes everything but unreserved characters, with upper-case hex: the canonical
/// form the ISR layer gives request paths.
fn encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        // Unreserved characters, sub-delims, ':' and '@' may stand raw in a path segment and
        // the layer leaves them raw, so listed paths match requests byte for byte.
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
            )
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> ParamSet {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn patterns_parse_render_and_match() {
        let p = Pattern::parse("/docs/{slug}").unwrap();
        assert_eq!(p.static_prefix(), "/docs");
        assert_eq!(
            p.render(&set(&[("slug", "getting-started")])).unwrap(),
            "/docs/getting-started"
        );
        assert_eq!(
            p.render(&set(&[("slug", "a b/c")])).unwrap(),
            "/docs/a%20b%2Fc"
        );
        assert_eq!(p.render(&set(&[("slug", "a@b+c")])).unwrap(), "/docs/a@b+c");
        assert!(p.render(&set(&[("other", "x")])).is_err());
        assert!(p.matches("/docs/x"));
        assert!(!p.matches("/docs"));
        assert!(!p.matches("/docs/x/y"));
        assert!(!p.matches("/blog/x"));

        let w = Pattern::parse("/files/{*path}").unwrap();
        assert_eq!(
            w.render(&set(&[("path", "a/b c")])).unwrap(),
            "/files/a/b%20c"
        );
        assert!(w.matches("/files/a/b"));
        assert!(!w.matches("/files"));

        let two = Pattern::parse("/blog/{year}/{slug}").unwrap();
        assert_eq!(
            two.render(&set(&[("slug", "s"), ("year", "2026")]))
                .unwrap(),
            "/blog/2026/s"
        );
        assert!(two.matches("/blog/2026/s"));

        let root = Pattern::parse("/").unwrap();
        assert_eq!(root.static_prefix(), "/");
        assert_eq!(root.render(&set(&[])).unwrap(), "/");
        assert!(root.matches("/"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(matches!(
            Pattern::parse("docs/{slug}"),
            Err(PatternError::NotAbsolute(_))
        ));
        assert!(Pattern::parse("/docs/{}").is_err());
        assert!(Pattern::parse("/docs/{*}").is_err());
        assert!(Pattern::parse("/docs/{*rest}/more").is_err());
        assert!(Pattern::parse("/docs/a{slug}").is_err());
        assert!(Pattern::parse("/docs/{slug").is_err());
    }

    #[test]
    fn an_actix_regular_expression_is_refused_with_the_way_out() {
        let error = Pattern::parse("/files/{tail:.*}").unwrap_err();
        assert!(matches!(error, PatternError::Malformed(..)));
        assert!(error.to_string().contains("`{*name}`"), "{error}");
        assert!(Pattern::parse("/docs/{id:\\d+}").is_err());
    }
}
