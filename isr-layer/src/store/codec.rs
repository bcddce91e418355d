//! The byte format of entries kept outside process memory (files, Redis).
//!
//! ```text
//! "ISR" version:u8
//! key, path: u32 length + bytes      route: u8 (0 none, 1 some) [+ u32 length + bytes]
//! status:u16   headers: u32 count, each u16 name length + name + u32 value length + value
//! etag: u16 length + bytes   rendered_at:u64   stored_at:u64
//! revalidate: u8 (0 dynamic, 1 after, 2 never) + u64 micros
//! tags: u32 count, each u16 length + bytes   shared_with_authorization:u8
//! body: u32 length + bytes
//! encodings: u8 count, each coding:u8 (1 gzip, 2 br, 3 zstd) + level:u8
//!            + state:u8 (0 to be made, 1 made, 2 made and no smaller than the page)
//!            [state 1: etag (u16 length + bytes) + body (u32 length + bytes)]
//! checksum: u64 xxh3 of everything before it
//! ```
//!
//! Version 2 added the encodings, all made when the page was stored; version 3 keeps the
//! encodings planned for the page and those made so far (each is made on the first request
//! that accepts it). An entry of an earlier version is refused as [`DecodeError::Version`],
//! and the stores drop it as they drop any entry they cannot read: the page renders again, it
//! is never served wrong.
//!
//! All integers are little-endian. Decoding checks every length against what is left and the
//! checksum over the whole record, so a truncated or corrupted entry is rejected, never served.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::header::LAST_MODIFIED;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::clock::saturating_micros;
use crate::compression::ContentCoding;
use crate::decimal::integer_value;
use crate::entry::{Encoding, Entry, Representation, last_modified_secs};
use crate::head::Head;
use crate::policy::Revalidate;

const MAGIC: &[u8; 3] = b"ISR";
const VERSION: u8 = 3;

/// Why bytes could not be decoded into an entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not an entry of this format (wrong magic bytes).
    #[error("not an isr entry")]
    NotAnEntry,
    /// Written by another version of the format.
    #[error("unsupported entry format version {0}")]
    Version(u8),
    /// Shorter than its lengths say.
    #[error("entry is truncated")]
    Truncated,
    /// The checksum does not match: the bytes changed after they were written.
    #[error("entry checksum mismatch")]
    Checksum,
    /// A field holds a value that cannot be (a bad status, header, policy or UTF-8).
    #[error("entry field is invalid: {0}")]
    Invalid(&'static str),
}

impl Entry {
    /// The entry in the byte format that file and Redis stores keep (see the `store` module).
    pub fn encode(&self) -> Bytes {
        // The weight less the in-memory bookkeeping, with the headers shared with other entries
        // (which the weight may leave to them), is about what the encoding takes.
        let size = self.weight() - crate::entry::ENTRY_OVERHEAD + self.head.weight() + 64;
        let mut out = BytesMut::with_capacity(size);
        out.put_slice(MAGIC);
        out.put_u8(VERSION);
        put_long(&mut out, self.key.as_bytes());
        put_long(&mut out, self.path().as_bytes());
        match &self.route {
            Some(route) => {
                out.put_u8(1);
                put_long(&mut out, route.as_bytes());
            }
            None => out.put_u8(0),
        }
        out.put_u16_le(self.status.as_u16());
        let headers = self.headers();
        out.put_u32_le(u32::try_from(headers.len()).unwrap_or(u32::MAX));
        for (name, value) in &headers {
            put_short(&mut out, name.as_str().as_bytes());
            put_long(&mut out, value.as_bytes());
        }
        put_short(&mut out, self.etag.as_bytes());
        out.put_u64_le(self.rendered_at);
        out.put_u64_le(self.stored_at);
        let (kind, micros) = match self.revalidate {
            Revalidate::Dynamic => (0, 0),
            Revalidate::After(ttl) => (1, saturating_micros(ttl)),
            Revalidate::Never => (2, 0),
        };
        out.put_u8(kind);
        out.put_u64_le(micros);
        out.put_u32_le(u32::try_from(self.tags.len()).unwrap_or(u32::MAX));
        for tag in self.tags.iter() {
            put_short(&mut out, tag.as_bytes());
        }
        out.put_u8(u8::from(self.shared_with_authorization));
        put_long(&mut out, &self.body);
        out.put_u8(u8::try_from(self.encoded.len()).unwrap_or(u8::MAX));
        for e in self.encoded.iter().take(usize::from(u8::MAX)) {
            out.put_u8(e.coding.index() as u8);
            out.put_u8(e.level);
            match e.made.get() {
                None => out.put_u8(0),
                Some(Some(r)) => {
                    out.put_u8(1);
                    put_short(&mut out, r.etag.as_bytes());
                    put_long(&mut out, &r.body);
                }
                Some(None) => out.put_u8(2),
            }
        }
        let checksum = xxhash_rust::xxh3::xxh3_64(&out);
        out.put_u64_le(checksum);
        out.freeze()
    }

    /// Reads an entry written by [`Entry::encode`], checking its checksum and every length.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() < 4 + 8 {
            return Err(if bytes.starts_with(MAGIC) || bytes.is_empty() {
                DecodeError::Truncated
            } else {
                DecodeError::NotAnEntry
            });
        }
        if &bytes[..3] != MAGIC {
            return Err(DecodeError::NotAnEntry);
        }
        if bytes[3] != VERSION {
            return Err(DecodeError::Version(bytes[3]));
        }
        let (record, checksum) = bytes.split_at(bytes.len() - 8);
        let expected = u64::from_le_bytes(checksum.try_into().map_err(|_| DecodeError::Truncated)?);
        if xxhash_rust::xxh3::xxh3_64(record) != expected {
            return Err(DecodeError::Checksum);
        }
        let mut r = Reader { rest: &record[4..] };
        let key = r.string_long("key")?;
        let path = r.string_long("path")?;
        let path = path_range(key, path).ok_or(DecodeError::Invalid("path outside the key"))?;
        let route = match r.u8()? {
            0 => None,
            1 => Some(crate::intern::string(r.string_long("route")?)),
            _ => return Err(DecodeError::Invalid("route flag")),
        };
        let status = StatusCode::from_u16(r.u16()?).map_err(|_| DecodeError::Invalid("status"))?;
        let count = r.u32()? as usize;
        let mut headers = HeaderMap::with_capacity(count.min(256));
        for _ in 0..count {
            let name = HeaderName::from_bytes(r.short()?)
                .map_err(|_| DecodeError::Invalid("header name"))?;
            let value = HeaderValue::from_bytes(r.long()?)
                .map_err(|_| DecodeError::Invalid("header value"))?;
            headers.append(name, value);
        }
        let etag = HeaderValue::from_bytes(r.short()?).map_err(|_| DecodeError::Invalid("etag"))?;
        let rendered_at = r.u64()?;
        let stored_at = r.u64()?;
        let revalidate = match (r.u8()?, r.u64()?) {
            (0, _) => Revalidate::Dynamic,
            (1, micros) => Revalidate::After(Duration::from_micros(micros)),
            (2, _) => Revalidate::Never,
            _ => return Err(DecodeError::Invalid("revalidate")),
        };
        let count = r.u32()? as usize;
        let mut tags = Vec::with_capacity(count.min(crate::invalidate::MAX_TAGS_PER_ENTRY));
        for _ in 0..count {
            let tag = std::str::from_utf8(r.short()?).map_err(|_| DecodeError::Invalid("tag"))?;
            tags.push(crate::intern::string(tag));
        }
        let shared_with_authorization = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(DecodeError::Invalid("authorization flag")),
        };
        let body = Bytes::copy_from_slice(r.long()?);
        let count = r.u8()?;
        let mut encoded = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let coding = ContentCoding::from_code(r.u8()?)
                .filter(|c| *c != ContentCoding::Identity)
                .ok_or(DecodeError::Invalid("content coding"))?;
            let level = r.u8()?;
            let encoding = match r.u8()? {
                0 => Encoding::planned(coding, u32::from(level)),
                1 => {
                    let tag = HeaderValue::from_bytes(r.short()?)
                        .map_err(|_| DecodeError::Invalid("representation etag"))?;
                    let bytes = Bytes::copy_from_slice(r.long()?);
                    let representation = Representation::new(&etag, coding, bytes);
                    if representation.etag != tag {
                        return Err(DecodeError::Invalid("representation etag"));
                    }
                    Encoding::made(coding, level, Some(representation))
                }
                2 => Encoding::made(coding, level, None),
                _ => return Err(DecodeError::Invalid("encoding state")),
            };
            encoded.push(encoding);
        }
        if !r.rest.is_empty() {
            return Err(DecodeError::Invalid("trailing bytes"));
        }
        let last_modified_value = headers.get(LAST_MODIFIED).cloned();
        let last_modified = last_modified_secs(&headers);
        // A page has a path; fetched data (the data cache) keeps its headers as they came.
        let (head, head_shared) = if path.is_empty() {
            (Head::plain(headers), false)
        } else {
            Head::of_page(headers)
        };
        Ok(Self {
            key: Arc::from(key),
            path,
            route,
            status,
            content_length: integer_value(body.len() as u64),
            body,
            etag,
            rendered_at,
            stored_at,
            revalidate,
            tags: tags.into_boxed_slice(),
            shared_with_authorization,
            failures: Default::default(),
            last_modified,
            last_modified_value,
            encoded: encoded.into_boxed_slice(),
            head,
            head_shared,
            converted: Default::default(),
        })
    }
}

fn put_long(out: &mut BytesMut, bytes: &[u8]) {
    out.put_u32_le(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
    out.put_slice(bytes);
}

fn put_short(out: &mut BytesMut, bytes: &[u8]) {
    let len = bytes.len().min(usize::from(u16::MAX));
    out.put_u16_le(len as u16);
    out.put_slice(&bytes[..len]);
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(
            self.take(2)?
                .try_into()
                .map_err(|_| DecodeError::Truncated)?,
        ))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(
            self.take(4)?
                .try_into()
                .map_err(|_| DecodeError::Truncated)?,
        ))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(
            self.take(8)?
                .try_into()
                .map_err(|_| DecodeError::Truncated)?,
        ))
    }

    fn short(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }

    fn long(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn string_long(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.long()?).map_err(|_| DecodeError::Invalid(what))
    }
}

/// Where a decoded entry's `path` sits in its key: a page's key holds its path after the host
/// (which has no `/`), so the first occurrence is the one; fetched data has none.
fn path_range(key: &str, path: &str) -> Option<std::ops::Range<usize>> {
    if path.is_empty() {
        return Some(0..0);
    }
    let start = key.find(path)?;
    Some(start..start + path.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/html"));
        headers.append("x-multi", HeaderValue::from_static("a"));
        headers.append("x-multi", HeaderValue::from_static("b"));
        Entry {
            key: Arc::from("example.com/docs/a?x=1"),
            path: 11..18,
            route: Some(Arc::from("/docs/{slug}")),
            status: StatusCode::OK,
            head: Head::of_page(headers).0,
            head_shared: false,
            content_length: integer_value(14),
            body: Bytes::from_static(b"<h1>hello</h1>"),
            etag: HeaderValue::from_static("\"abc\""),
            rendered_at: 1_700_000_000_000_000,
            stored_at: 1_700_000_000_100_000,
            revalidate: Revalidate::After(Duration::from_secs(60)),
            tags: vec![Arc::from("docs"), Arc::from("a")].into_boxed_slice(),
            shared_with_authorization: true,
            failures: Default::default(),
            encoded: Box::default(),
            last_modified: None,
            last_modified_value: None,
            converted: Default::default(),
        }
    }

    #[test]
    fn entries_round_trip() {
        let entry = sample();
        let decoded = Entry::decode(&entry.encode()).unwrap();
        assert_eq!(decoded.key, entry.key);
        assert_eq!(decoded.path(), "/docs/a");
        assert_eq!(decoded.route, entry.route);
        assert_eq!(decoded.status, entry.status);
        assert_eq!(decoded.headers(), entry.headers());
        assert_eq!(decoded.headers()["etag"], "\"abc\"");
        assert_eq!(decoded.headers()["content-length"], "14");
        assert_eq!(decoded.headers().get_all("x-multi").iter().count(), 2);
        assert!(Arc::ptr_eq(&decoded.head, &entry.head), "one head for both");
        assert_eq!(decoded.body, entry.body);
        assert_eq!(decoded.etag, entry.etag);
        assert_eq!(
            (decoded.rendered_at, decoded.stored_at),
            (entry.rendered_at, entry.stored_at)
        );
        assert_eq!(decoded.revalidate, entry.revalidate);
        assert_eq!(decoded.tags, entry.tags);
        assert!(decoded.shared_with_authorization);
    }

    #[test]
    fn encodings_round_trip_with_their_headers_and_tags() {
        let mut entry = sample();
        let page = b"<p>page</p>".repeat(100);
        entry.body = Bytes::from(page.clone());
        entry.content_length = integer_value(page.len() as u64);
        let gzip = Bytes::from_static(b"\x1f\x8b pretend gzip bytes");
        let br = Bytes::from_static(b"pretend brotli bytes");
        let made = |coding, bytes: &Bytes| {
            let r = Representation::new(&entry.etag, coding, bytes.clone());
            Encoding::made(coding, 5, Some(r))
        };
        entry.encoded = vec![
            made(ContentCoding::Brotli, &br),
            Encoding::planned(ContentCoding::Zstd, 3),
            made(ContentCoding::Gzip, &gzip),
        ]
        .into_boxed_slice();
        let decoded = Entry::decode(&entry.encode()).unwrap();
        // Made, to be made: each kept as it was, with its level.
        assert_eq!(
            decoded.offered().collect::<Vec<_>>(),
            [
                ContentCoding::Brotli,
                ContentCoding::Zstd,
                ContentCoding::Gzip
            ]
        );
        assert_eq!(
            decoded.encoded.iter().map(|e| e.level).collect::<Vec<_>>(),
            [5, 3, 5]
        );
        assert_eq!(decoded.body, entry.body);
        assert_eq!(
            decoded.encodings().collect::<Vec<_>>(),
            [ContentCoding::Brotli, ContentCoding::Gzip]
        );
        for (coding, bytes) in [(ContentCoding::Brotli, &br), (ContentCoding::Gzip, &gzip)] {
            let served = decoded.representation(coding).unwrap();
            assert_eq!(served.body, bytes);
            assert_eq!(served.headers()["content-encoding"], coding.as_str());
            assert_eq!(
                served.headers()["content-length"],
                bytes.len().to_string().as_str()
            );
            assert_eq!(served.headers()["etag"], served.etag);
            assert_eq!(
                served.etag,
                format!("\"abc{}\"", coding.etag_suffix()).as_str()
            );
        }
        assert!(decoded.representation(ContentCoding::Zstd).is_none());
        // The head is the original's, charged to it.
        assert!(decoded.head_shared && Arc::ptr_eq(&decoded.head, &entry.head));
        assert_eq!(decoded.weight(), entry.weight() - entry.head.weight());
    }

    #[test]
    fn an_encoding_no_smaller_than_the_page_stays_unoffered() {
        let mut entry = sample();
        entry.encoded = vec![Encoding::made(ContentCoding::Gzip, 6, None)].into_boxed_slice();
        let decoded = Entry::decode(&entry.encode()).unwrap();
        assert_eq!(decoded.offered().count(), 0);
        assert_eq!(decoded.encoded.len(), 1);
    }

    #[test]
    fn entries_of_earlier_formats_are_refused_by_their_version() {
        // Version 1 had no encodings, version 2 only made ones: each is refused by number, and
        // the stores drop it (the page renders again).
        for version in [1, 2] {
            let mut bytes = sample().encode().to_vec();
            bytes[3] = version;
            assert_eq!(
                Entry::decode(&bytes).unwrap_err(),
                DecodeError::Version(version)
            );
        }
    }

    #[test]
    fn the_shortest_record_is_read_as_far_as_its_version_and_checksum() {
        // Magic, version and checksum (12 bytes) are enough to tell a record of another format
        // (dropped quietly by the stores) from a damaged one (logged).
        let mut short = b"ISR\x01".to_vec();
        short.extend_from_slice(&[0; 8]);
        assert_eq!(Entry::decode(&short).unwrap_err(), DecodeError::Version(1));
        short[3] = VERSION;
        assert_eq!(Entry::decode(&short).unwrap_err(), DecodeError::Checksum);
        assert_eq!(
            Entry::decode(&short[..11]).unwrap_err(),
            DecodeError::Truncated
        );
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_rejected() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(Entry::decode(&bytes[..len]).is_err(), "truncated to {len}");
        }
        for i in 0..bytes.len() {
            let mut corrupt = bytes.to_vec();
            corrupt[i] ^= 0x40;
            assert!(Entry::decode(&corrupt).is_err(), "byte {i} flipped");
        }
    }

    #[test]
    fn other_formats_are_named() {
        assert_eq!(
            Entry::decode(b"GIF89a-not-an-entry").unwrap_err(),
            DecodeError::NotAnEntry
        );
        let mut bytes = sample().encode().to_vec();
        bytes[3] = 9;
        assert_eq!(Entry::decode(&bytes).unwrap_err(), DecodeError::Version(9));
    }
}
