//! The adversarial corpus: hostile record values rendered through `tests/adversarial/spec.yaml`.
//!
//! Every case states its expected outcome: rejected with which code (and which field), or
//! accepted with exact decoded values read back by an independent parser (`mail-parser`).
//! Accepted messages are also written to `target/adversarial-out/` so that `scripts/test.sh`
//! can run the independent oracle `check_eml.py` over them.

use std::path::PathBuf;

use mail_parser::{MessageParser, MimeHeaders};
use mailspec::diag::Code;
use mailspec::render::{EmittedMessage, RenderOptions};
use serde_json::{Map, Value, json};

use crate::examples::assert_wire_format;
use crate::util::root;

enum Expect {
    /// Rejected with this code, naming this field (when `Some`).
    Reject(Code, Option<&'static str>),
    /// Accepted; the check inspects the message.
    Accept(fn(&Case, &EmittedMessage, &mail_parser::Message<'_>)),
}

struct Case {
    id: &'static str,
    /// Why this case exists (the attack it models).
    why: &'static str,
    record: Value,
    expect: Expect,
}

fn spec_dir() -> PathBuf {
    root().join("tests/adversarial")
}

fn base(over: Value) -> Map<String, Value> {
    let mut m = json!({ "id": "r1", "email": "ana@example.com", "name": "Ana" })
        .as_object()
        .cloned()
        .unwrap_or_default();
    if let Value::Object(o) = over {
        for (k, v) in o {
            m.insert(k, v);
        }
    }
    m
}

fn options() -> RenderOptions {
    RenderOptions {
        date: chrono::DateTime::parse_from_rfc3339("2024-06-01T10:00:00Z").ok(),
        ..Default::default()
    }
}

/// Header names present at the top level, lower-cased.
fn header_names(m: &mail_parser::Message<'_>) -> Vec<String> {
    m.headers()
        .iter()
        .map(|h| h.name().to_ascii_lowercase())
        .collect()
}

/// The headers the spec declares, and nothing else, may appear.
fn only_declared_headers(m: &mail_parser::Message<'_>) {
    let allowed = [
        "date",
        "from",
        "to",
        "cc",
        "subject",
        "message-id",
        "x-note",
        "mime-version",
        "content-type",
    ];
    for h in header_names(m) {
        assert!(allowed.contains(&h.as_str()), "unexpected header `{h}`");
    }
}

fn rcpt(e: &EmittedMessage) -> Vec<String> {
    e.envelope.to.iter().map(|a| a.to_string()).collect()
}

fn to_pairs(m: &mail_parser::Message<'_>) -> Vec<(Option<String>, Option<String>)> {
    m.to()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x.name().map(str::to_string),
                        x.address().map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            id: "crlf-in-name",
            why: "header injection through a raw line break (CPython CVE-2024-6923 class)",
            record: json!({ "name": "Ana\r\nBcc: victim@example.org" }),
            expect: Expect::Reject(Code::DataHeaderInjection, Some("name")),
        },
        Case {
            id: "lf-in-note",
            why: "a bare LF bound into Subject and a custom header",
            record: json!({ "note": "hi\nX-Evil: 1" }),
            expect: Expect::Reject(Code::DataHeaderInjection, Some("note")),
        },
        Case {
            id: "nul-in-name",
            why: "NUL in a header value",
            record: json!({ "name": "Ana\u{0}" }),
            expect: Expect::Reject(Code::DataHeaderInjection, Some("name")),
        },
        Case {
            id: "escape-in-name",
            why: "another C0 control (ESC) in a header value",
            record: json!({ "name": "Ana\u{1b}[31m" }),
            expect: Expect::Reject(Code::DataHeaderInjection, Some("name")),
        },
        Case {
            id: "marker-in-name",
            why: "the private-use markers that delimit data in address templates",
            record: json!({ "name": "Ana\u{e001}, eve@evil.example" }),
            expect: Expect::Reject(Code::DataHeaderInjection, Some("name")),
        },
        Case {
            id: "encoded-newline-in-name",
            why: "data that looks like an encoded-word hiding CRLF + Bcc (CVE-2024-6923)",
            record: json!({ "name": "=?utf-8?q?=0D=0ABcc:_victim@example.org?=" }),
            expect: Expect::Accept(|_, e, m| {
                only_declared_headers(m);
                assert_eq!(
                    to_pairs(m),
                    vec![(
                        Some("=?utf-8?q?=0D=0ABcc:_victim@example.org?=".into()),
                        Some("ana@example.com".into())
                    )]
                );
                assert_eq!(rcpt(e), vec!["ana@example.com", "accounts@example.com"]);
            }),
        },
        Case {
            id: "encoded-word-in-subject",
            why: "an encoded-word-looking subject must read back literally",
            record: json!({ "note": "=?utf-8?b?Qm9vIQ==?=" }),
            expect: Expect::Accept(|_, _, m| {
                assert_eq!(m.subject(), Some("Order for Ana: =?utf-8?b?Qm9vIQ==?="));
            }),
        },
        Case {
            id: "address-in-display-name",
            why: "a name that tries to add a recipient (Nodemailer CVE-2025-13033 family)",
            record: json!({ "name": "Eve <eve@evil.example>, mallory@evil.example" }),
            expect: Expect::Accept(|_, e, m| {
                assert_eq!(
                    to_pairs(m),
                    vec![(
                        Some("Eve <eve@evil.example>, mallory@evil.example".into()),
                        Some("ana@example.com".into())
                    )]
                );
                assert_eq!(rcpt(e), vec!["ana@example.com", "accounts@example.com"]);
            }),
        },
        Case {
            id: "quoted-local-part",
            why: "a quoted local part holding another address: the domain is after the last unquoted @",
            record: json!({ "email": "\"victim@example.org x\"@example.com" }),
            expect: Expect::Accept(|_, e, _| {
                assert_eq!(e.envelope.to[0].domain, "example.com");
                assert_eq!(e.envelope.to[0].local, "victim@example.org x");
                assert_eq!(e.envelope.to.len(), 2);
            }),
        },
        Case {
            id: "two-addresses-in-email",
            why: "a list smuggled into an email field",
            record: json!({ "email": "ana@example.com, eve@evil.example" }),
            expect: Expect::Reject(Code::DataAddress, Some("email")),
        },
        Case {
            id: "leading-dash",
            why: "an address that looks like a sendmail option (PHPMailer CVE-2016-10033) is a valid \
                  address (RFC 5322 atext): kept exactly; `send --sendmail` makes its command line \
                  safe instead (tests/send.rs)",
            record: json!({ "email": "-oQ/tmp/x@example.com" }),
            expect: Expect::Accept(|_, e, m| {
                assert_eq!(
                    to_pairs(m),
                    vec![(Some("Ana".into()), Some("-oQ/tmp/x@example.com".into()))]
                );
                assert_eq!(
                    rcpt(e),
                    vec!["-oQ/tmp/x@example.com", "accounts@example.com"]
                );
            }),
        },
        Case {
            id: "ip-literal",
            why: "IP-literal domains bypass domain policy",
            record: json!({ "email": "user@[127.0.0.1]" }),
            expect: Expect::Reject(Code::DataAddress, Some("email")),
        },
        Case {
            id: "comment-in-address",
            why: "comments hide parts of an address from humans",
            record: json!({ "email": "user(evil@x.example)@example.com" }),
            expect: Expect::Reject(Code::DataAddress, Some("email")),
        },
        Case {
            id: "route-syntax",
            why: "obsolete source routes redirect delivery",
            record: json!({ "email": "@evil.example:user@example.com" }),
            expect: Expect::Reject(Code::DataAddress, Some("email")),
        },
        Case {
            id: "encoded-word-in-address",
            why: "'splitting the email atom' (2024): encoded-words inside an address",
            record: json!({ "email": "=?utf-8?q?eve=40evil.example?=@example.com" }),
            expect: Expect::Reject(Code::DataAddress, Some("email")),
        },
        Case {
            id: "non-ascii-local-part",
            why: "UTF-8 local parts need SMTPUTF8, which this spec does not enable",
            record: json!({ "email": "josé@example.com" }),
            expect: Expect::Reject(Code::DataAddress, Some("email")),
        },
        Case {
            id: "idn-domain",
            why: "IDN domains go out as punycode (UTS #46)",
            record: json!({ "email": "jose@bücher.example" }),
            expect: Expect::Accept(|_, e, m| {
                assert_eq!(e.envelope.to[0].to_string(), "jose@xn--bcher-kva.example");
                assert_eq!(
                    to_pairs(m)[0].1.as_deref(),
                    Some("jose@xn--bcher-kva.example")
                );
            }),
        },
        Case {
            id: "bidi-in-domain",
            why: "a right-to-left override disguises a domain",
            record: json!({ "email": "user@exa\u{202e}elpmaxe.com" }),
            expect: Expect::Reject(Code::DataAddress, Some("email")),
        },
        Case {
            id: "zero-width-in-domain",
            why: "a zero-width space makes a look-alike domain",
            record: json!({ "email": "user@exa\u{200b}mple.com" }),
            expect: Expect::Reject(Code::DataAddress, Some("email")),
        },
        Case {
            id: "bidi-in-display-name",
            why: "display names may carry bidi text: encoded, and read back exactly",
            record: json!({ "name": "\u{202e}moc.elpmaxe\u{202c} Ana" }),
            expect: Expect::Accept(|_, _, m| {
                assert_eq!(
                    to_pairs(m)[0].0.as_deref(),
                    Some("\u{202e}moc.elpmaxe\u{202c} Ana")
                );
            }),
        },
        Case {
            id: "template-in-data",
            why: "data is never evaluated as a template (SSTI)",
            record: json!({ "name": "{{ 7*7 }}", "note": "{% include '/etc/passwd' %}{{ range(10)|list }}" }),
            expect: Expect::Accept(|_, _, m| {
                let text = m.body_text(0).unwrap_or_default();
                assert!(text.contains("Hello {{ 7*7 }},"), "{text}");
                assert!(
                    text.contains("{% include '/etc/passwd' %}{{ range(10)|list }}"),
                    "{text}"
                );
                assert!(!text.contains("49"), "{text}");
                assert_eq!(
                    m.subject(),
                    Some("Order for {{ 7*7 }}: {% include '/etc/passwd' %}{{ range(10)|list }}")
                );
            }),
        },
        Case {
            id: "html-in-data",
            why: "HTML from data is escaped in HTML parts (and only there)",
            record: json!({ "name": "<script>alert(1)</script>", "company": "\"><img src=x onerror=alert(1)>" }),
            expect: Expect::Accept(|_, _, m| {
                let html = m.body_html(0).unwrap_or_default();
                assert!(
                    html.contains("<p>Hello &lt;script&gt;alert(1)&lt;/script&gt;</p>"),
                    "{html}"
                );
                assert!(
                    html.contains("b=&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\">"),
                    "{html}"
                );
                assert!(
                    !html.contains("<script>") && !html.contains("<img"),
                    "{html}"
                );
                let text = m.body_text(0).unwrap_or_default();
                assert!(text.contains("Hello <script>alert(1)</script>,"), "{text}");
            }),
        },
        Case {
            id: "nul-in-body",
            why: "a NUL in body data never reaches the output raw",
            record: json!({ "body_note": "a\u{0}b" }),
            expect: Expect::Accept(|_, e, m| {
                assert!(!e.bytes.contains(&0));
                assert!(m.body_text(0).unwrap_or_default().contains("a\u{0}b"));
            }),
        },
        Case {
            id: "dot-and-from-lines",
            why: "lone `.` lines (SMTP end of data), `From ` lines (mbox), bare CR and LF in a body",
            record: json!({ "body_note": ".\nFrom me\n.\r\n..\rlast" }),
            expect: Expect::Accept(|_, e, m| {
                for line in e.bytes.split(|&b| b == b'\n') {
                    assert!(
                        line != b".\r" && line != b".",
                        "a lone dot line reached the output"
                    );
                    assert!(
                        !line.starts_with(b"From "),
                        "an unquoted From line reached the output"
                    );
                }
                let text = m.body_text(0).unwrap_or_default().replace("\r\n", "\n");
                assert!(text.contains(".\nFrom me\n.\n..\nlast"), "{text:?}");
            }),
        },
        Case {
            id: "path-traversal-in-attachment",
            why: "a templated attachment path must stay in the spec's folder",
            record: json!({ "invoice": "../../../../etc/passwd" }),
            expect: Expect::Reject(Code::DataFile, Some("invoice")),
        },
        Case {
            id: "absolute-attachment-path",
            why: "an absolute path from data",
            record: json!({ "invoice": "/etc/hostname" }),
            expect: Expect::Reject(Code::DataFile, Some("invoice")),
        },
        Case {
            id: "missing-attachment",
            why: "a file named by data that does not exist is a per-record error",
            record: json!({ "invoice": "nope" }),
            expect: Expect::Reject(Code::DataFile, Some("invoice")),
        },
        Case {
            id: "slash-in-filename",
            why: "an attachment name from data cannot carry a path, and the refusal names the field",
            record: json!({ "attachment_name": "../../evil.sh" }),
            expect: Expect::Reject(Code::DataType, Some("attachment_name")),
        },
        Case {
            id: "unicode-filename",
            why: "non-ASCII attachment names are RFC 2231-encoded and read back exactly",
            record: json!({ "attachment_name": "factura ñandú «2024» — copia.pdf" }),
            expect: Expect::Accept(|_, _, m| {
                let att = m
                    .attachments()
                    .next()
                    .map(|a| a.attachment_name().map(str::to_string));
                assert_eq!(
                    att,
                    Some(Some("factura ñandú «2024» — copia.pdf".to_string()))
                );
            }),
        },
        Case {
            id: "huge-subject",
            why: "a 100 kB unbreakable value: folded or encoded, no line over 998",
            record: json!({ "note": "x".repeat(100_000) }),
            expect: Expect::Accept(|_, _, m| {
                assert_eq!(
                    m.subject().map(str::len),
                    Some("Order for Ana: ".len() + 100_000)
                );
            }),
        },
        Case {
            id: "field-over-limit",
            why: "a value over the per-field limit is refused by name before rendering",
            record: json!({ "note": "y".repeat(2 << 20) }),
            expect: Expect::Reject(Code::DataLimit, Some("note")),
        },
        Case {
            id: "quotes-and-backslashes",
            why: "display names needing quoting read back exactly",
            record: json!({ "name": "O'Brien, \"Seán\" \\ Núñez" }),
            expect: Expect::Accept(|_, _, m| {
                assert_eq!(
                    to_pairs(m)[0].0.as_deref(),
                    Some("O'Brien, \"Seán\" \\ Núñez")
                );
            }),
        },
        Case {
            id: "missing-required",
            why: "a missing variable fails loudly (never 'Hello ,')",
            record: json!({ "email": null }),
            expect: Expect::Reject(Code::DataMissingField, Some("email")),
        },
        Case {
            id: "wrong-type",
            why: "a list where text is expected",
            record: json!({ "name": ["a", "b"] }),
            expect: Expect::Reject(Code::DataType, Some("name")),
        },
    ]
}

#[test]
fn adversarial_corpus() {
    let path = spec_dir().join("spec.yaml");
    let c = mailspec::spec::compile_path(&path).unwrap_or_else(|(s, d)| panic!("{}", s.render(&d)));
    let out = root().join("target/adversarial-out");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("create target/adversarial-out");
    let mut failures = Vec::new();
    for (i, case) in cases().iter().enumerate() {
        let raw = mailspec::data::RawRecord {
            index: i + 1,
            line: None,
            values: base(case.record.clone()),
            from_text: false,
        };
        let opts = options();
        let mut errors: Vec<(Code, Option<String>)> =
            mailspec::data::check_limits(&raw, opts.max_field)
                .into_iter()
                .map(|e| (e.code, e.field))
                .collect();
        let result = if errors.is_empty() {
            match mailspec::data::coerce(&c.spec.data.fields, &raw) {
                Ok(rec) => mailspec::render::render(
                    &c,
                    &rec,
                    i + 1,
                    &mailspec::assets::DirLoader::new(c.dir.clone()),
                    &opts,
                )
                .map_err(|es| {
                    es.into_iter()
                        .map(|e| (e.kind, e.field))
                        .collect::<Vec<_>>()
                }),
                Err(es) => Err(es.into_iter().map(|e| (e.code, e.field)).collect()),
            }
        } else {
            Err(std::mem::take(&mut errors))
        };
        match (&case.expect, result) {
            (Expect::Reject(code, field), Err(errs)) => {
                let hit = errs
                    .iter()
                    .any(|(c, f)| c == code && (field.is_none() || f.as_deref() == *field));
                if !hit {
                    failures.push(format!(
                        "{}: expected {code} on {field:?}, got {errs:?}",
                        case.id
                    ));
                }
            }
            (Expect::Reject(code, _), Ok(_)) => failures.push(format!(
                "{} ({}): accepted, expected {code}",
                case.id, case.why
            )),
            (Expect::Accept(_), Err(errs)) => {
                failures.push(format!("{} ({}): rejected: {errs:?}", case.id, case.why))
            }
            (Expect::Accept(check), Ok(msg)) => {
                assert_wire_format(&msg.bytes, case.id);
                std::fs::write(out.join(format!("{}.eml", case.id)), &msg.bytes).expect("write");
                let parsed = MessageParser::default()
                    .parse(&msg.bytes)
                    .unwrap_or_else(|| panic!("{}: unparseable", case.id));
                only_declared_headers(&parsed);
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    check(case, &msg, &parsed)
                }));
                if let Err(p) = outcome {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    failures.push(format!("{} ({}): {msg}", case.id, case.why));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// An attacker who knows how boundaries are derived puts the real boundary line, and a new part,
/// into a body: the emitter must notice and pick another boundary, so the part count stays.
#[test]
fn boundary_from_data_cannot_add_a_part() {
    let path = spec_dir().join("spec.yaml");
    let c = mailspec::spec::compile_path(&path).unwrap_or_else(|(s, d)| panic!("{}", s.render(&d)));
    let render = |over: Value| {
        let raw = mailspec::data::RawRecord {
            index: 1,
            line: None,
            values: base(over),
            from_text: false,
        };
        let rec = mailspec::data::coerce(&c.spec.data.fields, &raw).expect("valid");
        mailspec::render::render(
            &c,
            &rec,
            1,
            &mailspec::assets::DirLoader::new(c.dir.clone()),
            &options(),
        )
        .expect("renders")
    };
    let first = render(json!({}));
    let text = String::from_utf8_lossy(&first.bytes).into_owned();
    let boundaries: Vec<String> = text
        .split("boundary=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next().map(str::to_string))
        .collect();
    assert!(!boundaries.is_empty());
    let mut evil = String::new();
    for b in &boundaries {
        evil.push_str(&format!(
            "\n--{b}\nContent-Type: text/html\n\n<script>evil()</script>\n--{b}--\n"
        ));
    }
    let second = render(json!({ "body_note": evil }));
    let parsed = MessageParser::default()
        .parse(&second.bytes)
        .expect("parses");
    assert_eq!(
        parsed.parts.len(),
        MessageParser::default()
            .parse(&first.bytes)
            .expect("parses")
            .parts
            .len()
    );
    assert!(!parsed.body_html(0).unwrap_or_default().contains("<script>"));
    assert_wire_format(&second.bytes, "boundary");
    let again = String::from_utf8_lossy(&second.bytes).into_owned();
    for b in &boundaries {
        assert!(
            !again.contains(&format!("boundary=\"{b}\""))
                || !again.contains(&format!("\r\n--{b}\r\nContent-Type: text/html"))
        );
    }
}

#[test]
fn symlink_out_of_the_spec_folder_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = std::fs::read_to_string(spec_dir().join("spec.yaml")).expect("spec");
    std::fs::write(dir.path().join("spec.yaml"), spec).expect("write");
    std::fs::create_dir(dir.path().join("files")).expect("mkdir");
    // `files/inv-1.pdf` exists so the spec compiles; `files/leak.pdf` points outside.
    std::fs::write(dir.path().join("files/inv-1.pdf"), b"%PDF-1.4\n").expect("write");
    let outside = tempfile::NamedTempFile::new().expect("outside file");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("files/leak.pdf")).expect("symlink");
    let c = mailspec::spec::compile_path(&dir.path().join("spec.yaml"))
        .unwrap_or_else(|(s, d)| panic!("{}", s.render(&d)));
    let raw = mailspec::data::RawRecord {
        index: 1,
        line: None,
        values: base(json!({ "invoice": "leak" })),
        from_text: false,
    };
    let rec = mailspec::data::coerce(&c.spec.data.fields, &raw).expect("valid record");
    let errs = mailspec::render::render(
        &c,
        &rec,
        1,
        &mailspec::assets::DirLoader::new(c.dir.clone()),
        &options(),
    )
    .expect_err("symlink must be refused");
    assert!(
        errs.iter()
            .any(|e| e.kind == Code::DataFile && e.message.contains("outside")),
        "{errs:?}"
    );
}

#[test]
fn attachment_over_the_size_limit_is_a_record_error() {
    let path = spec_dir().join("spec.yaml");
    let c = mailspec::spec::compile_path(&path).unwrap_or_else(|(s, d)| panic!("{}", s.render(&d)));
    let raw = mailspec::data::RawRecord {
        index: 1,
        line: None,
        values: base(json!({})),
        from_text: false,
    };
    let rec = mailspec::data::coerce(&c.spec.data.fields, &raw).expect("valid");
    let opts = RenderOptions {
        max_attachment: 4,
        ..options()
    };
    let errs = mailspec::render::render(
        &c,
        &rec,
        1,
        &mailspec::assets::DirLoader::new(c.dir.clone()),
        &opts,
    )
    .expect_err("too big");
    assert!(errs.iter().any(|e| e.kind == Code::DataLimit), "{errs:?}");
    let opts = RenderOptions {
        max_message: 100,
        ..options()
    };
    let errs = mailspec::render::render(
        &c,
        &rec,
        1,
        &mailspec::assets::DirLoader::new(c.dir.clone()),
        &opts,
    )
    .expect_err("too big");
    assert!(errs.iter().any(|e| e.kind == Code::DataLimit), "{errs:?}");
}

/// RFC 6531/6532: a UTF-8 local part is refused unless the spec enables `smtputf8`; then the
/// header carries raw UTF-8 and the envelope says the message needs SMTPUTF8.
#[test]
fn utf8_local_part_needs_smtputf8() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = |on: bool| {
        format!(
            "mailspec: 1\ndata:\n  fields:\n    email: {{ type: email }}\nmessage:\n  smtputf8: {on}\n  from: Tienda <pedidos@tienda.example>\n  to: \"José <{{{{ email }}}}>\"\n  subject: Hola\n  text: {{ content: hola }}\n"
        )
    };
    let render = |on: bool| {
        std::fs::write(dir.path().join("s.yaml"), spec(on)).expect("write");
        let c = mailspec::spec::compile_path(&dir.path().join("s.yaml"))
            .unwrap_or_else(|(s, d)| panic!("{}", s.render(&d)));
        let raw = mailspec::data::RawRecord {
            index: 1,
            line: None,
            values: base(json!({ "email": "josé@correo.example" })),
            from_text: false,
        };
        let rec = mailspec::data::coerce(&c.spec.data.fields, &raw)
            .expect("email type accepts UTF-8 local parts");
        mailspec::render::render(
            &c,
            &rec,
            1,
            &mailspec::assets::DirLoader::new(c.dir.clone()),
            &options(),
        )
    };
    let off = render(false).expect_err("needs smtputf8");
    assert!(off.iter().any(|e| e.kind == Code::DataAddress), "{off:?}");
    let on = render(true).expect("renders");
    assert!(on.envelope.smtputf8);
    assert_eq!(on.envelope.to[0].to_string(), "josé@correo.example");
    let text = String::from_utf8(on.bytes.clone()).expect("UTF-8 headers");
    assert!(
        text.contains("To: José <josé@correo.example>\r\n"),
        "{text}"
    );
    assert_wire_format(&on.bytes, "smtputf8");
}
