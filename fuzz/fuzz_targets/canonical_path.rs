//! Canonical paths are stable (canonical twice is canonical once), absolute, and free of dot
//! segments and empty segments; nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else { return };
    if let Some(canonical) = isr_layer::key::canonical_path(path) {
        assert!(canonical.starts_with('/'));
        assert_eq!(isr_layer::key::canonical_path(&canonical).as_deref(), Some(canonical.as_str()));
        assert!(!canonical.contains("//"));
        assert!(canonical.split('/').all(|s| s != "." && s != ".."));
    }
});
