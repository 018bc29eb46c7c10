//! Fuzz target `address`: see `mailspec_fuzz::address` (fuzz/common.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailspec_fuzz::address(data));
