//! Fuzz target `spec_loader`: see `mailspec_fuzz::spec_loader` (fuzz/common.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailspec_fuzz::spec_loader(data));
