//! Diagnostics for invalid specs: snapshots of what users see, exact positions, every code.

use std::collections::BTreeSet;
use std::path::Path;

use mailspec::diag::{Code, Diagnostic, Sources};

use crate::util::{rel, root, settings};

/// Compiles a spec and, when it compiles, dry-runs its sample records the way `check` does;
/// `strict_*.yaml` specs also get the warnings of `check --strict`.
fn check(path: &Path) -> (Sources, Vec<Diagnostic>) {
    match mailspec::spec::compile_path(path) {
        Ok(mut c) => {
            let mut d = std::mem::take(&mut c.warnings);
            d.extend(mailspec::batch::dry_run(&c));
            let strict = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("strict_"));
            if strict {
                d.extend(mailspec::deliver::strict::warnings(&c));
            }
            (c.sources, d)
        }
        Err(e) => e,
    }
}

/// `# expect: CODE at LINE:COL` (or `# expect: CODE` for a file-level problem) lines at the top
/// of each invalid spec.
fn expectations(text: &str) -> Vec<(String, Option<(usize, usize)>)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .filter_map(|l| match l.split_once(" at ") {
            Some((code, pos)) => {
                let (line, col) = pos.trim().split_once(':')?;
                Some((
                    code.trim().to_string(),
                    Some((line.parse().ok()?, col.parse().ok()?)),
                ))
            }
            None => Some((l.trim().to_string(), None)),
        })
        .collect()
}

#[test]
fn invalid_specs() {
    let dir = root().join("specs/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("specs/invalid")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 25, "only {} invalid specs", files.len());
    let mut seen_codes = BTreeSet::new();
    let mut failures = Vec::new();
    for path in &files {
        let text = String::from_utf8_lossy(&std::fs::read(path).expect("read")).into_owned();
        let (sources, diags) = check(path);
        let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
        if errors.is_empty() {
            failures.push(format!("{}: accepted", rel(path)));
            continue;
        }
        let expected = expectations(&text);
        if expected.is_empty() {
            failures.push(format!("{}: no `# expect:` line", rel(path)));
        }
        for (code, pos) in expected {
            let hit = diags.iter().any(|d| {
                d.code.as_str() == code && sources.position(d).map(|(_, l, c)| (l, c)) == pos
            });
            if !hit {
                let got: Vec<_> = diags
                    .iter()
                    .map(|d| {
                        format!(
                            "{} at {:?}",
                            d.code,
                            sources.position(d).map(|p| (p.1, p.2))
                        )
                    })
                    .collect();
                failures.push(format!(
                    "{}: expected {code} at {pos:?}, got {got:?}",
                    rel(path)
                ));
            }
        }
        for d in &diags {
            seen_codes.insert(d.code);
        }
        let rendered = sources
            .render(&diags)
            .replace(&root().display().to_string(), "[ROOT]");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("x")
            .to_string();
        // The file's description comment heads the snapshot, so a reviewer reads what the
        // mistake is before reading how it is reported.
        let description = text
            .lines()
            .find(|l| {
                l.starts_with("# ")
                    && !l.contains("yaml-language-server")
                    && !l.starts_with("# expect:")
            })
            .map(|l| l.trim_start_matches("# ").to_string())
            .unwrap_or_default();
        let mut s = settings();
        s.set_description(description);
        s.bind(|| {
            insta::assert_snapshot!(format!("diagnostics@{name}"), rendered);
        });
    }
    let uncovered: Vec<_> = Code::ALL
        .iter()
        .filter(|c| !seen_codes.contains(c))
        .map(|c| c.as_str())
        .collect();
    assert!(
        uncovered.is_empty(),
        "codes with no invalid spec: {uncovered:?}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn misspelled_key_is_reported_on_its_own_line() {
    let base = std::fs::read_to_string(root().join("specs/hello.yaml")).expect("hello.yaml");
    let lines: Vec<&str> = base.lines().collect();
    // (insert before this line, the text to insert): top level, in `data`, in a field, in `message`.
    let find = |needle: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(needle))
            .expect(needle)
    };
    let cases = [
        (find("mailspec:"), "mailspce: 1".to_string()),
        (find("  key:"), "  kye: id".to_string()),
        (find("  subject:"), "  subjcet: hi".to_string()),
        (find("  text:") + 1, "    contnet: oops".to_string()),
        (find("message:"), "mesage: {}".to_string()),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (at, inserted) in cases {
        let mut new = lines.clone();
        new.insert(at, &inserted);
        let path = dir.path().join("spec.yaml");
        std::fs::write(&path, new.join("\n")).expect("write");
        let (sources, diags) = check(&path);
        let unknown: Vec<_> = diags
            .iter()
            .filter(|d| d.code == Code::SchemaUnknownKey)
            .collect();
        assert_eq!(unknown.len(), 1, "{inserted}: {}", sources.render(&diags));
        let (_, line, col) = sources.position(unknown[0]).expect("located");
        assert_eq!(line, at + 1, "{inserted}: {}", sources.render(&diags));
        assert_eq!(
            col,
            inserted.len() - inserted.trim_start().len() + 1,
            "{inserted}"
        );
        assert!(
            !unknown[0].help.is_empty(),
            "{inserted}: no did-you-mean hint"
        );
    }
}
