//! Shared helpers for the integration tests.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// insta settings: snapshots in the top-level `snapshots/` folder, no module prefix.
pub fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

/// Every valid example spec: `specs/*.yaml` and `specs/*/spec.yaml`.
pub fn example_specs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let specs = root().join("specs");
    for entry in std::fs::read_dir(&specs).expect("specs/ exists") {
        let p = entry.expect("readable").path();
        if p.extension().is_some_and(|e| e == "yaml") {
            out.push(p);
        } else if p.is_dir() && p.join("spec.yaml").exists() {
            out.push(p.join("spec.yaml"));
        }
    }
    out.sort();
    out
}

/// A path relative to the repository root, with `/` separators (stable in snapshots).
pub fn rel(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}
