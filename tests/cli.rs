//! The command line as users run it: exit codes, output files, flags.

use std::path::Path;
use std::process::{Command, Output};

use crate::util::root;

fn mailspec(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailspec"))
        .args(args)
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .expect("run mailspec")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn hello() -> String {
    root().join("specs/hello.yaml").display().to_string()
}

/// A spec folder with a CSV of records, some bad, in a temp dir.
fn batch_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        root().join("specs/hello.yaml"),
        dir.path().join("hello.yaml"),
    )
    .expect("copy");
    let mut csv = String::from("id,email,name\r\n");
    for i in 1..=10 {
        match i {
            4 => csv.push_str("4,not-an-address,Dee\r\n"),
            7 => csv.push_str("7,g@example.com\r\n"),
            _ => csv.push_str(&format!("{i},user{i}@example.com,User {i}\r\n")),
        }
    }
    std::fs::write(dir.path().join("people.csv"), csv).expect("write csv");
    dir
}

#[test]
fn check_exit_codes_and_json() {
    let r = root();
    let ok = mailspec(&["check", &hello()], &r);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));

    let bad = mailspec(&["check", "specs/invalid/unknown_key_typo.yaml"], &r);
    assert_eq!(bad.status.code(), Some(1));
    let err = stderr(&bad);
    assert!(
        err.contains("specs/invalid/unknown_key_typo.yaml:16:3"),
        "{err}"
    );
    assert!(
        err.contains("error[schema/unknown-key]") && err.contains("did you mean `subject`?"),
        "{err}"
    );

    let missing = mailspec(&["check", "specs/nope.yaml"], &r);
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));

    let usage = mailspec(&["chekc", "specs/hello.yaml"], &r);
    assert_eq!(usage.status.code(), Some(2));
    assert!(
        stderr(&usage).contains("check"),
        "clap suggests the right subcommand"
    );

    let json = mailspec(
        &[
            "check",
            "--format",
            "json",
            "specs/invalid/undefined_variable.yaml",
        ],
        &r,
    );
    assert_eq!(json.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 1);
    let d = &lines[0];
    assert_eq!(d["code"], "template/undefined-variable");
    assert_eq!(d["severity"], "error");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(18), Some(24))
    );
    assert_eq!(d["file"], "specs/invalid/undefined_variable.yaml");
    assert!(
        d["message"]
            .as_str()
            .is_some_and(|m| m.contains("frist_name"))
    );

    // Warnings do not fail a check.
    let dir = tempfile::tempdir().expect("tempdir");
    let spec =
        std::fs::read_to_string(root().join("specs/invalid/missing_cid.yaml")).expect("read");
    let spec = spec
        .replace("cid:logo\"", "cid:logo-small\"")
        .replace("data/pixel.png", "pixel.png")
        + "    - { cid: never-used, file: pixel.png }\n";
    std::fs::write(dir.path().join("w.yaml"), spec).expect("write");
    std::fs::copy(
        root().join("specs/invalid/data/pixel.png"),
        dir.path().join("pixel.png"),
    )
    .expect("copy");
    let w = mailspec(&["check", "w.yaml"], dir.path());
    assert_eq!(w.status.code(), Some(0), "{}", stderr(&w));
    assert!(
        stderr(&w).contains("warning[spec/unused-inline]"),
        "{}",
        stderr(&w)
    );
}

#[test]
fn schema_command_prints_the_checked_in_schema() {
    let o = mailspec(&["schema"], &root());
    assert_eq!(o.status.code(), Some(0));
    let on_disk = std::fs::read(root().join("schema/mailspec.schema.json")).expect("schema file");
    assert_eq!(o.stdout, on_disk);
}

#[test]
fn render_writes_one_file_per_record_named_by_key() {
    let dir = batch_dir();
    let o = mailspec(
        &[
            "render",
            "hello.yaml",
            "--data",
            "people.csv",
            "--out",
            "out",
            "--date",
            "2024-06-15T10:00:00Z",
            "--report",
            "report.jsonl",
        ],
        dir.path(),
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "two bad records fail the run: {}",
        stderr(&o)
    );
    let err = stderr(&o);
    assert!(
        err.contains("record 4 (key `4`, people.csv:5)") && err.contains("`email`"),
        "{err}"
    );
    assert!(
        err.contains("record 7 (people.csv:8)") && err.contains("2 cells"),
        "{err}"
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("out"))
        .expect("out dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "1.eml", "10.eml", "2.eml", "3.eml", "5.eml", "6.eml", "8.eml", "9.eml"
        ]
    );
    let report = std::fs::read_to_string(dir.path().join("report.jsonl")).expect("report");
    let rows: Vec<serde_json::Value> = report
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[3]["status"], "error");
    assert_eq!(rows[3]["key"], "4");
    assert_eq!(rows[3]["errors"][0]["code"], "data/address");
    assert_eq!(rows[3]["errors"][0]["field"], "email");
    assert_eq!(rows[0]["status"], "ok");
    assert!(
        rows[0]["message_id"]
            .as_str()
            .is_some_and(|m| m.ends_with("@shop.example"))
    );
    assert_eq!(rows[0]["output"], "out/1.eml");
}

#[test]
fn render_is_deterministic_and_honours_dates() {
    let dir = batch_dir();
    let run = |out: &str, extra: &[&str], epoch: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailspec"));
        cmd.args([
            "render",
            "hello.yaml",
            "--data",
            "people.csv",
            "--records",
            "1-3",
            "--out",
            out,
        ])
        .args(extra)
        .current_dir(dir.path())
        .env_remove("SOURCE_DATE_EPOCH");
        if let Some(e) = epoch {
            cmd.env("SOURCE_DATE_EPOCH", e);
        }
        let o = cmd.output().expect("run");
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        std::fs::read(dir.path().join(out).join("2.eml")).expect("2.eml")
    };
    // hello.yaml takes its Date from the spec; a spec without one uses --date / SOURCE_DATE_EPOCH.
    let a = run("a", &[], Some("1700000000"));
    let b = run("b", &[], Some("1700000000"));
    assert_eq!(a, b, "same inputs, same bytes");
    let spec = std::fs::read_to_string(dir.path().join("hello.yaml")).expect("spec");
    let no_date: String = spec
        .lines()
        .filter(|l| !l.trim_start().starts_with("date:"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.path().join("hello.yaml"), no_date).expect("write");
    let c = run("c", &[], Some("1700000000"));
    assert!(String::from_utf8_lossy(&c).contains("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
    let d = run(
        "d",
        &["--date", "2024-02-29T08:30:00-03:00"],
        Some("1700000000"),
    );
    assert!(String::from_utf8_lossy(&d).contains("Date: Thu, 29 Feb 2024 08:30:00 -0300\r\n"));
}

#[test]
fn stdout_mbox_maildir_and_selection() {
    let dir = batch_dir();
    let one = mailspec(
        &[
            "render",
            "hello.yaml",
            "--data",
            "people.csv",
            "--out",
            "-",
            "--record",
            "3",
        ],
        dir.path(),
    );
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    let parsed = mail_parser::MessageParser::default()
        .parse(&one.stdout)
        .expect("parses");
    assert_eq!(
        parsed
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("user3@example.com")
    );

    let mbox = mailspec(
        &[
            "render",
            "hello.yaml",
            "--data",
            "people.csv",
            "--mbox",
            "all.mbox",
        ],
        dir.path(),
    );
    assert_eq!(mbox.status.code(), Some(1));
    let text = std::fs::read_to_string(dir.path().join("all.mbox")).expect("mbox");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("From ")).count(),
        8,
        "one separator per good message"
    );
    assert!(!text.contains('\r'), "mbox uses local line ends");

    let md = mailspec(
        &[
            "render",
            "hello.yaml",
            "--data",
            "people.csv",
            "--maildir",
            "Maildir",
            "--limit",
            "3",
        ],
        dir.path(),
    );
    assert_eq!(md.status.code(), Some(0), "{}", stderr(&md));
    assert_eq!(
        std::fs::read_dir(dir.path().join("Maildir/new"))
            .expect("new")
            .count(),
        3
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("Maildir/tmp"))
            .expect("tmp")
            .count(),
        0
    );

    // Shards partition the records: every good record in exactly one shard.
    let mut all = Vec::new();
    for s in ["1/3", "2/3", "3/3"] {
        let out = format!("shard{}", &s[..1]);
        let _ = mailspec(
            &[
                "render",
                "hello.yaml",
                "--data",
                "people.csv",
                "--shard",
                s,
                "--out",
                &out,
            ],
            dir.path(),
        );
        for e in std::fs::read_dir(dir.path().join(&out)).expect("shard dir") {
            all.push(e.expect("e").file_name().to_string_lossy().into_owned());
        }
    }
    all.sort();
    assert_eq!(
        all,
        [
            "1.eml", "10.eml", "2.eml", "3.eml", "5.eml", "6.eml", "8.eml", "9.eml"
        ]
    );

    let ff = mailspec(
        &[
            "render",
            "hello.yaml",
            "--data",
            "people.csv",
            "--out",
            "ff",
            "--fail-fast",
        ],
        dir.path(),
    );
    assert_eq!(ff.status.code(), Some(1));
    assert_eq!(
        std::fs::read_dir(dir.path().join("ff"))
            .expect("ff")
            .count(),
        3,
        "stops at record 4"
    );
}

#[test]
fn bad_data_files_get_clear_errors() {
    let dir = batch_dir();
    std::fs::write(dir.path().join("obj.json"), r#"{"id": "1"}"#).expect("write");
    let o = mailspec(
        &["render", "hello.yaml", "--data", "obj.json", "--out", "x"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("expected a JSON array of objects, found an object"),
        "{}",
        stderr(&o)
    );

    std::fs::write(dir.path().join("people.jsonl"), "{\"id\":\"1\",\"email\":\"a@example.com\"}\nnot json\n{\"id\":\"2\",\"email\":\"b@example.com\"}\n").expect("write");
    let o = mailspec(
        &[
            "render",
            "hello.yaml",
            "--data",
            "people.jsonl",
            "--out",
            "jl",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("record 2 (people.jsonl:2)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("jl"))
            .expect("jl")
            .count(),
        2,
        "the good records are rendered"
    );

    let o = mailspec(
        &["render", "hello.yaml", "--data", "people.txt"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--data-format"), "{}", stderr(&o));
}

#[test]
fn completions_come_from_the_cli_definition() {
    let o = mailspec(&["completions", "bash"], &root());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let script = String::from_utf8_lossy(&o.stdout);
    // The function bash registers, and a subcommand and a flag taken from the clap definitions.
    assert!(script.contains("complete -F _mailspec"), "{script}");
    assert!(
        script.contains("render") && script.contains("--mbox"),
        "{script}"
    );

    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let o = mailspec(&["completions", shell], &root());
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", stderr(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("mailspec"),
            "{shell}"
        );
    }
    let unknown = mailspec(&["completions", "tcsh"], &root());
    assert_eq!(
        unknown.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn man_page_is_roff_and_lists_the_subcommands() {
    let o = mailspec(&["man"], &root());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = String::from_utf8_lossy(&o.stdout);
    // clap_mangen opens with two string definitions (`.ie`/`.el`), then the title macro.
    let title = page.lines().position(|l| l.starts_with(".TH mailspec 1"));
    let name = page.lines().position(|l| l == ".SH NAME");
    assert!(
        title.is_some() && title < name,
        "a .TH title before NAME:\n{page}"
    );
    assert!(page.contains(".SH SUBCOMMANDS"), "{page}");
    for sub in ["check", "render", "schema", "test", "completions", "man"] {
        assert!(
            page.contains(&format!("mailspec\\-{sub}(1)")),
            "the page lists `{sub}`:\n{page}"
        );
    }
}

/// `render --help` and the behaviour of `--mbox` must tell the same story: whatever the help
/// says (replace or append), rendering twice into one file must do exactly that.
#[test]
fn mbox_help_matches_behaviour() {
    let help = mailspec(&["render", "--help"], &root());
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout).to_lowercase();
    let mbox_help = text
        .split("--mbox")
        .nth(1)
        .and_then(|rest| rest.split("\n  -").next())
        .unwrap_or_default()
        .to_owned();
    let says_replaced = mbox_help.contains("replaced");
    let says_appends = mbox_help.contains("append");
    assert!(
        says_replaced != says_appends,
        "the --mbox help must say either that the file is replaced or that it is appended to:\n{mbox_help}"
    );

    let dir = batch_dir();
    let count = |name: &str| {
        let bytes = std::fs::read(dir.path().join(name)).expect("mbox written");
        bytes
            .split(|&b| b == b'\n')
            .filter(|l| l.starts_with(b"From "))
            .count()
    };
    let run = |name: &str| {
        let o = mailspec(
            &[
                "render",
                "hello.yaml",
                "--data",
                "people.csv",
                "--mbox",
                name,
            ],
            dir.path(),
        );
        // Records 4 and 7 of batch_dir() are bad on purpose: exit 1, the other 8 written.
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    };
    run("once.mbox");
    let one_batch = count("once.mbox");
    assert_eq!(one_batch, 8);
    run("twice.mbox");
    run("twice.mbox");
    let expected = if says_replaced {
        one_batch
    } else {
        2 * one_batch
    };
    assert_eq!(count("twice.mbox"), expected, "help says:{mbox_help}");
}
