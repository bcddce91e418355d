//! Making a page's encodings once per render, and reading a body the application encoded.

use std::io::Read;
#[cfg(any(feature = "gzip", feature = "br"))]
use std::io::Write;

use bytes::Bytes;
use http::HeaderValue;

use crate::compression::ContentCoding;

/// `body` in `coding` at `level`; `None` when the coding is not built in, fails, or would not
/// make the page smaller (then only identity is kept for it).
pub(crate) fn compress(coding: ContentCoding, level: u32, body: &[u8]) -> Option<Bytes> {
    let encoded = encoder(coding, level, body)?;
    (encoded.len() < body.len()).then(|| Bytes::from(encoded))
}

fn encoder(coding: ContentCoding, level: u32, body: &[u8]) -> Option<Vec<u8>> {
    match coding {
        #[cfg(feature = "gzip")]
        ContentCoding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 3),
                flate2::Compression::new(level),
            );
            encoder.write_all(body).ok()?;
            encoder.finish().ok()
        }
        #[cfg(feature = "br")]
        ContentCoding::Brotli => {
            let mut writer =
                brotli::CompressorWriter::new(Vec::with_capacity(body.len() / 3), 4096, level, 22);
            writer.write_all(body).ok()?;
            // Finishes the stream.
            Some(writer.into_inner())
        }
        #[cfg(feature = "zstd")]
        ContentCoding::Zstd => zstd::bulk::compress(body, i32::try_from(level).ok()?).ok(),
        _ => {
            let _ = (level, body);
            None
        }
    }
}

/// Why an encoded body from the application could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecodeFailure {
    /// A coding this build cannot read (or a list of several codings).
    Unsupported,
    /// Decoded, the page would be larger than the limit.
    TooLarge,
    /// The bytes are not valid in their coding.
    Corrupt,
}

/// The identity page of a body the application sent with `Content-Encoding: content_encoding`,
/// read up to `limit` bytes (a small body cannot unpack into a huge page unseen).
pub(crate) fn decode(
    content_encoding: &HeaderValue,
    body: &[u8],
    limit: usize,
) -> Result<Bytes, DecodeFailure> {
    let coding = content_encoding
        .to_str()
        .map_err(|_| DecodeFailure::Unsupported)?
        .trim();
    if coding.is_empty() || coding.eq_ignore_ascii_case("identity") {
        return Ok(Bytes::copy_from_slice(body));
    }
    let reader = decoder(&coding.to_ascii_lowercase(), body)?;
    let limit = u64::try_from(limit).unwrap_or(u64::MAX);
    let mut out = Vec::with_capacity(body.len().saturating_mul(4));
    let read = reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|_| DecodeFailure::Corrupt)?;
    if read as u64 > limit {
        return Err(DecodeFailure::TooLarge);
    }
    Ok(Bytes::from(out))
}

/// A reader of `body` in `coding` (lowercase), if this build reads that coding.
fn decoder<'a>(coding: &str, body: &'a [u8]) -> Result<Box<dyn Read + 'a>, DecodeFailure> {
    match coding {
        #[cfg(feature = "gzip")]
        "gzip" | "x-gzip" => Ok(Box::new(flate2::read::MultiGzDecoder::new(body))),
        // RFC 9110's "deflate" is the zlib format.
        #[cfg(feature = "gzip")]
        "deflate" => Ok(Box::new(flate2::read::ZlibDecoder::new(body))),
        #[cfg(feature = "br")]
        "br" => Ok(Box::new(brotli::Decompressor::new(body, 4096))),
        #[cfg(feature = "zstd")]
        "zstd" => Ok(Box::new(
            zstd::stream::read::Decoder::with_buffer(body).map_err(|_| DecodeFailure::Corrupt)?,
        )),
        _ => {
            let _ = body;
            Err(DecodeFailure::Unsupported)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Vec<u8> {
        "<p>Incremental Static Regeneration, once per render.</p>\n"
            .repeat(200)
            .into_bytes()
    }

    #[test]
    fn every_encoding_decodes_to_the_page() {
        let page = page();
        for coding in [
            ContentCoding::Gzip,
            ContentCoding::Brotli,
            ContentCoding::Zstd,
        ] {
            if !coding.is_supported() {
                assert!(compress(coding, 5, &page).is_none());
                continue;
            }
            let encoded = compress(coding, 5, &page).unwrap();
            assert!(encoded.len() < page.len() / 4, "{coding}");
            let header = HeaderValue::from_static(coding.as_str());
            assert_eq!(decode(&header, &encoded, page.len()).unwrap(), page);
            // One byte short of the page: refused as too large, never truncated.
            assert_eq!(
                decode(&header, &encoded, page.len() - 1),
                Err(DecodeFailure::TooLarge)
            );
            assert_eq!(
                decode(&header, &encoded[..encoded.len() / 2], page.len()).err(),
                Some(DecodeFailure::Corrupt),
                "{coding} truncated"
            );
        }
    }

    #[test]
    fn what_does_not_shrink_is_not_kept() {
        assert!(compress(ContentCoding::Gzip, 6, b"x").is_none());
        assert!(compress(ContentCoding::Identity, 6, &page()).is_none());
    }

    #[test]
    fn unknown_and_stacked_codings_are_refused() {
        for coding in ["compress", "gzip, br", "exi", "\u{7f}"] {
            let Ok(header) = HeaderValue::from_str(coding) else {
                continue;
            };
            assert_eq!(
                decode(&header, b"abc", 100),
                Err(DecodeFailure::Unsupported)
            );
        }
        assert_eq!(
            decode(&HeaderValue::from_static("identity"), b"abc", 100).unwrap(),
            "abc"
        );
    }
}
