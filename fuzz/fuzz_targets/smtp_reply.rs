//! Fuzz target `smtp_reply`: see `mailspec_fuzz::smtp_reply` (fuzz/common.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailspec_fuzz::smtp_reply(data));
