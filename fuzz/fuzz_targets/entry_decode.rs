//! Any bytes given to `Entry::decode` are rejected or decode to an entry that re-encodes to
//! the same bytes; nothing panics.
#![no_main]

use isr_layer::store::Entry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = Entry::decode(data) {
        assert_eq!(&entry.encode()[..], data);
    }
});
