//! The file store: entries on disk, for warm restarts.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use moka::notification::RemovalCause;

use super::{
    InvalidationLog, MemoryStore, StampLine, Store, StoreError, StoreFuture, StoreStatus,
    StoreUsage,
};
use crate::entry::Entry;
use crate::invalidate::{InvalidationMode, InvalidationTarget, StampRecord, StampSink};

const ENTRIES: &str = "entries";
const TMP: &str = "tmp";
const STAMPS: &str = "stamps.log";
const SUFFIX: &str = "isr";

/// Entries in files under a directory: a restart serves what is still fresh without rendering
/// it again, and keeps stale entries as the safety net.
///
/// Each entry is one file, written atomically (a temporary file, `fsync`, then a rename), in the
/// checksummed format of [`Entry::encode`]; a corrupt or truncated file is detected when read,
/// skipped with a warning and removed, never served. The directory is bounded by bytes: past
/// the bound the least useful files are deleted. Invalidation stamps are appended to
/// `stamps.log` (and `fsync`ed), so a purge made before a restart still holds after it.
/// Recently used entries are also kept in memory, so a hit does not read the disk.
///
/// # Several processes on one directory
///
/// Processes (or stores) may share a directory, as a rolling deploy on a shared volume does:
/// each writes its temporary files under names of its own and, when it opens, removes only
/// those of writers that are gone (or older than an hour), never another live process's
/// in-flight writes. A page one process stored is read by the others (a key a store has not
/// indexed is looked for on disk). Each process keeps the byte bound over the files it knows
/// (those it wrote, found at open, or read since), so `n` processes hold at most `n` times the
/// bound, and a file another process evicted is a miss, never an error.
///
/// ```no_run
/// use isr_layer::IsrLayer;
/// use isr_layer::store::FsStore;
///
/// let store = FsStore::builder("/var/cache/my-site")
///     .max_bytes(2 * 1024 * 1024 * 1024)
///     .open()
///     .expect("the cache directory is usable");
/// let isr = IsrLayer::builder().store(store).build().unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct FsStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    memory: MemoryStore,
    /// File stem → size on disk; evicting by size deletes the file.
    files: moka::sync::Cache<Arc<str>, u64>,
    stamps: Mutex<Option<fs::File>>,
    loaded_stamps: Mutex<Vec<StampRecord>>,
    /// This store's part of its temporary files' names (`<stem>.<pid>.<writer>.<n>`), unique
    /// among the stores of this process.
    writer: u64,
    counter: AtomicU64,
    /// The thread indexing the files found at open, until it is joined.
    indexing: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Builds an [`FsStore`].
#[derive(Clone, Debug)]
#[must_use]
pub struct FsStoreBuilder {
    dir: PathBuf,
    max_bytes: u64,
    memory_bytes: u64,
}

impl FsStoreBuilder {
    /// The most bytes of entry files kept on disk. Default 1 GiB.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The most bytes of entries also kept in memory. Default 64 MiB.
    pub fn memory_bytes(mut self, bytes: u64) -> Self {
        self.memory_bytes = bytes;
        self
    }

    /// Creates the directory if needed, reads the invalidation stamps, and starts indexing the
    /// entries already there on a thread of its own (see [`FsStore::wait_indexed`]).
    pub fn open(self) -> Result<FsStore, StoreError> {
        let entries = self.dir.join(ENTRIES);
        let tmp = self.dir.join(TMP);
        fs::create_dir_all(&entries)?;
        fs::create_dir_all(&tmp)?;
        remove_abandoned_writes(&tmp)?;
        let evict_dir = entries.clone();
        let files = moka::sync::Cache::builder()
            .max_capacity(self.max_bytes)
            .weigher(|_: &Arc<str>, size: &u64| u32::try_from(*size).unwrap_or(u32::MAX))
            .eviction_listener(move |stem: Arc<Arc<str>>, _, cause| {
                if cause == RemovalCause::Size {
                    let _ = fs::remove_file(entry_path(&evict_dir, &stem));
                }
            })
            .build();
        // Read now, so that a directory that cannot be listed fails the open.
        let listing = fs::read_dir(&entries)?;
        let (stamps, loaded) = open_stamps(&self.dir)?;
        let inner = Arc::new(Inner {
            dir: self.dir,
            memory: MemoryStore::new(self.memory_bytes),
            files,
            stamps: Mutex::new(Some(stamps)),
            loaded_stamps: Mutex::new(loaded),
            writer: writer_id(),
            counter: AtomicU64::new(0),
            indexing: Mutex::new(None),
        });
        // The files already there are indexed in the background: the store serves from the
        // start (a key it has not indexed yet is read from disk, as another process's file
        // is), and a directory of a million entries does not hold the first answer for
        // seconds. Until the scan ends, the byte bound counts only the files indexed so far.
        let indexer = Arc::clone(&inner);
        let handle = std::thread::Builder::new()
            .name("isr-fs-index".to_owned())
            .spawn(move || index_files(&indexer, listing))?;
        *inner
            .indexing
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(handle);
        Ok(FsStore { inner })
    }
}

/// Indexes the entry files of `listing` that `inner` does not know yet (a file written or read
/// since the open keeps the size recorded then), then logs what the store holds.
fn index_files(inner: &Inner, listing: fs::ReadDir) {
    let started = std::time::Instant::now();
    for file in listing.flatten() {
        let path = file.path();
        if path.extension().and_then(|e| e.to_str()) != Some(SUFFIX) {
            continue;
        }
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        // A file evicted or replaced meanwhile is simply not indexed from this listing.
        if let Ok(meta) = file.metadata() {
            inner.files.entry(Arc::from(stem)).or_insert(meta.len());
        }
    }
    inner.files.run_pending_tasks();
    tracing::info!(
        target: "isr",
        dir = %inner.dir.display(),
        entries = inner.files.entry_count(),
        stamps = inner
            .loaded_stamps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len(),
        took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "file store indexed"
    );
}

impl FsStore {
    /// A store in `dir` with the default bounds.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        Self::builder(dir).open()
    }

    /// A builder for a store in `dir`.
    pub fn builder(dir: impl Into<PathBuf>) -> FsStoreBuilder {
        FsStoreBuilder {
            dir: dir.into(),
            max_bytes: 1024 * 1024 * 1024,
            memory_bytes: 64 * 1024 * 1024,
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Waits until the files found at open are indexed (at most the time to list the
    /// directory and read each file's size); later calls return at once. Blocks the thread:
    /// from async code, call it through `tokio::task::spawn_blocking`.
    pub fn wait_indexed(&self) {
        // Joined under the lock: a second caller waits for the first one's join to end.
        let mut indexing = self
            .inner
            .indexing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(handle) = indexing.take() {
            // The indexing thread does not panic; if it did, the index is only partial.
            let _ = handle.join();
        }
    }

    /// The file an entry with `key` is kept in.
    pub fn path_of(&self, key: &str) -> PathBuf {
        entry_path(&self.inner.dir.join(ENTRIES), &stem_of(key))
    }
}

fn stem_of(key: &str) -> Arc<str> {
    Arc::from(format!(
        "{:032x}",
        xxhash_rust::xxh3::xxh3_128(key.as_bytes())
    ))
}

/// A number no other store of this process uses, for its temporary files' names.
fn writer_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Temporary files older than this are abandoned whoever wrote them: a write takes
/// milliseconds, and a process id may have been reused since.
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the temporary files of writes that can no longer finish: those of a process that
/// is gone (a crash between write and rename), and any older than [`ABANDONED_AFTER`]. The
/// in-flight writes of live processes sharing the directory (a rolling deploy on a shared
/// volume) are left alone.
fn remove_abandoned_writes(tmp: &Path) -> Result<(), StoreError> {
    for leftover in fs::read_dir(tmp)? {
        let leftover = leftover?;
        let name = leftover.file_name();
        let writer = name
            .to_str()
            .and_then(|n| n.split('.').nth(1))
            .and_then(|pid| pid.parse::<u32>().ok());
        let old = leftover
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|age| age > ABANDONED_AFTER);
        if old || writer.is_none_or(|pid| !process_is_alive(pid)) {
            let _ = fs::remove_file(leftover.path());
        }
    }
    Ok(())
}

/// Whether a process with this id runs (on Linux; elsewhere every writer counts as alive and
/// only the age rule removes its files).
fn process_is_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

fn entry_path(entries: &Path, stem: &str) -> PathBuf {
    entries.join(format!("{stem}.{SUFFIX}"))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(Box::new(e)))?
}

impl Store for FsStore {
    fn get_local(&self, key: &str) -> Option<Arc<Entry>> {
        self.inner.memory.get_local(key)
    }

    fn get_shared<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Arc<Entry>>> {
        Box::pin(async move {
            let stem = stem_of(key);
            // Files this store did not index may have been written since by another process
            // on the same directory: a key it does not know is looked for on disk too (a miss
            // renders anyway; a failed open costs microseconds).
            let path = self.path_of(key);
            let read_path = path.clone();
            let bytes = match blocking(move || Ok(fs::read(read_path)?)).await {
                Ok(bytes) => bytes,
                Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.inner.files.invalidate(&stem);
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            match Entry::decode(&bytes) {
                Ok(entry) if &*entry.key == key => {
                    if !self.inner.files.contains_key(&stem) {
                        // Another process's file: from now on under this store's byte bound.
                        self.inner
                            .files
                            .insert(Arc::clone(&stem), bytes.len() as u64);
                    }
                    Ok(Some(self.inner.memory.keep(entry)))
                }
                Ok(_) => Ok(None), // a hash collision: another key's file
                Err(error) => {
                    if let crate::store::DecodeError::Version(_) = error {
                        tracing::info!(target: "isr", file = %path.display(), %error, "cache file of another format version dropped; the page renders again");
                    } else {
                        tracing::warn!(target: "isr", file = %path.display(), %error, "corrupt cache file skipped and removed");
                    }
                    self.inner.files.invalidate(&stem);
                    let _ = blocking(move || Ok(fs::remove_file(path)?)).await;
                    Ok(None)
                }
            }
        })
    }

    fn is_local_only(&self) -> bool {
        false
    }

    fn reweigh(&self, entry: &Arc<Entry>) {
        self.inner.memory.reweigh_local(entry);
    }

    fn put(&self, entry: Arc<Entry>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            // In memory first: a failing disk still serves the page from this process.
            self.inner.memory.insert(Arc::clone(&entry));
            let stem = stem_of(&entry.key);
            let bytes = entry.encode();
            let size = bytes.len() as u64;
            let entries = self.inner.dir.join(ENTRIES);
            let tmp = self.inner.dir.join(TMP).join(format!(
                "{stem}.{}.{}.{}",
                std::process::id(),
                self.inner.writer,
                self.inner.counter.fetch_add(1, Ordering::Relaxed)
            ));
            let target = entry_path(&entries, &stem);
            let inner = Arc::clone(&self.inner);
            blocking(move || {
                let written = (|| {
                    let mut file = fs::File::create_new(&tmp)?;
                    file.write_all(&bytes)?;
                    file.sync_all()?;
                    fs::rename(&tmp, &target)
                })();
                if written.is_err() {
                    let _ = fs::remove_file(&tmp);
                }
                written?;
                // Indexing the file may evict others, and evicting deletes their files: that
                // happens here, on the blocking pool, not on the runtime's workers.
                inner.files.insert(stem, size);
                Ok(())
            })
            .await
        })
    }

    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.inner.memory.remove_local(key);
            // Out of the index at once: a read meanwhile must not find the file and bring the
            // removed entry back into memory.
            self.inner.files.invalidate(&stem_of(key));
            let path = self.path_of(key);
            blocking(move || match fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => Ok(()),
            })
            .await
        })
    }

    fn status(&self) -> StoreStatus {
        StoreStatus::local("files", self.inner.files.policy().max_capacity())
    }

    fn usage(&self) -> StoreUsage {
        self.inner.files.run_pending_tasks();
        StoreUsage {
            entries: self.inner.files.entry_count(),
            bytes: self.inner.files.weighted_size(),
        }
    }

    fn local_entries(&self, limit: usize) -> Vec<Arc<Entry>> {
        self.inner.memory.local_entries(limit)
    }

    /// `stamps.log`: purges made before a restart hold after it.
    fn invalidation_log(&self) -> Option<&dyn InvalidationLog> {
        Some(self)
    }
}

impl InvalidationLog for FsStore {
    fn attach(&self, sink: StampSink) {
        let loaded = std::mem::take(
            &mut *self
                .inner
                .loaded_stamps
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for record in &loaded {
            sink.apply(record);
        }
    }

    fn record_invalidation<'a>(&'a self, record: &'a StampRecord) -> StoreFuture<'a, ()> {
        let line = StampLine::from(record);
        let inner = Arc::clone(&self.inner);
        Box::pin(blocking(move || {
            let mut line =
                serde_json::to_string(&line).map_err(|e| StoreError::Backend(Box::new(e)))?;
            line.push('\n');
            let mut guard = inner.stamps.lock().unwrap_or_else(PoisonError::into_inner);
            let file = guard
                .as_mut()
                .ok_or_else(|| StoreError::Io(std::io::Error::other("stamp log is closed")))?;
            file.write_all(line.as_bytes())?;
            file.sync_data()?;
            Ok(())
        }))
    }
}

/// Reads `stamps.log`, keeps the newest stamp per target and mode, rewrites the log compacted,
/// and opens it for appending. Unreadable lines are skipped with a warning.
fn open_stamps(dir: &Path) -> Result<(fs::File, Vec<StampRecord>), StoreError> {
    let path = dir.join(STAMPS);
    let mut newest: std::collections::HashMap<(InvalidationTarget, InvalidationMode), u64> =
        std::collections::HashMap::new();
    if let Ok(file) = fs::File::open(&path) {
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let parsed = line
                .ok()
                .and_then(|l| serde_json::from_str::<StampLine>(&l).ok())
                .and_then(StampLine::record);
            match parsed {
                Some(record) => {
                    let at = newest.entry((record.target, record.mode)).or_default();
                    *at = (*at).max(record.at);
                }
                None => {
                    tracing::warn!(target: "isr", file = %path.display(), line = n + 1, "skipped an unreadable invalidation stamp")
                }
            }
        }
    }
    let records: Vec<StampRecord> = newest
        .into_iter()
        .map(|((target, mode), at)| StampRecord::new(target, mode, at))
        .collect();
    let compacted = dir.join(TMP).join("stamps.compact");
    {
        let mut file = fs::File::create(&compacted)?;
        for record in &records {
            let line = serde_json::to_string(&StampLine::from(record))
                .map_err(|e| StoreError::Backend(Box::new(e)))?;
            writeln!(file, "{line}")?;
        }
        file.sync_all()?;
    }
    fs::rename(&compacted, &path)?;
    let append = fs::OpenOptions::new().append(true).open(&path)?;
    Ok((append, records))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tier_tests::entry;

    /// A store in a new temporary directory, removed when the directory is dropped.
    fn fresh() -> (tempfile::TempDir, FsStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).unwrap();
        (dir, store)
    }

    /// A new temporary directory with the store's temporary files' directory, before a store
    /// opens it.
    fn with_tmp() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join(TMP);
        fs::create_dir_all(&tmp).unwrap();
        (dir, tmp)
    }

    #[test]
    fn the_bounds_are_the_ones_asked_for_and_1_gib_and_64_mib_by_default() {
        let (dir, store) = fresh();
        assert_eq!(store.inner.files.policy().max_capacity(), Some(1 << 30));
        assert_eq!(store.inner.memory.max_bytes(), 64 << 20);
        let store = FsStore::builder(dir.path())
            .max_bytes(5_000)
            .memory_bytes(700)
            .open()
            .unwrap();
        assert_eq!(store.inner.files.policy().max_capacity(), Some(5_000));
        assert_eq!(store.inner.memory.max_bytes(), 700);
    }

    #[cfg(feature = "gzip")]
    #[tokio::test]
    async fn an_encoding_made_later_is_weighed_in_the_memory_tier() {
        let (_dir, store) = fresh();
        let memory = store.clone();
        crate::store::tier_tests::an_encoding_made_later_is_weighed(store, move || {
            memory.inner.memory.usage().bytes
        })
        .await;
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_read_is_an_error_not_a_miss() {
        let (_dir, store) = fresh();
        assert!(store.get_shared("/p").await.unwrap().is_none(), "no file");
        // Reading a directory fails whoever asks (root reads any file).
        fs::create_dir_all(store.path_of("/p")).unwrap();
        assert!(store.get_shared("/p").await.is_err());
    }

    #[tokio::test]
    async fn removing_a_key_without_a_file_is_done_and_a_file_that_stays_is_an_error() {
        let (_dir, store) = fresh();
        store.remove("/never-stored").await.unwrap();
        // A directory where the file would be cannot be removed as a file.
        fs::create_dir_all(store.path_of("/p")).unwrap();
        assert!(store.remove("/p").await.is_err());
    }

    #[test]
    fn once_indexed_every_file_found_at_open_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let entries = dir.path().join(ENTRIES);
        fs::create_dir_all(&entries).unwrap();
        // The index reads names and sizes only; enough files that listing them takes a while.
        for n in 0..2_000 {
            fs::write(entries.join(format!("{n:04}.{SUFFIX}")), b"12345").unwrap();
        }
        fs::write(entries.join("other.txt"), b"not an entry").unwrap();

        let store = FsStore::open(dir.path()).unwrap();
        store.wait_indexed();
        assert!(
            store.inner.indexing.lock().unwrap().is_none(),
            "the indexing thread is joined"
        );
        let usage = store.usage();
        assert_eq!((usage.entries, usage.bytes), (2_000, 10_000));
    }

    #[tokio::test]
    async fn a_file_holding_another_keys_entry_is_not_served() {
        let (_dir, store) = fresh();
        // What a hash collision would look like: the file of "/a" holds the entry of "/b".
        fs::write(store.path_of("/a"), entry("/b", "other page").encode()).unwrap();
        assert!(store.get_shared("/a").await.unwrap().is_none());
        assert!(store.get_local("/a").is_none());
    }

    #[tokio::test]
    async fn a_file_written_by_another_process_comes_under_the_byte_bound_once_read() {
        let (_dir, store) = fresh();
        store.wait_indexed();
        // Written after this store listed the directory, as another process would.
        let bytes = entry("/p", "page").encode();
        fs::write(store.path_of("/p"), &bytes).unwrap();
        assert_eq!(store.usage().entries, 0, "not indexed");
        assert!(store.get_shared("/p").await.unwrap().is_some());
        let usage = store.usage();
        assert_eq!((usage.entries, usage.bytes), (1, bytes.len() as u64));
    }

    #[tokio::test]
    async fn the_entries_listed_are_those_of_the_memory_tier() {
        let (_dir, store) = fresh();
        assert!(store.local_entries(10).is_empty());
        store.put(entry("/p", "page")).await.unwrap();
        let listed = store.local_entries(10);
        assert_eq!(listed.len(), 1);
        assert_eq!(&*listed[0].key, "/p");
    }

    #[test]
    fn two_stores_of_one_process_name_their_temporary_files_apart() {
        // Each store counts its writes from 0: the writer number keeps two stores on one
        // directory (a test, or an app that opens it twice) from writing one temporary file.
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            FsStore::open(dir.path()).unwrap(),
            FsStore::open(dir.path()).unwrap(),
        );
        assert_ne!(a.inner.writer, b.inner.writer);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn another_live_processs_temporary_file_is_left_and_a_gone_ones_removed() {
        let (dir, tmp) = with_tmp();
        // The process that started this test runs; a child that has exited is gone.
        let live = std::os::unix::process::parent_id();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let in_flight = tmp.join(format!("abc.{live}.7.0"));
        let crashed = tmp.join(format!("def.{gone}.7.0"));
        fs::write(&in_flight, b"x").unwrap();
        fs::write(&crashed, b"x").unwrap();

        let _store = FsStore::open(dir.path()).unwrap();
        assert!(
            in_flight.exists(),
            "another process's write in flight is left alone"
        );
        assert!(!crashed.exists(), "its writer is gone");
    }

    #[test]
    fn a_live_writers_temporary_file_is_removed_once_it_is_abandoned_by_age() {
        // This process is alive: only the age rule can remove its files (a process id may have
        // been reused by a live process since a crash).
        let (dir, tmp) = with_tmp();
        let pid = std::process::id();
        let in_flight = tmp.join(format!("abc.{pid}.7.0"));
        let abandoned = tmp.join(format!("def.{pid}.7.1"));
        fs::write(&in_flight, b"x").unwrap();
        let file = fs::File::create(&abandoned).unwrap();
        let two_hours = std::time::Duration::from_secs(7200);
        file.set_modified(std::time::SystemTime::now() - two_hours)
            .unwrap();
        drop(file);

        let _store = FsStore::open(dir.path()).unwrap();
        assert!(in_flight.exists(), "a write in flight is left alone");
        assert!(!abandoned.exists(), "an hour old: abandoned");
    }
}
