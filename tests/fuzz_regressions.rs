//! Replays the kept fuzz inputs in plain `cargo test`: every file in `fuzz/regressions/TARGET/`
//! (minimised inputs that once failed) and `fuzz/seeds/TARGET/` (the starting corpus) goes
//! through the same check function as the fuzz target `TARGET` (`fuzz/common.rs`, shared
//! with the fuzz crate), so a bug the fuzzer found stays fixed without a fuzzer installed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

#[path = "../fuzz/common.rs"]
mod common;

/// Runs every input kept for `target`; fails naming each input that panics.
fn replay(target: &str, check: fn(&[u8])) {
    let dirs = [format!("regressions/{target}"), format!("seeds/{target}")];
    replay_dirs(&dirs, check);
}

/// Runs every file directly in `fuzz/DIR/` for each of `dirs` through `check`.
fn replay_dirs(dirs: &[String], check: fn(&[u8])) {
    let root = crate::util::root().join("fuzz");
    let mut inputs = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("readable directory").path();
            // `.gitkeep` and notes (`*.md`) are not inputs.
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_file() && !name.starts_with('.') && !name.ends_with(".md") {
                inputs.push(path);
            }
        }
    }
    inputs.sort();
    assert!(!inputs.is_empty(), "no inputs in fuzz/{dirs:?}");
    let failed: Vec<String> = inputs
        .iter()
        .filter_map(|path| {
            let data = std::fs::read(path).expect("readable input");
            catch_unwind(AssertUnwindSafe(|| check(&data)))
                .err()
                .map(|_| crate::util::rel(Path::new(path)))
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} inputs fail (the panic messages are above): {failed:?}",
        failed.len(),
        inputs.len()
    );
}

#[test]
fn fuzz_spec_loader_inputs() {
    replay("spec_loader", common::spec_loader);
}

#[test]
fn fuzz_address_inputs() {
    replay("address", common::address);
}

#[test]
fn fuzz_header_inputs() {
    replay("header", common::header);
}

#[test]
fn fuzz_smtp_reply_inputs() {
    replay("smtp_reply", common::smtp_reply);
}

#[test]
fn fuzz_render_record_inputs() {
    replay("render_record", common::render_record);
}

/// The fixed spec of `render_record` must compile, or that target would test nothing.
#[test]
fn fuzz_render_record_spec_compiles() {
    let c = common::render_spec();
    assert!(c.warnings.is_empty(), "warnings: {:?}", c.warnings);
}

/// Found by the fuzz tests: the spec loader was quadratic in the length of a line (each node's
/// position was found by scanning its line from the start), so a 128 KB spec on one line (YAML
/// flow style) took 2.4 s to load and a 1 MB one minutes. It goes through the same checks as
/// the `spec_loader` target; no timing is asserted (machines vary), but a regression shows as a
/// test that takes seconds instead of milliseconds.
#[test]
fn fuzz_one_line_spec_loads() {
    let spec = format!("mailspec: 1\nx: [{}1]\n", "1,".repeat(128 << 10));
    common::spec_loader(spec.as_bytes());
}

/// A `spec_loader` seed named after an example is a copy of that example, taken when the seed
/// was written: it must still compile (as the fuzz target compiles it, in `specs/`) with no
/// error, or the fuzzer starts from a rejected spec and rarely reaches the renderer.
#[test]
fn seeds_named_after_examples_are_valid_specs() {
    let root = crate::util::root();
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("fuzz/seeds/spec_loader")).expect("seeds") {
        let path = entry.expect("readable").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !root.join("specs").join(name).exists() {
            continue;
        }
        let mut sources = mailspec::diag::Sources::default();
        let text = std::fs::read_to_string(&path).expect("UTF-8 seed");
        let id = sources.add("fuzz.yaml", text);
        if let Err((s, d)) =
            mailspec::spec::compile_source(&root.join("specs/fuzz.yaml"), sources, id)
        {
            panic!(
                "fuzz/seeds/spec_loader/{name} is not a valid spec:\n{}",
                s.render(&d)
            );
        }
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} seeds named after an example");
}
