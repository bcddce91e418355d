//! Replays the fuzz corpora kept in `fuzz/corpus` with the fuzz targets' own checks, so every
//! input the fuzzers were seeded with (and every crash they ever found, once added) runs in
//! the regular suite.

use std::path::PathBuf;

use isr_layer::store::Entry;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|f| {
            let path = f.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "the {target} corpus is empty");
    inputs
}

#[test]
fn entry_decode_corpus() {
    let mut decoded = 0;
    for (path, data) in corpus("entry_decode") {
        if let Ok(entry) = Entry::decode(&data) {
            assert_eq!(&entry.encode()[..], &data[..], "{}", path.display());
            decoded += 1;
        }
    }
    assert!(decoded >= 1, "the corpus keeps at least one valid entry");
}

#[test]
fn canonical_path_corpus() {
    for (path, data) in corpus("canonical_path") {
        let Ok(input) = std::str::from_utf8(&data) else {
            continue;
        };
        if let Some(canonical) = isr_layer::key::canonical_path(input) {
            assert!(canonical.starts_with('/'), "{}", path.display());
            assert_eq!(
                isr_layer::key::canonical_path(&canonical).as_deref(),
                Some(canonical.as_str())
            );
            assert!(!canonical.contains("//"));
        }
    }
}
