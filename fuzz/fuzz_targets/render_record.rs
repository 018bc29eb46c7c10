//! Fuzz target `render_record`: see `mailspec_fuzz::render_record` (fuzz/common.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailspec_fuzz::render_record(data));
