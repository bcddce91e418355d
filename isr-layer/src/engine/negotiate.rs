//! `Accept-Encoding` (RFC 9110 §12.5.3): which stored representation a visitor gets.
//!
//! This runs on every hit of a page that has encodings, so it reads the header in one pass
//! without allocating.

use http::HeaderValue;

use crate::compression::ContentCoding;

/// `q`-values in thousandths (`q=1` is 1000), as the RFC gives them three decimals.
type Quality = u16;

/// What a visitor accepts, as far as the cache's codings go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Accepted {
    /// Per [`ContentCoding::index`]: the `q` a coding was listed with.
    listed: [Option<Quality>; 4],
    /// The `q` of `*`, for codings not listed.
    any: Option<Quality>,
}

/// What the headers of current browsers accept, each coding at `q=1`: Chrome's and Firefox's
/// `gzip, deflate, br, zstd`, and the same without `zstd` (Safari, older versions).
const BROWSERS: [(&[u8], Accepted); 2] = [
    (
        b"gzip, deflate, br, zstd",
        Accepted::all_at_one(&[
            ContentCoding::Gzip,
            ContentCoding::Brotli,
            ContentCoding::Zstd,
        ]),
    ),
    (
        b"gzip, deflate, br",
        Accepted::all_at_one(&[ContentCoding::Gzip, ContentCoding::Brotli]),
    ),
];

impl Accepted {
    const fn all_at_one(codings: &[ContentCoding]) -> Self {
        let mut accepted = Self {
            listed: [None; 4],
            any: None,
        };
        let mut i = 0;
        while i < codings.len() {
            accepted.listed[codings[i].index()] = Some(1000);
            i += 1;
        }
        accepted
    }

    fn parse(value: &[u8]) -> Self {
        // Most hits carry one of a few browser headers, byte for byte: one comparison then.
        for (header, accepted) in BROWSERS {
            if value == header {
                return accepted;
            }
        }
        Self::parse_list(value)
    }

    fn parse_list(value: &[u8]) -> Self {
        let mut accepted = Self::default();
        for item in value.split(|&b| b == b',') {
            let mut params = item.split(|&b| b == b';');
            let name = trim(params.next().unwrap_or_default());
            if name.is_empty() {
                continue;
            }
            let mut q = Some(1000);
            for param in params {
                let param = trim(param);
                if let Some(value) = param
                    .strip_prefix(b"q=")
                    .or_else(|| param.strip_prefix(b"Q="))
                {
                    q = parse_quality(trim(value));
                }
            }
            // A malformed `q` makes the item meaningless: ignore it rather than guess.
            let Some(q) = q else { continue };
            let coding = if name == b"*" {
                accepted.any = Some(accepted.any.map_or(q, |old| old.max(q)));
                continue;
            } else if name.eq_ignore_ascii_case(b"gzip") || name.eq_ignore_ascii_case(b"x-gzip") {
                ContentCoding::Gzip
            } else if name.eq_ignore_ascii_case(b"br") {
                ContentCoding::Brotli
            } else if name.eq_ignore_ascii_case(b"zstd") {
                ContentCoding::Zstd
            } else if name.eq_ignore_ascii_case(b"identity") {
                ContentCoding::Identity
            } else {
                continue;
            };
            let slot = &mut accepted.listed[coding.index()];
            *slot = Some(slot.map_or(q, |old| old.max(q)));
        }
        accepted
    }

    /// The `q` of a coding: as listed, else as `*` says; identity is acceptable unless
    /// excluded (by `identity;q=0`, or `*;q=0` without an `identity` item), ranked last.
    fn quality(&self, coding: ContentCoding) -> Quality {
        match (self.listed[coding.index()], coding) {
            (Some(q), _) => q,
            (None, ContentCoding::Identity) => match self.any {
                Some(0) => 0,
                _ => 1,
            },
            (None, _) => self.any.unwrap_or(0),
        }
    }
}

/// The representation to serve: the highest `q` among `available` (the encodings an entry
/// holds, in the server's order of preference), ties going to the server's preference, and
/// identity when nothing else is acceptable. `None`: the visitor excluded identity too and
/// accepts none of the others (`406 Not Acceptable`).
///
/// No header means identity: RFC 9110 allows any coding then, but clients that send none
/// (scripts, old tools) mostly expect plain bytes.
pub(crate) fn negotiate(
    accept_encoding: Option<&HeaderValue>,
    available: impl Iterator<Item = ContentCoding>,
) -> Option<ContentCoding> {
    let Some(header) = accept_encoding else {
        return Some(ContentCoding::Identity);
    };
    let accepted = Accepted::parse(header.as_bytes());
    let mut best = (
        ContentCoding::Identity,
        accepted.quality(ContentCoding::Identity),
    );
    for coding in available {
        let q = accepted.quality(coding);
        if q > best.1 || (q > 0 && q == best.1 && best.0 == ContentCoding::Identity) {
            best = (coding, q);
        }
    }
    (best.1 > 0).then_some(best.0)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &bytes[start..end.max(start)]
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
fn parse_quality(value: &[u8]) -> Option<Quality> {
    let (whole, fraction) = match value.iter().position(|&b| b == b'.') {
        Some(dot) => (&value[..dot], &value[dot + 1..]),
        None => (value, &[][..]),
    };
    if fraction.len() > 3 || !fraction.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths: Quality = 0;
    for (i, digit) in fraction.iter().enumerate() {
        thousandths += Quality::from(digit - b'0') * [100, 10, 1][i];
    }
    match whole {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContentCoding::{Brotli, Gzip, Identity, Zstd};

    const ALL: [ContentCoding; 3] = [Brotli, Zstd, Gzip];

    fn pick(header: &str, available: &[ContentCoding]) -> Option<ContentCoding> {
        let value = HeaderValue::from_str(header).unwrap();
        negotiate(Some(&value), available.iter().copied())
    }

    #[test]
    fn the_browser_shortcut_reads_as_the_full_parse() {
        for (header, accepted) in BROWSERS {
            assert_eq!(Accepted::parse_list(header), accepted);
        }
    }

    #[test]
    fn browsers_get_the_servers_favourite() {
        assert_eq!(pick("gzip, deflate, br, zstd", &ALL), Some(Brotli));
        assert_eq!(pick("gzip, deflate, br", &ALL), Some(Brotli));
        assert_eq!(pick("gzip, deflate", &ALL), Some(Gzip));
        assert_eq!(pick("gzip, deflate, br, zstd", &[Gzip]), Some(Gzip));
        assert_eq!(pick("gzip, deflate, br, zstd", &[]), Some(Identity));
    }

    #[test]
    fn q_values_rank_and_zero_excludes() {
        assert_eq!(pick("br;q=0.5, gzip;q=0.8", &ALL), Some(Gzip));
        assert_eq!(pick("br;q=0, gzip", &ALL), Some(Gzip));
        assert_eq!(pick("br;q=0.001, zstd;q=0.002", &ALL), Some(Zstd));
        assert_eq!(pick("gzip;q=1.0, br;q=1", &ALL), Some(Brotli));
        assert_eq!(pick("br;q=0, gzip;q=0, zstd;q=0", &ALL), Some(Identity));
        assert_eq!(pick("identity", &ALL), Some(Identity));
        assert_eq!(pick("identity;q=1, gzip;q=0.5", &ALL), Some(Identity));
        // On equal q-values an encoding beats identity (the server's preference).
        assert_eq!(pick("identity, gzip", &ALL), Some(Gzip));
        assert_eq!(pick("identity;q=0.5, br;q=0.5", &ALL), Some(Brotli));
    }

    #[test]
    fn star_covers_what_is_not_listed() {
        assert_eq!(pick("*", &ALL), Some(Brotli));
        assert_eq!(pick("br;q=0, *", &ALL), Some(Zstd));
        assert_eq!(pick("*;q=0, gzip", &ALL), Some(Gzip));
        assert_eq!(pick("*;q=0", &ALL), None);
        assert_eq!(pick("*;q=0, identity", &ALL), Some(Identity));
        assert_eq!(pick("*;q=0", &[]), None);
    }

    #[test]
    fn identity_can_be_refused() {
        assert_eq!(pick("identity;q=0", &[]), None);
        assert_eq!(pick("identity;q=0, gzip", &ALL), Some(Gzip));
        assert_eq!(pick("identity;q=0, br", &[Gzip]), None);
    }

    #[test]
    fn spelling_does_not_matter() {
        for header in [
            "GZIP",
            " gzip ",
            "x-gzip",
            "gzip;q=1",
            "gzip; Q=1.000",
            "gzip ; q = 1",
            ",,gzip,,",
        ] {
            // (`q = 1` is no `q` parameter: unknown parameters are ignored, `q` stays 1.)
            assert_eq!(pick(header, &[Gzip]), Some(Gzip), "{header:?}");
        }
    }

    #[test]
    fn garbage_is_ignored_not_trusted() {
        assert_eq!(pick("", &ALL), Some(Identity));
        assert_eq!(pick(";;;", &ALL), Some(Identity));
        assert_eq!(pick("gzip;q=2", &ALL), Some(Identity));
        assert_eq!(pick("gzip;q=0.5555", &ALL), Some(Identity));
        assert_eq!(pick("gzip;q=-1", &ALL), Some(Identity));
        assert_eq!(pick("gzip;q=abc, br", &ALL), Some(Brotli));
        assert_eq!(pick("compress, deflate, sdch", &ALL), Some(Identity));
        assert_eq!(negotiate(None, ALL.into_iter()), Some(Identity));
    }

    #[test]
    fn quality_values_parse_as_the_grammar_says() {
        assert_eq!(parse_quality(b"1"), Some(1000));
        assert_eq!(parse_quality(b"1.000"), Some(1000));
        assert_eq!(parse_quality(b"1.001"), None);
        assert_eq!(parse_quality(b"0"), Some(0));
        assert_eq!(parse_quality(b"0.5"), Some(500));
        assert_eq!(parse_quality(b"0.25"), Some(250));
        assert_eq!(parse_quality(b"0.125"), Some(125));
        assert_eq!(parse_quality(b"."), None);
        assert_eq!(parse_quality(b""), None);
        assert_eq!(parse_quality(b"0.1234"), None);
    }
}
