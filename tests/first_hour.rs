//! The first hour of a new user (issue 10): what `check` and `render` say, and where.

use std::path::Path;
use std::process::Command;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

fn mailspec(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_mailspec"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const SPEC: &str = r#"mailspec: 1
data:
  key: id
  fields:
    id: { type: string }
    email: { type: email }
  sample: data/people.csv
message:
  from: FROM
  to: "{{ email }}"
  subject: Hola
  text: { content: Hola }
"#;

#[test]
fn check_ends_with_a_summary_also_when_all_is_well() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(tmp.path(), "data/people.csv", "id,email\n1,a@example.com\n");
    write(
        tmp.path(),
        "a.yaml",
        &SPEC.replace("FROM", "shop@example.com"),
    );
    write(
        tmp.path(),
        "b.yaml",
        &SPEC.replace("FROM", "shop@example.com"),
    );
    let (code, err) = mailspec(tmp.path(), &["check", "a.yaml", "b.yaml"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        err.trim(),
        "2 specs checked: 2 ok, 0 failed; 0 errors, 0 warnings"
    );
}

#[test]
fn an_unquoted_comma_in_a_display_name_is_named_with_the_fix() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(tmp.path(), "data/people.csv", "id,email\n1,a@example.com\n");
    write(
        tmp.path(),
        "s.yaml",
        &SPEC.replace("FROM", "Tienda Ejemplo, S.L. <a@b.example>"),
    );
    let (code, err) = mailspec(tmp.path(), &["check", "s.yaml"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("a display name that contains `,` must be quoted"),
        "{err}"
    );
    assert!(
        err.contains(r#"quote the name: `"Tienda Ejemplo, S.L." <a@b.example>`"#),
        "{err}"
    );
    assert!(!err.contains("white space outside quotes"), "{err}");
}

#[test]
fn a_bad_sample_row_is_named_by_its_data_file_and_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(
        tmp.path(),
        "data/people.csv",
        "id,email\n1,a@example.com\n2,not-an-address\n",
    );
    write(
        tmp.path(),
        "s.yaml",
        &SPEC.replace("FROM", "shop@example.com"),
    );
    let (code, err) = mailspec(
        tmp.path(),
        &[
            "render",
            "s.yaml",
            "--out",
            "out",
            "--date",
            "2024-01-01T00:00:00Z",
        ],
    );
    assert_eq!(code, Some(1));
    assert!(
        err.contains("record 2 (key `2`, data/people.csv:3)"),
        "{err}"
    );
}

#[test]
fn check_with_data_validates_every_record_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(tmp.path(), "data/people.csv", "id,email\n1,a@example.com\n");
    write(
        tmp.path(),
        "s.yaml",
        &SPEC.replace("FROM", "shop@example.com"),
    );
    write(
        tmp.path(),
        "prod.csv",
        "id,email\n1,a@example.com\n2,broken\n3,c@example.com\n",
    );
    let (code, err) = mailspec(
        tmp.path(),
        &[
            "check", "s.yaml", "--data", "prod.csv", "--report", "r.jsonl",
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("record 2 (key `2`, prod.csv:3)"), "{err}");
    assert!(
        err.contains("2 record(s) valid, 1 refused (nothing written)"),
        "{err}"
    );
    let report = std::fs::read_to_string(tmp.path().join("r.jsonl")).expect("report");
    assert_eq!(report.lines().count(), 3);
    assert!(!tmp.path().join("out").exists(), "nothing is written");
}

#[test]
fn size_limit_flags_apply() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(tmp.path(), "data/people.csv", "id,email\n1,a@example.com\n");
    write(tmp.path(), "files/terms.pdf", &"x".repeat(2000));
    let spec =
        SPEC.replace("FROM", "shop@example.com") + "  attachments: [{ file: files/terms.pdf }]\n";
    write(tmp.path(), "s.yaml", &spec);
    let args = |extra: &[&str]| {
        let mut v = vec![
            "render",
            "s.yaml",
            "--out",
            "-",
            "--date",
            "2024-01-01T00:00:00Z",
        ];
        v.extend_from_slice(extra);
        v.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        mailspec(tmp.path(), &a)
    };
    assert_eq!(run(&[]).0, Some(0));
    let (code, err) = run(&["--max-attachment-size", "1k"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("data/limit"), "{err}");
    let (code, err) = run(&["--max-message-size", "2k"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("data/limit"), "{err}");
    let (code, err) = run(&["--max-field-size", "4"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("data/limit"), "{err}");
}

#[test]
fn init_makes_a_spec_that_passes_check_and_test() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (code, err) = mailspec(tmp.path(), &["init", "order-shipped"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(tmp.path().join("specs/order-shipped.yaml").exists());
    assert!(
        tmp.path()
            .join("snapshots/order-shipped@example.snap")
            .exists()
    );
    let (code, err) = mailspec(tmp.path(), &["check", "specs/order-shipped.yaml"]);
    assert_eq!(code, Some(0), "{err}");
    let o = Command::new(env!("CARGO_BIN_EXE_mailspec"))
        .arg("test")
        .current_dir(tmp.path())
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let (code, err) = mailspec(
        tmp.path(),
        &[
            "render",
            "specs/order-shipped.yaml",
            "--out",
            "out",
            "--date",
            "2024-01-01T00:00:00Z",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    // The same name again changes nothing.
    let (code, err) = mailspec(tmp.path(), &["init", "order-shipped"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("already exists"), "{err}");
    let (code, _) = mailspec(tmp.path(), &["init", "../escape"]);
    assert_eq!(code, Some(2));
}
