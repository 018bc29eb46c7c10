//! The compiled plan and the pure render (issue 8): render reads no file, the envelope is an
//! output, and the small fixes each have a test that fails without them.

use std::path::Path;

use mail_parser::{MessageParser, MimeHeaders};
use mailspec::assets::{DirLoader, MemoryLoader};
use mailspec::diag::Code;
use mailspec::render::{RenderOptions, render};
use mailspec::spec::{CompiledSpec, compile_path};
use serde_json::{Map, Value, json};

fn write(dir: &Path, rel: &str, text: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

/// Every file in `dir` with its bytes, sorted by name.
fn folder(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("folder")
        .map(|e| {
            let e = e.expect("entry");
            let bytes = std::fs::read(e.path()).expect("read");
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    files
}

/// [`folder`] with each file's mode.
fn folder_with_modes(dir: &Path) -> Vec<(String, Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    folder(dir)
        .into_iter()
        .map(|(name, bytes)| {
            let meta = std::fs::metadata(dir.join(&name)).expect("meta");
            (name, bytes, meta.permissions().mode())
        })
        .collect()
}

/// The same names, bytes and modes.
fn assert_same_folder(a: &[(String, Vec<u8>, u32)], b: &[(String, Vec<u8>, u32)]) {
    assert_eq!(a.len(), b.len());
    for (a, b) in a.iter().zip(b) {
        assert_eq!((&a.0, a.2), (&b.0, b.2), "same names and modes");
        assert!(a.1 == b.1, "{} differs", a.0);
    }
}

/// A spec with one text part, its subject and text made from `name`.
fn hola_spec() -> String {
    format!(
        "{HEADER}message:
  from: shop@example.com
  to: \"{{{{ email }}}}\"
  subject: \"Hola {{{{ name }}}}\"
  text: {{ content: \"Hola {{{{ name }}}}\" }}
"
    )
}

fn compile(dir: &Path, spec: &str) -> CompiledSpec {
    write(dir, "spec.yaml", spec.as_bytes());
    match compile_path(&dir.join("spec.yaml")) {
        Ok(c) => c,
        Err((s, d)) => panic!("does not compile:\n{}", s.render(&d)),
    }
}

fn opts() -> RenderOptions {
    RenderOptions {
        date: chrono::DateTime::parse_from_rfc3339("2024-06-01T10:00:00+02:00").ok(),
        ..Default::default()
    }
}

fn record(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

const HEADER: &str = r#"mailspec: 1
data:
  key: id
  fields:
    id: { type: string }
    email: { type: email }
    name: { type: string }
"#;

#[test]
fn render_opens_no_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("shop");
    write(
        &dir,
        "templates/body.txt.j2",
        b"Hola {{ name }}\n{% include \"templates/foot.txt.j2\" %}",
    );
    write(&dir, "templates/foot.txt.j2", b"-- Tienda\n");
    write(&dir, "assets/terms.txt", b"Terms and conditions\n");
    write(&dir, "invoices/A-1.pdf", b"%PDF on disk");
    let spec = format!(
        "{HEADER}message:
  from: Shop <shop@example.com>
  to: \"{{{{ email }}}}\"
  subject: \"Factura {{{{ id }}}}\"
  text: {{ template: templates/body.txt.j2 }}
  attachments:
    - {{ file: assets/terms.txt }}
    - {{ file: \"invoices/{{{{ id }}}}.pdf\" }}
"
    );
    let c = compile(&dir, &spec);
    // Nothing the spec names exists any more: whatever render needs must come from the plan
    // (templates and static files read at compile time) or from the loader.
    std::fs::remove_dir_all(&dir).expect("remove the spec's folder");
    let mut mem = MemoryLoader::new();
    mem.insert("invoices/A-1.pdf", b"%PDF from memory".to_vec());
    let rec = record(json!({ "id": "A-1", "email": "ana@example.com", "name": "Ana" }));
    let m = render(&c, &rec, 1, &mem, &opts()).expect("renders from memory");
    let parsed = MessageParser::default().parse(&m.bytes).expect("parses");
    assert_eq!(
        parsed.body_text(0).as_deref(),
        Some("Hola Ana\r\n-- Tienda\r\n")
    );
    let bodies: Vec<&[u8]> = parsed.attachments().map(|a| a.contents()).collect();
    assert_eq!(
        bodies,
        // text/plain travels with CRLF line ends (RFC 2046 §4.1.1).
        [b"Terms and conditions\r\n".as_slice(), b"%PDF from memory"]
    );
    // The same render with a loader on the (now missing) folder fails for that file only,
    // naming the field: the loader is the one way to a record's file.
    let errs = render(&c, &rec, 1, &DirLoader::new(&dir), &opts()).expect_err("no file");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].kind, Code::DataFile);
    assert_eq!(errs[0].field.as_deref(), Some("id"));
    assert_eq!(errs[0].at.as_deref(), Some("message.attachments.1.file"));
}

#[test]
fn envelope_is_in_the_report_and_beside_each_message_never_inside() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let spec = format!(
        "{HEADER}  sample:
    - {{ id: \"a/b\", email: ana@example.com, name: Ana }}
    - {{ id: \"a_b\", email: bea@example.com, name: Bea }}
message:
  from: Shop <shop@example.com>
  to: \"{{{{ name }}}} <{{{{ email }}}}>\"
  cc: Copia <copia@example.com>
  bcc: [auditoria@example.com, \"{{{{ id|length }}}}@bcc.example\"]
  subject: Hola
  date: \"2024-06-01T10:00:00+02:00\"
  envelope: {{ from: bounces@shop.example }}
  text: {{ content: \"Hola {{{{ name }}}}\" }}
"
    );
    write(dir, "spec.yaml", spec.as_bytes());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailspec"))
        .args([
            "render",
            "spec.yaml",
            "--out",
            "out",
            "--report",
            "report.jsonl",
        ])
        .current_dir(dir)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(dir.join("report.jsonl")).expect("report");
    let lines: Vec<Value> = report
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 2);
    // Two literal items in a list are two addresses (a list once read as a name and address).
    let want = json!([
        "ana@example.com",
        "copia@example.com",
        "auditoria@example.com",
        "3@bcc.example"
    ]);
    assert_eq!(lines[0]["mail_from"], "bounces@shop.example");
    assert_eq!(lines[0]["rcpt_to"], want);
    // Ids that differ only in characters a file name cannot hold still get their own files.
    let names: Vec<String> = lines
        .iter()
        .map(|l| l["output"].as_str().expect("output").to_string())
        .collect();
    assert_ne!(names[0], names[1]);
    // The folder's index: one line per message, in record order, naming its file.
    let index = std::fs::read_to_string(dir.join("out/envelopes.jsonl")).expect("index");
    let sides: Vec<Value> = index
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(sides.len(), 2);
    for ((line, output), side) in lines.iter().zip(&names).zip(&sides) {
        let eml = std::fs::read(dir.join(output)).expect("eml");
        assert_eq!(
            Some(side["file"].as_str().expect("file")),
            std::path::Path::new(output)
                .file_name()
                .and_then(|n| n.to_str())
        );
        assert_eq!(side["rcpt_to"], line["rcpt_to"]);
        assert_eq!(side["mail_from"], "bounces@shop.example");
        assert_eq!(side["message_id"], line["message_id"]);
        use sha2::Digest;
        let sha: String = sha2::Sha256::digest(&eml)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(side["sha256"], sha.as_str());
        let text = String::from_utf8_lossy(&eml).to_ascii_lowercase();
        assert!(!text.contains("bcc"), "a Bcc leaked into the message");
        assert!(!text.contains("auditoria"), "a Bcc address leaked");
    }
}

#[test]
fn type_comes_from_the_rendered_file_name() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    write(dir, "files/doc-1", b"%PDF-1.4 x");
    let spec = format!(
        "{HEADER}    doc_name: {{ type: string }}
message:
  from: shop@example.com
  to: \"{{{{ email }}}}\"
  subject: Doc
  text: {{ content: Adjunto }}
  attachments:
    - {{ file: \"files/doc-{{{{ id }}}}\", filename: \"{{{{ doc_name }}}}\" }}
"
    );
    let c = compile(dir, &spec);
    // Neither name has a literal extension: check says the type depends on the record.
    assert!(
        c.warnings
            .iter()
            .any(|w| w.code == Code::SpecPart && w.message.contains("depends on the record")),
        "{:?}",
        c.warnings
    );
    let rec = record(
        json!({ "id": "1", "email": "a@example.com", "name": "A", "doc_name": "factura.pdf" }),
    );
    let m = render(&c, &rec, 1, &DirLoader::new(&c.dir), &opts()).expect("renders");
    let parsed = MessageParser::default().parse(&m.bytes).expect("parses");
    let att = parsed.attachments().next().expect("attachment");
    let ct = att.content_type().expect("content type");
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("application", Some("pdf")),
        "guessed from `factura.pdf`, not from the template text"
    );
    assert_eq!(att.attachment_name(), Some("factura.pdf"));
}

#[test]
fn templated_parts_of_any_type_get_crlf_and_templated_params() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let spec = format!(
        "{HEADER}    method: {{ type: string }}
message:
  from: shop@example.com
  to: \"{{{{ email }}}}\"
  subject: Cita
  body:
    multipart: mixed
    parts:
      - {{ type: text/plain, content: \"Hola {{{{ name }}}}\" }}
      - type: application/ics
        params: {{ method: \"{{{{ method }}}}\" }}
        filename: invite.ics
        content: |
          BEGIN:VCALENDAR
          METHOD:{{{{ method }}}}
          SUMMARY:{{{{ name }}}}
          END:VCALENDAR
"
    );
    let c = compile(dir, &spec);
    let rec =
        record(json!({ "id": "1", "email": "a@example.com", "name": "Ana", "method": "CANCEL" }));
    let m = render(&c, &rec, 1, &DirLoader::new(&c.dir), &opts()).expect("renders");
    let parsed = MessageParser::default().parse(&m.bytes).expect("parses");
    let ics = parsed.attachments().next().expect("ics");
    assert_eq!(
        ics.contents(),
        b"BEGIN:VCALENDAR\r\nMETHOD:CANCEL\r\nSUMMARY:Ana\r\nEND:VCALENDAR\r\n",
        "RFC 5545 §3.1: content lines end in CRLF"
    );
    let ct = ics.content_type().expect("type");
    assert_eq!(ct.attribute("method"), Some("CANCEL"));
}

#[test]
fn record_values_keep_their_white_space_in_headers() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let spec = format!(
        "{HEADER}    subject: {{ type: string }}
message:
  from: shop@example.com
  to: {{ name: \"{{{{ name }}}}\", email: \"{{{{ email }}}}\" }}
  cc: \"{{{{ name }}}} <copy@example.com>\"
  subject: \"{{{{ subject }}}}\"
  text: {{ content: Hola }}
"
    );
    let c = compile(dir, &spec);
    let rec = record(json!({
        "id": "1", "email": "a@example.com", "name": "  Ana María ", "subject": " Tu pedido  "
    }));
    let m = render(&c, &rec, 1, &DirLoader::new(&c.dir), &opts()).expect("renders");
    let parsed = MessageParser::default().parse(&m.bytes).expect("parses");
    assert_eq!(parsed.subject(), Some(" Tu pedido  "));
    let to = parsed.to().and_then(|a| a.first()).expect("to");
    assert_eq!(to.name(), Some("  Ana María "));
    let cc = parsed.cc().and_then(|a| a.first()).expect("cc");
    assert_eq!(cc.name(), Some("  Ana María "));
}

#[test]
fn every_record_error_names_its_field() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let spec = format!(
        "{HEADER}    total: {{ type: decimal }}
    locale: {{ type: string }}
message:
  from: shop@example.com
  to: \"{{{{ email }}}}\"
  subject: Total
  text:
    content: |
      Hola {{{{ name }}}},
      total: {{{{ total|money(\"EUR\", locale) }}}}
"
    );
    let c = compile(dir, &spec);
    let rec = record(json!({
        "id": "1", "email": "a@example.com", "name": "Ana", "total": "10.00", "locale": "ja-JP"
    }));
    let errs = render(&c, &rec, 1, &DirLoader::new(&c.dir), &opts()).expect_err("bad locale");
    assert_eq!(errs.len(), 1, "{errs:?}");
    // The template reads three fields; the failing expression is the one with `locale`
    // (found by the error's position in the template, not by searching the message).
    assert_eq!(errs[0].field.as_deref(), Some("locale"));
    assert!(errs[0].message.contains("line 2"), "{}", errs[0].message);
}

#[test]
fn a_header_check_accepts_renders_for_every_record() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let spec = format!(
        "{HEADER}message:
  from: shop@example.com
  to: \"{{{{ email }}}}\"
  subject: Hola
  headers: {{ Content-Language: es, X-Campaign: \"c-{{{{ id }}}}\" }}
  text: {{ content: Hola }}
"
    );
    let c = compile(dir, &spec);
    for i in 0..3 {
        let rec = record(json!({ "id": i.to_string(), "email": "a@example.com", "name": "A" }));
        let m = render(&c, &rec, i + 1, &DirLoader::new(&c.dir), &opts()).expect("renders");
        let text = String::from_utf8_lossy(&m.bytes);
        assert!(text.contains("\r\nContent-Language: es\r\n"), "{text}");
    }
    // And a header the emitter refuses is refused by check, with a truthful hint.
    write(
        dir,
        "bad.yaml",
        spec.replace("Content-Language: es", "Received: x")
            .as_bytes(),
    );
    let (sources, diags) = compile_path(&dir.join("bad.yaml")).expect_err("refused");
    let text = sources.render(&diags);
    assert!(text.contains("spec/header"), "{text}");
    assert!(text.contains("RFC 5321"), "{text}");
}

#[test]
fn check_finds_a_missing_include() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    write(
        dir,
        "body.txt.j2",
        b"Hola {{ name }}\n{% include \"foot.txt.j2\" %}\n",
    );
    write(dir, "footer.txt.j2", b"--\n");
    let spec = format!(
        "{HEADER}message:
  from: shop@example.com
  to: \"{{{{ email }}}}\"
  subject: Hola
  text: {{ template: body.txt.j2 }}
"
    );
    write(dir, "spec.yaml", spec.as_bytes());
    let (sources, diags) = compile_path(&dir.join("spec.yaml")).expect_err("refused");
    let d = diags
        .iter()
        .find(|d| d.code == Code::TemplateNotFound)
        .unwrap_or_else(|| panic!("{}", sources.render(&diags)));
    let (file, line, col) = sources.position(d).expect("located");
    assert!(file.ends_with("body.txt.j2"), "{file}");
    assert_eq!((line, col), (2, 12));
    assert!(
        d.help.iter().any(|h| h.contains("footer.txt.j2")),
        "{:?}",
        d.help
    );
}

#[test]
fn a_refused_record_still_claims_its_id() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let spec = format!(
        "{HEADER}message:
  from: shop@example.com
  to: \"{{{{ email }}}}\"
  subject: Hola
  text: {{ content: Hola }}
"
    );
    write(dir, "spec.yaml", spec.as_bytes());
    write(
        dir,
        "data.jsonl",
        b"{\"id\":\"1\",\"email\":\"not an address\",\"name\":\"A\"}\n{\"id\":\"1\",\"email\":\"a@example.com\",\"name\":\"A\"}\n{\"id\":\"2\",\"email\":\"b@example.com\",\"name\":\"B\"}\n",
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailspec"))
        .args([
            "render",
            "spec.yaml",
            "--data",
            "data.jsonl",
            "--date",
            "2024-06-01T10:00:00Z",
        ])
        .args(["--out", "out", "--report", "r.jsonl"])
        .current_dir(dir)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let report = std::fs::read_to_string(dir.join("r.jsonl")).expect("report");
    let codes: Vec<String> = report
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("json");
            v["errors"][0]["code"].as_str().unwrap_or("ok").to_string()
        })
        .collect();
    assert_eq!(codes, ["data/address", "data/duplicate-key", "ok"]);
}

#[test]
fn a_second_render_into_a_folder_replaces_the_first_and_refuses_foreign_messages() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let spec = format!(
        "{HEADER}message:
  from: shop@example.com
  to: \"{{{{ email }}}}\"
  subject: Hola
  text: {{ content: Hola }}
"
    );
    write(dir, "spec.yaml", spec.as_bytes());
    let rows = |ids: &[&str]| {
        ids.iter()
            .map(|i| format!("{{\"id\":\"{i}\",\"email\":\"{i}@example.com\",\"name\":\"N\"}}\n"))
            .collect::<String>()
    };
    let run = |data: &str, extra: &[&str]| {
        write(dir, "d.jsonl", data.as_bytes());
        std::process::Command::new(env!("CARGO_BIN_EXE_mailspec"))
            .args(["render", "spec.yaml", "--data", "d.jsonl", "--out", "out"])
            .args(["--date", "2024-06-01T10:00:00Z"])
            .args(extra)
            .current_dir(dir)
            .output()
            .expect("runs")
    };
    let emls = || {
        let mut v: Vec<String> = std::fs::read_dir(dir.join("out"))
            .expect("out")
            .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".eml"))
            .collect();
        v.sort();
        v
    };
    assert!(run(&rows(&["a", "b", "c"]), &[]).status.success());
    assert_eq!(emls(), ["a.eml", "b.eml", "c.eml"]);
    // The second batch has no `c`: its old message must not stay beside the new ones.
    assert!(run(&rows(&["a", "b"]), &[]).status.success());
    assert_eq!(emls(), ["a.eml", "b.eml"]);
    let index = std::fs::read_to_string(dir.join("out/envelopes.jsonl")).expect("index");
    let files: Vec<String> = index
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json")["file"].to_string())
        .collect();
    assert_eq!(
        files,
        ["\"a.eml\"", "\"b.eml\""],
        "the index is the new batch's"
    );
    // The previous batch's index is kept aside only while the new batch is written.
    assert!(!dir.join("out").join(mailspec::sink::PREVIOUS).exists());
    let hidden: Vec<String> = std::fs::read_dir(dir.join("out"))
        .expect("out")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(mailspec::sink::STAGING))
        .collect();
    assert!(hidden.is_empty(), "temporary files left: {hidden:?}");
    // A message this tool did not write is never mixed in silently, nor removed without --force.
    write(dir, "out/other.eml", b"Subject: x\r\n\r\nx\r\n");
    let o = run(&rows(&["a"]), &[]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert_eq!(emls(), ["a.eml", "b.eml", "other.eml"]);
    assert!(run(&rows(&["a"]), &["--force"]).status.success());
    assert_eq!(emls(), ["a.eml"]);
}

/// A folder's messages are written as unnamed files and linked into place (Linux), at most
/// half the process's file-descriptor limit at a time; past it, under a temporary name that is
/// renamed. With a low limit and many threads a render takes both ways: the folder must be the
/// same, byte for byte and mode for mode, as a one-thread render's, with nothing left behind.
#[test]
fn a_low_file_descriptor_limit_gives_the_same_folder() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    write(dir, "spec.yaml", hola_spec().as_bytes());
    let data: String = (0..600)
        .map(|i| format!("{{\"id\":\"{i}\",\"email\":\"u{i}@example.com\",\"name\":\"N{i}\"}}\n"))
        .collect();
    write(dir, "d.jsonl", data.as_bytes());
    // `ulimit -n 48`: 24 unnamed files at most, while 8 threads keep up to 256 records in flight.
    let run = |out: &str, shell: &str| {
        let o = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{shell} exec \"$0\" render spec.yaml --data d.jsonl --out {out} --date 2024-06-01T10:00:00Z --jobs \"$1\""
            ))
            .arg(env!("CARGO_BIN_EXE_mailspec"))
            .arg(if shell.is_empty() { "1" } else { "8" })
            .current_dir(dir)
            .output()
            .expect("runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        folder_with_modes(&dir.join(out))
    };
    let one = run("one", "");
    let low = run("low", "ulimit -n 48 &&");
    assert_eq!(one.len(), 601, "600 messages and the index");
    assert_same_folder(&one, &low);
}

/// A message rendered again takes its old file's place in one exchange, and the old file is
/// reused for a later message (Linux): no inode is freed or made. Reuse must stay unseen. A
/// file with another link keeps its bytes, a file whose mode was changed is not reused, a
/// symbolic link is replaced and not followed, and the folder is the same, byte for byte and
/// mode for mode, as a render into an empty folder.
#[cfg(target_os = "linux")]
#[test]
fn a_render_again_reuses_old_files_only_where_nothing_else_sees_them() {
    use std::collections::HashSet;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    write(dir, "spec.yaml", hola_spec().as_bytes());
    let render = |out: &str, round: &str| {
        let data: String = (0..300)
            .map(|i| {
                // Longer and shorter bodies from one round to the next.
                let name = format!("{round}{i}").repeat(1 + (i * 7 + round.len()) % 5);
                format!("{{\"id\":\"{i}\",\"email\":\"u{i}@example.com\",\"name\":\"{name}\"}}\n")
            })
            .collect();
        write(dir, "d.jsonl", data.as_bytes());
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_mailspec"))
            .args(["render", "spec.yaml", "--data", "d.jsonl", "--out", out])
            .args(["--date", "2024-06-01T10:00:00Z", "--jobs", "4"])
            .current_dir(dir)
            .output()
            .expect("runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let meta = |rel: &str| std::fs::symlink_metadata(dir.join(rel)).expect("meta");
    render("out", "first");
    let inodes: HashSet<u64> = (0..300)
        .map(|i| meta(&format!("out/{i}.eml")).ino())
        .collect();
    // Held open, the first render's inodes cannot be freed and their numbers given to new
    // files: a number seen again is a file reused.
    let held: Vec<std::fs::File> = (0..300)
        .map(|i| std::fs::File::open(dir.join(format!("out/{i}.eml"))).expect("open"))
        .collect();
    std::fs::hard_link(dir.join("out/5.eml"), dir.join("linked.eml")).expect("link");
    let linked = std::fs::read(dir.join("linked.eml")).expect("read");
    let private = meta("out/7.eml").ino();
    std::fs::set_permissions(dir.join("out/7.eml"), PermissionsExt::from_mode(0o600))
        .expect("chmod");
    write(dir, "outside.txt", b"not a message");
    std::fs::remove_file(dir.join("out/9.eml")).expect("rm");
    std::os::unix::fs::symlink("../outside.txt", dir.join("out/9.eml")).expect("symlink");

    render("out", "second");
    render("fresh", "second");
    let again = folder_with_modes(&dir.join("out"));
    assert_eq!(again.len(), 301, "300 messages and the index");
    assert_same_folder(&again, &folder_with_modes(&dir.join("fresh")));
    assert_eq!(std::fs::read(dir.join("linked.eml")).expect("read"), linked);
    assert_eq!(
        std::fs::read(dir.join("outside.txt")).expect("read"),
        b"not a message"
    );
    let now: HashSet<u64> = (0..300)
        .map(|i| meta(&format!("out/{i}.eml")).ino())
        .collect();
    assert!(!now.contains(&private), "the file made private was reused");
    // Old files were reused (a few new ones are made while the first are in flight).
    let reused = now.intersection(&inodes).count();
    assert!(reused > 200, "only {reused} of 300 files reused");
    drop(held);
}

#[test]
fn parallel_rendering_gives_the_same_bytes_reports_and_order() {
    let tmp = tempfile::tempdir().expect("tmp");
    let spec = format!(
        "{HEADER}message:
  from: shop@example.com
  to: \"{{{{ name }}}} <{{{{ email }}}}>\"
  subject: \"Hola {{{{ name }}}}\"
  text: {{ content: \"Hola {{{{ name }}}}, record {{{{ id }}}}\" }}
"
    );
    let mut data = String::new();
    for i in 0..400 {
        // Every 37th record has a bad address, every 101st repeats an earlier id.
        let email = if i % 37 == 5 {
            "bad address".to_string()
        } else {
            format!("u{i}@example.com")
        };
        let id = if i % 101 == 100 { 3 } else { i };
        data.push_str(&format!(
            "{{\"id\":\"{id}\",\"email\":\"{email}\",\"name\":\"N{i}\"}}\n"
        ));
    }
    let run = |jobs: &str, extra: &[&str]| {
        let dir = tmp.path().join(format!("j{jobs}{}", extra.len()));
        write(&dir, "spec.yaml", spec.as_bytes());
        write(&dir, "d.jsonl", data.as_bytes());
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_mailspec"))
            .args(["render", "spec.yaml", "--data", "d.jsonl", "--out", "out"])
            .args([
                "--date",
                "2024-06-01T10:00:00Z",
                "--report",
                "r.jsonl",
                "--jobs",
                jobs,
            ])
            .args(extra)
            .current_dir(&dir)
            .output()
            .expect("runs");
        assert_eq!(o.status.code(), Some(1));
        let files = folder(&dir.join("out"));
        let report = std::fs::read_to_string(dir.join("r.jsonl")).expect("report");
        (
            files,
            report,
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let one = run("1", &[]);
    let four = run("4", &[]);
    // About 390 messages and the folder's index.
    assert!(one.0.len() > 350, "{}", one.0.len());
    assert!(one.1.contains("data/duplicate-key") && one.1.contains("data/address"));
    assert_eq!(
        one, four,
        "jobs must not change a byte, a report line or their order"
    );
    let ff1 = run("1", &["--fail-fast"]);
    let ff4 = run("4", &["--fail-fast"]);
    assert_eq!(ff1, ff4);
    assert_eq!(
        ff1.1.lines().count(),
        6,
        "stops at the first bad record (the 6th)"
    );
    // Messages are written ahead, under temporary names, by the rendering threads: nothing of
    // that is left, not for the duplicate ids nor for what was rendered after the stop, and the
    // index lists exactly the files there.
    for (files, _, _) in [&one, &ff4] {
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert!(!names.iter().any(|n| n.starts_with('.')), "{names:?}");
        let (_, index) = files
            .iter()
            .find(|(n, _)| n == "envelopes.jsonl")
            .expect("index");
        let mut listed: Vec<String> = String::from_utf8_lossy(index)
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).expect("json")["file"]
                    .as_str()
                    .expect("file")
                    .to_string()
            })
            .collect();
        listed.sort();
        let emls: Vec<&str> = names.into_iter().filter(|n| n.ends_with(".eml")).collect();
        assert_eq!(listed, emls);
    }
}
