//! Fuzz target `header`: see `mailspec_fuzz::header` (fuzz/common.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailspec_fuzz::header(data));
