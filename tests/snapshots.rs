//! Snapshot review: one snapshot per (spec, fixture) in `snapshots/`, checked by two doors that
//! must agree: insta here, and `mailspec test` for spec authors.
//!
//! - Every fixture of every example spec matches its committed snapshot (insta; with `CI` set a
//!   missing snapshot fails), and no snapshot is left over from a fixture that is gone.
//! - Every snapshot file reads the same through `mailspec::review` as through insta's own
//!   reader, so a snapshot accepted by one door is unchanged for the other.
//! - `mailspec test` (the built binary, in a temporary copy of a spec folder) fails when a
//!   template changes, prints a diff with the changed line, and passes after `--accept`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mailspec::review;

use crate::util::{rel, root, settings};

/// The specs `mailspec test` tests when given none, from the repository root.
fn specs() -> Vec<PathBuf> {
    review::discover_specs(&root().join("specs")).expect("specs/ is readable")
}

/// Compiles a spec, or fails the test with its diagnostics.
fn compile(path: &Path) -> mailspec::spec::CompiledSpec {
    match mailspec::spec::compile_path(path) {
        Ok(c) => c,
        Err((s, d)) => panic!("{} does not compile:\n{}", rel(path), s.render(&d)),
    }
}

#[test]
fn example_fixtures_match_snapshots() {
    // Every fixture is checked even after a failure (as `insta::glob!` does), so one run of
    // `INSTA_UPDATE=always cargo test` accepts them all and a CI log lists them all.
    let mut failed = Vec::new();
    for path in specs() {
        let c = compile(&path);
        for (fixture, records) in &c.spec.data.fixtures {
            let name = review::snapshot_name(&c.name, fixture);
            let messages = match review::render_fixture(&c, records) {
                Ok(m) => m,
                Err(e) => {
                    failed.push(format!("{name}: the fixture fails to render: {e:?}"));
                    continue;
                }
            };
            let mut s = settings();
            s.set_description(review::description(&c.name, fixture));
            let view = review::view(&messages);
            // The settings are only read, and dropped after a panic: no broken state survives.
            let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                s.bind(|| insta::assert_snapshot!(name.as_str(), view));
            }));
            if checked.is_err() {
                failed.push(format!(
                    "{name}: differs from snapshots/{name}.snap or is missing"
                ));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{}\n(`mailspec test` shows the diffs; `mailspec test --accept` writes the snapshots)",
        failed.join("\n")
    );
}

#[test]
fn no_stale_example_snapshots() {
    let names: Vec<(String, Vec<String>)> = specs()
        .iter()
        .map(|p| {
            let c = compile(p);
            let files = c
                .spec
                .data
                .fixtures
                .keys()
                .map(|f| review::snapshot_file_name(&c.name, f))
                .collect();
            (c.name, files)
        })
        .collect();
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(root().join("snapshots")).expect("snapshots/") {
        let path = entry.expect("entry").path();
        let file = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).expect("readable");
        let description = review::parse_snapshot_file(&text).and_then(|s| s.description);
        for (spec, files) in &names {
            let ours = description
                .as_deref()
                .is_some_and(|d| d.starts_with(&format!("spec {spec}, fixture ")));
            if ours && review::fixture_of_file_name(spec, &file).is_some() && !files.contains(&file)
            {
                stale.push(file.clone());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "snapshots of fixtures that no longer exist (`mailspec test --accept` deletes them): {stale:?}"
    );
}

/// What insta reads from a snapshot file: normalised contents and description.
fn insta_reads(path: &Path) -> (String, Option<String>) {
    let snap = insta::Snapshot::from_file(path)
        .unwrap_or_else(|e| panic!("insta cannot read {}: {e}", path.display()));
    let contents = snap
        .contents()
        .as_text()
        .expect("a text snapshot")
        .to_string();
    (contents, snap.metadata().description().map(str::to_string))
}

/// Our reader agrees with insta's on a snapshot file.
fn assert_reads_like_insta(path: &Path) {
    let text = std::fs::read_to_string(path).expect("readable");
    let ours = review::parse_snapshot_file(&text)
        .unwrap_or_else(|| panic!("{} is not a snapshot file", path.display()));
    let (contents, description) = insta_reads(path);
    assert_eq!(ours.contents, contents, "{}", path.display());
    assert_eq!(ours.description, description, "{}", path.display());
}

#[test]
fn committed_snapshot_files_read_like_insta() {
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("snapshots")).expect("snapshots/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "snap") {
            assert_reads_like_insta(&path);
            n += 1;
        }
    }
    assert!(n > 0);
}

// ---------------------------------------------------------------------------------------------
// `mailspec test`, end to end
// ---------------------------------------------------------------------------------------------

const SPEC: &str = r#"mailspec: 1
name: receipt
data:
  key: id
  fields:
    id: { type: string }
    email: { type: email }
    name: { type: string }
  fixtures:
    one:
      - { id: "R-1", email: ana@example.com, name: "Ana Núñez" }
    two:
      - { id: "R-2", email: bob@example.org, name: "Bob" }
      - { id: "R-3", email: eve@example.net, name: "Eve" }
message:
  from: Shop <shop@shop.example>
  to: { name: "{{ name }}", email: "{{ email }}" }
  bcc: archive@shop.example
  subject: "Your receipt {{ id }}"
  text:
    template: templates/body.txt
  html:
    content: "<p>Hello {{ name }}</p>\n"
  attachments:
    - { file: terms.txt, type: application/octet-stream, filename: terms.bin }
"#;

const TEMPLATE: &str = "Hello {{ name }},\n\nthanks for your order.\n-- \nShop\n";

fn mailspec(dir: &Path, args: &[&str]) -> (i32, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_mailspec"))
        .arg("test")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.code().unwrap_or(-1), out)
}

#[test]
fn cli_test_fails_on_a_changed_template_and_passes_after_accept() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let spec_dir = dir.join("specs/receipt");
    std::fs::create_dir_all(spec_dir.join("templates")).expect("mkdir");
    std::fs::write(spec_dir.join("spec.yaml"), SPEC).expect("write");
    std::fs::write(spec_dir.join("templates/body.txt"), TEMPLATE).expect("write");
    std::fs::write(spec_dir.join("terms.txt"), "terms\n").expect("write");
    let snap = dir.join("snapshots/receipt@one.snap");

    // No snapshot yet: a failure that says what to do.
    let (code, out) = mailspec(dir, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--accept"), "{out}");
    assert!(out.lines().any(|l| l == "0 passed, 2 failed"), "{out}");

    let (code, out) = mailspec(dir, &["--accept"]);
    assert_eq!(code, 0, "{out}");
    assert!(snap.exists());
    let (code, out) = mailspec(dir, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.lines().any(|l| l == "2 passed, 0 failed"), "{out}");

    // The view shows what a reviewer needs: envelope (Bcc), decoded headers, text with its
    // trailing space visible, attachments by digest, the exact bytes by digest.
    let text = std::fs::read_to_string(&snap).expect("snapshot");
    for needle in [
        "RCPT TO:<archive@shop.example>",
        "To: Ana Núñez <ana@example.com>",
        "Subject: Your receipt R-1",
        "--␠",
        "<p>Hello Ana Núñez</p>",
        "terms.bin · application/octet-stream · 6 bytes · sha256 ",
        " bytes · sha256 ",
    ] {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
    assert!(!text.contains('\r') && !text.lines().any(|l| l.ends_with([' ', '\t'])));

    // The file `mailspec test --accept` wrote is what insta reads and matches.
    assert_reads_like_insta(&snap);
    let c = compile(&spec_dir.join("spec.yaml"));
    let records = c.spec.data.fixtures.get("one").expect("fixture");
    let messages = review::render_fixture(&c, records).expect("renders");
    let mut s = settings();
    s.set_snapshot_path(dir.join("snapshots"));
    s.set_description(review::description("receipt", "one"));
    s.bind(|| insta::assert_snapshot!("receipt@one", review::view(&messages)));

    // A changed template: exit 1 and a diff with the changed line.
    std::fs::write(
        spec_dir.join("templates/body.txt"),
        TEMPLATE.replace("thanks for your order.", "thank you for your order!"),
    )
    .expect("write");
    let (code, out) = mailspec(dir, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("--- snapshots/receipt@one.snap (committed)\n+++ rendered\n"),
        "{out}"
    );
    assert!(out.contains("\n-thanks for your order.\n"), "{out}");
    assert!(out.contains("\n+thank you for your order!\n"), "{out}");
    assert!(out.lines().any(|l| l == "0 passed, 2 failed"), "{out}");

    let (code, out) = mailspec(dir, &["--accept"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = mailspec(dir, &["specs/receipt/spec.yaml"]);
    assert_eq!(code, 0, "{out}");

    // A fixture removed: its snapshot is stale until accepted away.
    std::fs::write(
        spec_dir.join("spec.yaml"),
        SPEC.replace(
            "    two:\n      - { id: \"R-2\", email: bob@example.org, name: \"Bob\" }\n      - { id: \"R-3\", email: eve@example.net, name: \"Eve\" }\n",
            "",
        ),
    )
    .expect("write");
    let (code, out) = mailspec(dir, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("stale snapshot snapshots/receipt@two.snap"),
        "{out}"
    );
    let (code, out) = mailspec(dir, &["--accept"]);
    assert_eq!(code, 0, "{out}");
    assert!(!dir.join("snapshots/receipt@two.snap").exists());
    let (code, out) = mailspec(dir, &[]);
    assert_eq!(code, 0, "{out}");

    // A broken record is a failure that names the record.
    std::fs::write(
        spec_dir.join("spec.yaml"),
        SPEC.replace("email: ana@example.com", "email: not-an-address"),
    )
    .expect("write");
    let (code, out) = mailspec(dir, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("record 1 (key `R-1`"), "{out}");
}

#[test]
fn cli_test_without_specs_is_a_usage_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (code, out) = mailspec(tmp.path(), &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("specs/"), "{out}");
}
