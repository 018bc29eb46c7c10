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
        .filter(|n| n.ends_with(".eml"))
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
            let name = e.expect("e").file_name().to_string_lossy().into_owned();
            if name.ends_with(".eml") {
                all.push(name);
            }
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
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".eml"))
            })
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
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".eml"))
            })
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

/// The shipping-notice example (tests/data/shipping) in a temp dir, with `csv` as its data.
fn shipping_dir(csv: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        root().join("tests/data/shipping/shipping.yaml"),
        dir.path().join("shipping.yaml"),
    )
    .expect("copy");
    std::fs::write(dir.path().join("shipments.csv"), csv).expect("write csv");
    dir
}

const SHIPPING_HEADER: &str =
    "shipment_id,email,first_name,carrier.name,carrier.url,items[].sku,items[].name,items[].qty";

#[test]
fn render_builds_nested_fields_and_groups_item_rows_from_csv() {
    let csv = std::fs::read_to_string(root().join("tests/data/shipping/shipments.csv"))
        .expect("example csv");
    let dir = shipping_dir(&csv);
    let o = mailspec(
        &[
            "render",
            "shipping.yaml",
            "--data",
            "shipments.csv",
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("2 message(s) written"),
        "{}",
        stderr(&o)
    );
    let s1 = std::fs::read_to_string(dir.path().join("out/S-1.eml")).expect("S-1.eml");
    assert!(
        s1.contains("Subject: Shipment S-1 is on its way with Correos Express\r\n"),
        "{s1}"
    );
    assert!(
        s1.contains("- 2 x Olive oil 250 ml (OL-250)\r\n- 1 x Olive oil 500 ml (OL-500)\r\n"),
        "{s1}"
    );
    assert!(s1.contains("Track it: https://track.example/S-1"), "{s1}");
    let s2 = std::fs::read_to_string(dir.path().join("out/S-2.eml")).expect("S-2.eml");
    assert!(s2.contains("- 3 x Olives (AC-1)\r\n"), "{s2}");
}

#[test]
fn grouped_rows_that_disagree_or_come_back_are_refused_by_name() {
    let row = |id: &str, email: &str, sku: &str| {
        format!("{id},{email},Ana,SEUR,https://track.example/{id},{sku},Oil,1\n")
    };
    let csv = [
        format!("{SHIPPING_HEADER}\n"),
        row("S-1", "ana@example.com", "A"),
        row("S-1", "ana@example.com", "B"),
        row("S-2", "bob@example.org", "C"),
        row("S-1", "ana@example.com", "D"),
        row("S-3", "eva@example.com", "E"),
        row("S-3", "eve@example.com", "F"),
        row("S-4", "kim@example.com", "G"),
    ]
    .concat();
    let dir = shipping_dir(&csv);
    let o = mailspec(
        &[
            "render",
            "shipping.yaml",
            "--data",
            "shipments.csv",
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    // S-1 again after S-2: a record of its own, refused by the batch as a duplicate key.
    assert!(
        err.contains("error[data/duplicate-key]: record 3 (key `S-1`, shipments.csv:5)"),
        "{err}"
    );
    assert!(
        err.contains("record 4 (shipments.csv:6)")
            && err.contains(
                "disagree on `email`: line 6 has `eva@example.com`, line 7 has `eve@example.com`"
            ),
        "{err}"
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("out"))
        .expect("out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    names.sort();
    assert_eq!(names, ["S-1.eml", "S-2.eml", "S-4.eml"]);
    let s1 = std::fs::read_to_string(dir.path().join("out/S-1.eml")).expect("S-1");
    assert!(
        s1.contains("(A)") && s1.contains("(B)") && !s1.contains("(D)"),
        "{s1}"
    );
}

#[test]
fn header_problems_are_reported_once_for_the_data_file() {
    let mut csv = String::from(
        "shipment_id,Email,First Name,carrier.name,carrier.url,items[].sku,items[].name,items[].qty\n",
    );
    for i in 0..50 {
        csv.push_str(&format!(
            "S-{i},a@example.com,Ana,SEUR,https://t.example,A,Oil,1\n"
        ));
    }
    let dir = shipping_dir(&csv);
    let o = mailspec(
        &[
            "render",
            "shipping.yaml",
            "--data",
            "shipments.csv",
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.matches("no column `email`").count(), 1, "{err}");
    assert!(
        err.contains("error[data/missing-field]: shipments.csv: the header has no column `first_name`, and every record needs it (the header has `First Name`: rename it to `first_name`)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(
        !dir.path().join("out").exists()
            || std::fs::read_dir(dir.path().join("out"))
                .expect("out")
                .count()
                == 0
    );

    // An undeclared column is a warning, once, and the records still go out.
    let csv = format!(
        "{SHIPPING_HEADER},notes\nS-1,a@example.com,Ana,SEUR,https://t.example,A,Oil,1,x\nS-2,b@example.com,Bo,SEUR,https://t.example,A,Oil,1,y\n"
    );
    let dir = shipping_dir(&csv);
    let o = mailspec(
        &[
            "render",
            "shipping.yaml",
            "--data",
            "shipments.csv",
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stderr(&o)
            .matches("warning[data/parse]: shipments.csv: column `notes` is not declared in `data.fields`, so its values are ignored")
            .count(),
        1,
        "{}",
        stderr(&o)
    );

    // Conflicting columns refuse the file.
    let csv = format!("{SHIPPING_HEADER},carrier\n");
    let dir = shipping_dir(&csv);
    let o = mailspec(
        &[
            "render",
            "shipping.yaml",
            "--data",
            "shipments.csv",
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("columns `carrier.name` and `carrier` conflict"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn delimiters_are_given_or_detected_from_the_header() {
    let dir = batch_dir();
    let render = |file: &str, extra: &[&str]| {
        let mut args = vec!["render", "hello.yaml", "--data", file, "--out", "out"];
        args.extend_from_slice(extra);
        mailspec(&args, dir.path())
    };
    std::fs::write(
        dir.path().join("semi.csv"),
        "id;email;name\r\n1;ana@example.com;Ana Núñez\r\n2;bob@example.org;Bob\r\n",
    )
    .expect("write");
    let o = render("semi.csv", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.matches("note: semi.csv:").count(), 1, "{err}");
    assert!(
        err.contains("semicolon-separated") && err.contains("--delimiter ';'"),
        "{err}"
    );
    let o = render("semi.csv", &["--delimiter", ";"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("note:"), "{}", stderr(&o));

    std::fs::write(
        dir.path().join("tabs.csv"),
        "id\temail\tname\n1\tana@example.com\tAna, Núñez\n",
    )
    .expect("write");
    let o = render("tabs.csv", &["--delimiter", "tab"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let eml = std::fs::read_to_string(dir.path().join("out/1.eml")).expect("1.eml");
    assert!(eml.contains("Ana, ") || eml.contains("Ana=2C"), "{eml}");

    // A semicolon header that does not name the fields: no guess, a way out.
    std::fs::write(
        dir.path().join("other.csv"),
        "ident;correo\n1;a@example.com\n",
    )
    .expect("write");
    let o = render("other.csv", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("this looks semicolon-separated; use --delimiter ';'"),
        "{}",
        stderr(&o)
    );

    let o = render("semi.csv", &["--delimiter", ";;"]);
    assert_eq!(o.status.code(), Some(2));
    std::fs::write(dir.path().join("p.json"), "[]").expect("write");
    let o = render("p.json", &["--delimiter", ";"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("CSV data only"), "{}", stderr(&o));
}

#[test]
fn a_problem_repeated_on_many_records_is_counted_not_repeated() {
    let dir = batch_dir();
    let mut csv = String::with_capacity(2_000_000);
    csv.push_str("id,email,name\n");
    for i in 1..=100_000 {
        csv.push_str(&format!("{i},,n\n"));
    }
    std::fs::write(dir.path().join("many.csv"), csv).expect("write");
    let o = mailspec(
        &[
            "render",
            "hello.yaml",
            "--data",
            "many.csv",
            "--out",
            "out",
            "--report",
            "report.jsonl",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.lines().count() < 20, "{err}");
    assert_eq!(err.matches("error[data/missing-field]").count(), 5, "{err}");
    assert!(
        err.contains("... and 99,995 more records: data/missing-field (field `email`)"),
        "{err}"
    );
    assert!(
        err.contains("0 message(s) written, 100000 record(s) failed"),
        "{err}"
    );
    let report = std::fs::read_to_string(dir.path().join("report.jsonl")).expect("report");
    assert_eq!(
        report.lines().count(),
        100_000,
        "the report has every record"
    );
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
