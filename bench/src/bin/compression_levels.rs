//! Compression ratio against CPU time on real HTML, to choose the cache's default levels for
//! gzip, Brotli and Zstandard (a page is compressed once per render, when it is stored, never
//! per request).
//!
//! ```text
//! compression-levels [--reps N] [--per-bucket N] [--big-reps N] PATH...
//! ```
//!
//! Each `PATH` is an HTML file or a directory (every `*.html` under it, walked in name order,
//! at most 200,000 files). Pages are sorted into two size classes, "8 KB" (5–12 KiB) and
//! "40 KB" (20–60 KiB); others are skipped. When a class holds more than `--per-bucket`
//! pages (default 30), that many are taken, evenly spaced in path order.
//!
//! Every codec and level compresses every page `--reps` times (default 11, after one warm-up
//! run), round by round so that noise on the machine spreads over all of them; a page's time
//! is the median of its runs, measured with `Instant`, allocation of the output included. The
//! table shows, per class, the ratio (total compressed bytes / total input bytes) and the mean
//! over pages of that median time; MB/s is all input over all those times.
//! A second table compresses one 1 MiB page, made by concatenating distinct pages, at every
//! level (`--big-reps` runs, default 3, median).
//!
//! The calls are the cache's own: `flate2::write::GzEncoder` with `Compression::new(level)`
//! (the default miniz_oxide backend), `brotli::CompressorWriter::new(vec, 4096, quality, 22)`
//! given the whole page in one `write_all`, and `zstd::bulk::compress` (a fresh context per
//! call). The single write matters for Brotli: a page that reaches the encoder whole is hashed
//! one-shot, which clears only the hash buckets it touches, while `brotli::BrotliCompress`
//! feeds it in 4 KiB reads, so the encoder clears its whole hash table first: about three times
//! the CPU for an 8 KB page at qualities 4–6, for the same bytes out.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The "8 KB" class, in bytes.
const SMALL: std::ops::RangeInclusive<usize> = 5 * 1024..=12 * 1024;
/// The "40 KB" class, in bytes.
const LARGE: std::ops::RangeInclusive<usize> = 20 * 1024..=60 * 1024;
/// The most files a directory walk looks at.
const MAX_WALK: usize = 200_000;
/// The size of the concatenated page.
const BIG_PAGE: usize = 1024 * 1024;

/// A codec and its level.
#[derive(Clone, Copy)]
enum Codec {
    Gzip(u32),
    Brotli(u32),
    Zstd(i32),
}

impl Codec {
    fn all() -> Vec<Codec> {
        let mut all = Vec::new();
        all.extend([1, 4, 6, 9].map(Codec::Gzip));
        all.extend([1, 4, 5, 6, 9, 11].map(Codec::Brotli));
        all.extend([1, 3, 6, 9, 19].map(Codec::Zstd));
        all
    }

    fn name(self) -> &'static str {
        match self {
            Codec::Gzip(_) => "gzip",
            Codec::Brotli(_) => "br",
            Codec::Zstd(_) => "zstd",
        }
    }

    fn level(self) -> i64 {
        match self {
            Codec::Gzip(level) | Codec::Brotli(level) => i64::from(level),
            Codec::Zstd(level) => i64::from(level),
        }
    }

    /// Compresses `input`, returning the compressed length.
    fn compress(self, input: &[u8]) -> std::io::Result<usize> {
        match self {
            Codec::Gzip(level) => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(input.len() / 3),
                    flate2::Compression::new(level),
                );
                encoder.write_all(input)?;
                Ok(encoder.finish()?.len())
            }
            Codec::Brotli(quality) => {
                let mut writer = brotli::CompressorWriter::new(
                    Vec::with_capacity(input.len() / 3),
                    4096,
                    quality,
                    22,
                );
                // The whole page in one write: see the module's documentation.
                writer.write_all(input)?;
                Ok(writer.into_inner().len())
            }
            Codec::Zstd(level) => Ok(zstd::bulk::compress(input, level)?.len()),
        }
    }
}

/// One compression of `input`, timed in microseconds, and its length.
fn time(codec: Codec, input: &[u8]) -> std::io::Result<(f64, usize)> {
    let started = Instant::now();
    let len = std::hint::black_box(codec.compress(std::hint::black_box(input))?);
    Ok((started.elapsed().as_secs_f64() * 1e6, len))
}

/// For each codec and page: the median time of `reps` runs after one warm-up, in microseconds,
/// and the compressed length. The runs go round by round (every codec on every page, then
/// again), so a burst of noise on the machine spreads over all codecs rather than one.
fn measure(
    codecs: &[Codec],
    pages: &[&[u8]],
    reps: usize,
) -> std::io::Result<Vec<Vec<(f64, usize)>>> {
    let mut lens = Vec::with_capacity(codecs.len());
    for codec in codecs {
        lens.push(
            pages
                .iter()
                .map(|page| codec.compress(page))
                .collect::<std::io::Result<Vec<_>>>()?,
        );
    }
    let mut runs = vec![vec![Vec::with_capacity(reps); pages.len()]; codecs.len()];
    for _ in 0..reps {
        for (c, codec) in codecs.iter().enumerate() {
            for (p, page) in pages.iter().enumerate() {
                let (us, len) = time(*codec, page)?;
                assert_eq!(len, lens[c][p], "the same input compressed to two lengths");
                runs[c][p].push(us);
            }
        }
    }
    Ok(runs
        .into_iter()
        .zip(lens)
        .map(|(per_page, lens)| {
            per_page
                .into_iter()
                .zip(lens)
                .map(|(mut runs, len)| {
                    runs.sort_by(f64::total_cmp);
                    (runs[runs.len() / 2], len)
                })
                .collect()
        })
        .collect())
}

/// Every `*.html` under `dir`, in name order, until `files` holds `MAX_WALK`.
fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort();
    for path in entries {
        if files.len() >= MAX_WALK {
            break;
        }
        if path.is_dir() {
            walk(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "html") {
            files.push(path);
        }
    }
    Ok(())
}

/// `n` of `items`, evenly spaced (all of them if there are no more than `n`).
fn sample<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n {
        return items.to_vec();
    }
    (0..n).map(|i| items[i * items.len() / n].clone()).collect()
}

/// Pages of one size class.
struct Bucket {
    label: &'static str,
    pages: Vec<(PathBuf, Vec<u8>)>,
}

impl Bucket {
    fn input_bytes(&self) -> usize {
        self.pages.iter().map(|(_, p)| p.len()).sum()
    }

    fn mean_size(&self) -> f64 {
        self.input_bytes() as f64 / self.pages.len().max(1) as f64
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut reps = 11usize;
    let mut per_bucket = 30usize;
    let mut big_reps = 3usize;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--reps" => reps = args.next().ok_or("--reps needs a value")?.parse()?,
            "--per-bucket" => {
                per_bucket = args.next().ok_or("--per-bucket needs a value")?.parse()?;
            }
            "--big-reps" => big_reps = args.next().ok_or("--big-reps needs a value")?.parse()?,
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    if paths.is_empty() || reps == 0 || big_reps == 0 {
        return Err(
            "usage: compression-levels [--reps N] [--per-bucket N] [--big-reps N] PATH...".into(),
        );
    }

    let mut files = Vec::new();
    for path in &paths {
        if path.is_dir() {
            walk(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    let (mut small, mut large, mut skipped) = (Vec::new(), Vec::new(), 0usize);
    for file in files {
        let len = usize::try_from(std::fs::metadata(&file)?.len())?;
        if SMALL.contains(&len) {
            small.push(file);
        } else if LARGE.contains(&len) {
            large.push(file);
        } else {
            skipped += 1;
        }
    }
    let candidates = small.len() + large.len();
    let load = |files: Vec<PathBuf>| -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
        files
            .into_iter()
            .map(|f| std::fs::read(&f).map(|bytes| (f, bytes)))
            .collect()
    };
    let buckets = [
        Bucket {
            label: "8 KB",
            pages: load(sample(&small, per_bucket))?,
        },
        Bucket {
            label: "40 KB",
            pages: load(sample(&large, per_bucket))?,
        },
    ];

    println!(
        "{candidates} pages in the two classes ({skipped} other sizes skipped); \
         {reps} runs per page after a warm-up, median per page.\n"
    );
    for bucket in &buckets {
        println!(
            "- {} class: {} pages, {} bytes, mean {:.0} bytes",
            bucket.label,
            bucket.pages.len(),
            bucket.input_bytes(),
            bucket.mean_size(),
        );
    }
    println!();
    println!("| codec | level | ratio 8 KB | µs/page 8 KB | ratio 40 KB | µs/page 40 KB | MB/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let codecs = Codec::all();
    let pages: Vec<&[u8]> = buckets
        .iter()
        .flat_map(|b| b.pages.iter().map(|(_, p)| &p[..]))
        .collect();
    let measured = measure(&codecs, &pages, reps)?;
    for (codec, per_page) in codecs.iter().zip(&measured) {
        let mut row = format!("| {} | {} |", codec.name(), codec.level());
        let (mut bytes, mut micros) = (0usize, 0.0f64);
        let mut rest = &per_page[..];
        for bucket in &buckets {
            let (these, others) = rest.split_at(bucket.pages.len());
            rest = others;
            let compressed: usize = these.iter().map(|(_, len)| len).sum();
            let us: f64 = these.iter().map(|(us, _)| us).sum();
            let input = bucket.input_bytes();
            bytes += input;
            micros += us;
            row += &format!(
                " {:.1} % | {:.0} |",
                100.0 * compressed as f64 / input.max(1) as f64,
                us / bucket.pages.len().max(1) as f64,
            );
        }
        // Bytes per microsecond is MB/s.
        row += &format!(" {:.1} |", bytes as f64 / micros.max(f64::MIN_POSITIVE));
        println!("{row}");
    }

    // One 1 MiB page: distinct pages end to end, the sampled ones first.
    let mut big = Vec::with_capacity(BIG_PAGE);
    let sampled: Vec<&PathBuf> = buckets
        .iter()
        .flat_map(|b| b.pages.iter().map(|(f, _)| f))
        .collect();
    let rest = large.iter().chain(&small).filter(|f| !sampled.contains(f));
    for (_, page) in buckets.iter().flat_map(|b| &b.pages) {
        big.extend_from_slice(page);
    }
    for file in rest {
        if big.len() >= BIG_PAGE {
            break;
        }
        big.extend_from_slice(&std::fs::read(file)?);
    }
    if big.len() < BIG_PAGE {
        println!("\nnot enough pages for a 1 MiB page ({} bytes)", big.len());
        return Ok(());
    }
    big.truncate(BIG_PAGE);
    println!("\nOne 1 MiB page (distinct pages concatenated), median of {big_reps} runs:\n");
    println!("| codec | level | ratio | ms | MB/s |");
    println!("|---|---:|---:|---:|---:|");
    let measured = measure(&codecs, &[&big[..]], big_reps)?;
    for (codec, per_page) in codecs.iter().zip(&measured) {
        let (us, len) = per_page[0];
        println!(
            "| {} | {} | {:.1} % | {:.1} | {:.1} |",
            codec.name(),
            codec.level(),
            100.0 * len as f64 / big.len() as f64,
            us / 1000.0,
            big.len() as f64 / us,
        );
    }
    Ok(())
}
