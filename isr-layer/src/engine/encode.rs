//! Making a page's encodings (at most once per render, see `respond`), and reading a body the
//! application encoded.

use std::io::Read;

use bytes::Bytes;
use http::HeaderValue;

use crate::compression::ContentCoding;

/// Bodies larger than this are compressed (and decoded) on the blocking pool rather than on a
/// worker of the runtime (BENCHMARKS.md, "Compression levels": up to about 4 ms of CPU at the
/// default levels below it).
pub(crate) const INLINE_MAX: usize = 64 * 1024;

/// `body` in `coding` at `level`; `None` when the coding is not built in, fails, or would not
/// make the page smaller (then only identity is kept for it).
///
/// Encoder state is kept per thread and reused: a fresh Brotli, deflate or Zstandard encoder
/// zeroes hundreds of kilobytes of tables, which cost more than compressing a page of a few
/// kilobytes (BENCHMARKS.md, "Browser traffic": the miss cost).
///
/// The encoding is kept in an allocation of its own length: the encoders write into a buffer
/// sized for the worst case (a third of the page or more), and a page that compresses well
/// would otherwise keep several times its encoded size for as long as it is cached.
pub(crate) fn compress(coding: ContentCoding, level: u32, body: &[u8]) -> Option<Bytes> {
    let encoded = encoder(coding, level, body)?;
    (encoded.len() < body.len()).then(|| exact(encoded))
}

/// `bytes` in an allocation of exactly its length.
fn exact(bytes: Vec<u8>) -> Bytes {
    if bytes.capacity() == bytes.len() {
        Bytes::from(bytes)
    } else {
        Bytes::copy_from_slice(&bytes)
    }
}

fn encoder(coding: ContentCoding, level: u32, body: &[u8]) -> Option<Vec<u8>> {
    match coding {
        #[cfg(feature = "gzip")]
        ContentCoding::Gzip => gzip::compress(level, body),
        #[cfg(feature = "br")]
        ContentCoding::Brotli => brotli_pool::compress(level, body),
        #[cfg(feature = "zstd")]
        ContentCoding::Zstd => zstd_reuse::compress(level, body),
        _ => {
            let _ = (level, body);
            None
        }
    }
}

/// gzip (RFC 1952) around raw deflate from a per-thread `flate2::Compress`, reset between pages.
#[cfg(feature = "gzip")]
mod gzip {
    use std::cell::RefCell;

    use flate2::{Compress, Compression, Crc, FlushCompress, Status};

    thread_local! {
        static DEFLATE: RefCell<Option<(u32, Compress)>> = const { RefCell::new(None) };
    }

    /// The member header: no name, no time stamp, unknown OS.
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

    pub(super) fn compress(level: u32, body: &[u8]) -> Option<Vec<u8>> {
        DEFLATE.with_borrow_mut(|slot| {
            let deflate = match slot {
                Some((kept, deflate)) if *kept == level => {
                    deflate.reset();
                    deflate
                }
                _ => {
                    &mut slot
                        .insert((level, Compress::new(Compression::new(level), false)))
                        .1
                }
            };
            let mut out = Vec::with_capacity(body.len() / 3 + HEADER.len() + 8 + 64);
            out.extend_from_slice(&HEADER);
            loop {
                let consumed = usize::try_from(deflate.total_in()).ok()?;
                if out.len() == out.capacity() {
                    out.reserve(out.capacity() / 2 + 64);
                }
                match deflate.compress_vec(&body[consumed..], &mut out, FlushCompress::Finish) {
                    Ok(Status::StreamEnd) => break,
                    Ok(Status::Ok | Status::BufError) => {}
                    Err(_) => {
                        // The state is mid-stream: make a new one next time.
                        *slot = None;
                        return None;
                    }
                }
            }
            let mut crc = Crc::new();
            crc.update(body);
            out.extend_from_slice(&crc.sum().to_le_bytes());
            // ISIZE: the input's length modulo 2^32 (RFC 1952 §2.3.1).
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            Some(out)
        })
    }
}

/// Brotli with a per-thread pool for the hasher's bucket table.
///
/// The encoder of the `brotli` crate allocates its hash table zeroed for every stream (1 MiB at
/// quality 5, more above): for a page of a few kilobytes, zeroing it is most of the work. The
/// table of the hashers used for pages (`H5`, `H6`, `H9`) is read only below the per-bucket
/// counts, which the encoder clears itself before each stream, so its old contents are never
/// looked at and the table can be reused as it is. Only tables of at least [`POOLED_LEN`]
/// entries are pooled, only for bodies up to [`POOLED_INPUT_MAX`] and qualities up to 9: no
/// other `u32` buffer of such an encoding is that large (block and context maps grow with the
/// input, and stay far below it for such bodies; the smaller qualities' tables, which are read
/// without counts, are below it too), so no buffer that must start zeroed is ever reused.
#[cfg(feature = "br")]
mod brotli_pool {
    use std::cell::RefCell;
    use std::io::Write;

    use brotli::enc::CombiningAllocator;
    use brotli::enc::writer::CompressorWriterCustomAlloc;
    use brotli::{Allocator, HeapAlloc, SliceWrapper, SliceWrapperMut};

    /// The smallest table kept: quality 5's (2^14 buckets of 16 entries).
    pub(super) const POOLED_LEN: usize = 1 << 18;
    /// The largest body encoded with the pool (the inline bound of admission).
    pub(super) const POOLED_INPUT_MAX: usize = 64 * 1024;
    /// The highest quality encoded with the pool: up to 9 the large table is a `H5`, `H6` or
    /// `H9` bucket table; qualities 10 and 11 use other structures (a binary-tree forest),
    /// which get fresh zeroed memory.
    const POOLED_LEVEL_MAX: u32 = 9;

    thread_local! {
        /// The last table freed on this thread.
        static FREE: RefCell<Option<Box<[u32]>>> = const { RefCell::new(None) };
    }

    /// Hands out the thread's kept table when one of its size is asked for.
    #[derive(Default)]
    struct Buckets;

    #[derive(Default)]
    struct Table(Box<[u32]>);

    impl SliceWrapper<u32> for Table {
        fn slice(&self) -> &[u32] {
            &self.0
        }
    }

    impl SliceWrapperMut<u32> for Table {
        fn slice_mut(&mut self) -> &mut [u32] {
            &mut self.0
        }
    }

    impl Allocator<u32> for Buckets {
        type AllocatedMemory = Table;

        fn alloc_cell(&mut self, len: usize) -> Table {
            if len >= POOLED_LEN
                && let Some(kept) = FREE.with_borrow_mut(|free| free.take_if(|t| t.len() == len))
            {
                return Table(kept);
            }
            Table(vec![0; len].into_boxed_slice())
        }

        fn free_cell(&mut self, table: Table) {
            if table.0.len() >= POOLED_LEN {
                FREE.with_borrow_mut(|free| *free = Some(table.0));
            }
        }
    }

    /// The length of the table this thread keeps, if any.
    #[cfg(test)]
    pub(super) fn kept_table_len() -> Option<usize> {
        FREE.with_borrow(|free| free.as_ref().map(|t| t.len()))
    }

    pub(super) fn compress(level: u32, body: &[u8]) -> Option<Vec<u8>> {
        let out = Vec::with_capacity(body.len() / 3);
        if body.len() > POOLED_INPUT_MAX || level > POOLED_LEVEL_MAX {
            let mut writer = brotli::CompressorWriter::new(out, 4096, level, 22);
            writer.write_all(body).ok()?;
            // Finishes the stream.
            return Some(writer.into_inner());
        }
        let alloc = CombiningAllocator::new(
            HeapAlloc::default(),
            HeapAlloc::default(),
            HeapAlloc::default(),
            Buckets,
            HeapAlloc::default(),
            HeapAlloc::default(),
            HeapAlloc::default(),
            HeapAlloc::default(),
            HeapAlloc::default(),
            HeapAlloc::default(),
            HeapAlloc::default(),
            HeapAlloc::default(),
            HeapAlloc::default(),
            HeapAlloc::default(),
            HeapAlloc::default(),
            HeapAlloc::default(),
            HeapAlloc::default(),
            HeapAlloc::default(),
        );
        let buffer = <HeapAlloc<u8> as Allocator<u8>>::alloc_cell(&mut HeapAlloc::default(), 4096);
        let mut writer = CompressorWriterCustomAlloc::new(out, buffer, alloc, level, 22);
        writer.write_all(body).ok()?;
        Some(writer.into_inner())
    }
}

/// Zstandard from a per-thread compression context.
#[cfg(feature = "zstd")]
mod zstd_reuse {
    use std::cell::RefCell;

    thread_local! {
        static CONTEXT: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
            const { RefCell::new(None) };
    }

    pub(super) fn compress(level: u32, body: &[u8]) -> Option<Vec<u8>> {
        let level = i32::try_from(level).ok()?;
        CONTEXT.with_borrow_mut(|slot| {
            let compressor = match slot {
                Some((kept, compressor)) if *kept == level => compressor,
                _ => {
                    &mut slot
                        .insert((level, zstd::bulk::Compressor::new(level).ok()?))
                        .1
                }
            };
            let encoded = compressor.compress(body);
            if encoded.is_err() {
                *slot = None;
            }
            encoded.ok()
        })
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

    #[test]
    fn an_encoding_is_kept_in_an_allocation_of_its_own_length() {
        let mut roomy = Vec::with_capacity(4096);
        roomy.extend_from_slice(b"compressed");
        let at = roomy.as_ptr();
        let kept = exact(roomy);
        assert_eq!(&kept[..], b"compressed");
        assert_ne!(kept.as_ptr(), at, "copied out of the roomy buffer");

        let tight = b"exactly".to_vec().into_boxed_slice().into_vec();
        let at = tight.as_ptr();
        assert_eq!(exact(tight).as_ptr(), at, "already exact: not copied");
    }

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

    /// Pages of many sizes and contents, one after the other on one thread: every encoder's
    /// kept state (the reused deflate and Zstandard contexts, Brotli's pooled table) starts
    /// each page clean, and every level decodes to the page it was given.
    #[test]
    fn reused_encoder_state_never_leaks_into_the_next_page() {
        let mut seed = 7u64;
        let mut pages = Vec::new();
        for size in [1_100, 2_048, 8_192, 31_000, 65_536, 70_000] {
            let mut page = String::with_capacity(size);
            while page.len() < size {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                page.push_str(&format!(
                    "<li class=\"c{}\">item {} of {}</li>\n",
                    seed % 5,
                    (seed >> 16) % 1_000,
                    (seed >> 32) % 97
                ));
            }
            pages.push(page.into_bytes());
        }
        // Each coding's range, as `Compression::level` clamps it.
        for (coding, levels) in [
            (ContentCoding::Gzip, &[1, 4, 6, 9][..]),
            (ContentCoding::Brotli, &[1, 4, 5, 6, 9, 10, 11][..]),
            (ContentCoding::Zstd, &[1, 3, 9, 19][..]),
        ] {
            if !coding.is_supported() {
                continue;
            }
            let header = HeaderValue::from_static(coding.as_str());
            for &level in levels {
                // Twice over, so each page follows another page's state.
                for page in pages.iter().chain(pages.iter().rev()) {
                    let encoded = compress(coding, level, page).unwrap();
                    assert_eq!(
                        decode(&header, &encoded, page.len()).unwrap(),
                        &page[..],
                        "{coding} level {level}, {} bytes",
                        page.len()
                    );
                }
            }
        }
        #[cfg(feature = "br")]
        assert!(
            brotli_pool::kept_table_len().is_some_and(|len| len >= brotli_pool::POOLED_LEN),
            "the Brotli table goes back to the pool"
        );
    }

    /// The level asked for is the level used, whatever level the thread's kept encoder state
    /// was made for: each page is byte for byte what a fresh encoder at its level makes.
    #[cfg(all(feature = "gzip", feature = "zstd"))]
    #[test]
    fn each_page_is_encoded_at_the_level_asked_for() {
        use std::io::Write;

        // Varied enough that the levels find different matches.
        let page: Vec<u8> = (0u64..3000)
            .map(|i| format!("<li>{} of {}</li>", i.wrapping_mul(7919) % 1009, i % 97))
            .collect::<String>()
            .into_bytes();
        let fresh_gzip = |level| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            encoder.write_all(&page).unwrap();
            encoder.finish().unwrap()
        };
        let fresh_zstd = |level| zstd::bulk::compress(&page, level).unwrap();
        // The two levels make different bytes of this page, so a wrong level shows.
        assert_ne!(fresh_gzip(1), fresh_gzip(9));
        assert_ne!(fresh_zstd(1), fresh_zstd(9));
        // The deflate stream between gzip's 10-byte header and 8-byte trailer.
        let deflated = |gz: &[u8]| gz[10..gz.len() - 8].to_vec();
        // Levels in turn on one thread: each level after another one, and after itself.
        for level in [1, 9, 9, 1] {
            let gzip = gzip::compress(level, &page).unwrap();
            assert_eq!(
                deflated(&gzip),
                deflated(&fresh_gzip(level)),
                "gzip {level}"
            );
            let zstd = zstd_reuse::compress(level, &page).unwrap();
            assert_eq!(zstd, fresh_zstd(level as i32), "zstd {level}");
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
