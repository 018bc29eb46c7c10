//! The emitter's tests: examples, edge cases and the sample set checked by the oracle.
use super::*;

pub(crate) fn mailbox(name: Option<&str>, addr: &str) -> Mailbox {
    Mailbox {
        name: name.map(Into::into),
        addr: parse_addr_spec(addr, true).expect(addr),
    }
}

pub(crate) fn base_message(body: Part) -> Message {
    Message {
        from: vec![mailbox(Some("News Desk"), "news@example.com")],
        sender: None,
        to: vec![mailbox(Some("Ada Lovelace"), "ada@example.org")],
        cc: Vec::new(),
        reply_to: Vec::new(),
        subject: Some("Hello".into()),
        date: DateTime::parse_from_rfc3339("2025-07-01T09:30:00+02:00").expect("valid date"),
        message_id: ident::message_id(b"seed", "example.com"),
        in_reply_to: Vec::new(),
        references: Vec::new(),
        extra_headers: Vec::new(),
        list_headers: Vec::new(),
        smtputf8: false,
        body,
    }
}

fn text(body: &str) -> Part {
    Part::Leaf(Leaf::new("text/plain", body.as_bytes()))
}

/// Wire-level invariants every emitted message must satisfy.
pub(crate) fn assert_wire(bytes: &[u8]) {
    assert!(bytes.ends_with(b"\r\n"), "message must end with CRLF");
    assert!(!bytes.contains(&0), "NUL in message");
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            assert!(i > 0 && bytes[i - 1] == b'\r', "bare LF at {i}");
        }
        if b == b'\r' {
            assert_eq!(bytes.get(i + 1), Some(&b'\n'), "bare CR at {i}");
        }
    }
    for line in bytes.split(|&b| b == b'\n') {
        assert!(line.len() <= 999, "line of {} octets", line.len() - 1);
    }
}

fn emit_str(msg: &Message) -> String {
    let bytes = emit(msg, b"seed").expect("emits");
    assert_wire(&bytes);
    String::from_utf8(bytes).expect("ASCII output")
}

#[test]
fn simple_text_message_exact_bytes() {
    let msg = base_message(text("Hi Ada,\nsee you.\n"));
    let want = "Date: Tue, 01 Jul 2025 09:30:00 +0200\r\n\
                From: News Desk <news@example.com>\r\n\
                To: Ada Lovelace <ada@example.org>\r\n\
                Subject: Hello\r\n\
                Message-ID: <ml65tz4sjw2n4qxcxlzasvs3ec@example.com>\r\n\
                MIME-Version: 1.0\r\n\
                Content-Type: text/plain; charset=utf-8\r\n\
                Content-Transfer-Encoding: 7bit\r\n\
                \r\n\
                Hi Ada,\r\nsee you.\r\n";
    assert_eq!(emit_str(&msg), want);
}

#[test]
fn header_order_is_fixed() {
    let mut msg = base_message(text("x"));
    msg.sender = Some(mailbox(None, "bounce@example.com"));
    msg.reply_to = vec![mailbox(None, "reply@example.com")];
    msg.cc = vec![mailbox(None, "cc@example.com")];
    msg.in_reply_to = vec!["a@example.com".into()];
    msg.references = vec!["r1@example.com".into(), "a@example.com".into()];
    msg.extra_headers = vec![("X-Campaign".into(), "summer".into())];
    msg.list_headers = vec!["List-Unsubscribe: <https://example.com/u>\r\n".into()];
    let out = emit_str(&msg);
    let names: Vec<&str> = out
        .split("\r\n")
        .take_while(|l| !l.is_empty())
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_once(':').map(|(n, _)| n))
        .collect();
    assert_eq!(
        names,
        [
            "Date",
            "From",
            "Sender",
            "Reply-To",
            "To",
            "Cc",
            "Subject",
            "Message-ID",
            "In-Reply-To",
            "References",
            "X-Campaign",
            "List-Unsubscribe",
            "MIME-Version",
            "Content-Type",
            "Content-Transfer-Encoding",
        ]
    );
    assert!(out.contains("References: <r1@example.com> <a@example.com>\r\n"));
}

#[test]
fn list_headers_are_rechecked() {
    for bad in [
        "List-Id: <a.b.example>",
        "List-Id <a.b.example>\r\n",
        "List-Id: <a.b.example>\r\nBcc: x@example.com\r\n",
        "List-Id: a\rb\r\n",
    ] {
        let mut msg = base_message(text("x"));
        msg.list_headers = vec![bad.into()];
        assert!(emit(&msg, b"seed").is_err(), "{bad:?}");
    }
    let mut msg = base_message(text("x"));
    msg.list_headers =
        vec!["List-Unsubscribe: <https://example.com/u>,\r\n <mailto:u@example.com>\r\n".into()];
    assert!(emit_str(&msg).contains("\r\n <mailto:u@example.com>\r\nMIME-Version: 1.0\r\n"));
}

#[test]
fn deterministic_and_seed_dependent() {
    let body = Part::Multipart(Multipart {
        subtype: "alternative".into(),
        parts: vec![
            text("plain"),
            Part::Leaf(Leaf::new("text/html", "<p>html</p>")),
        ],
    });
    let msg = base_message(body);
    let a = emit(&msg, b"seed").expect("emits");
    assert_eq!(a, emit(&msg, b"seed").expect("emits"));
    assert_ne!(a, emit(&msg, b"other seed").expect("emits"));
}

#[test]
fn multipart_structure() {
    let body = Part::Multipart(Multipart {
        subtype: "mixed".into(),
        parts: vec![
            Part::Multipart(Multipart {
                subtype: "alternative".into(),
                parts: vec![
                    text("plain"),
                    Part::Leaf(Leaf::new("text/html", "<p>x</p>")),
                ],
            }),
            Part::Leaf(Leaf {
                disposition: Some(Disposition {
                    kind: DispositionKind::Attachment,
                    filename: Some("data.bin".into()),
                }),
                ..Leaf::new("application/octet-stream", vec![0u8, 1, 2, 255])
            }),
        ],
    });
    let out = emit_str(&base_message(body));
    let outer = ident::boundary(b"seed", &[], 0);
    let inner = ident::boundary(b"seed", &[0], 0);
    assert!(out.contains(&format!(
        "Content-Type: multipart/mixed; boundary=\"{outer}\"\r\n\r\n--{outer}\r\n"
    )));
    assert!(out.contains(&format!("\r\n--{inner}--\r\n--{outer}\r\n")));
    assert!(out.ends_with(&format!("\r\n--{outer}--\r\n")));
    assert!(out.contains("Content-Type: application/octet-stream; name=data.bin\r\n"));
    assert!(out.contains(
        "Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=data.bin\r\n\r\nAAEC/w==\r\n"
    ));
    assert!(!out.contains("MIME-Version: 1.0\r\nContent-Transfer-Encoding"));
}

#[test]
fn boundary_collision_bumps_attempt() {
    let first = ident::boundary(b"seed", &[], 0);
    let second = ident::boundary(b"seed", &[], 1);
    let body = Part::Multipart(Multipart {
        subtype: "mixed".into(),
        parts: vec![text(&format!("quoting --{first} here\n--{first}--\n"))],
    });
    let out = emit_str(&base_message(body));
    assert!(out.contains(&format!("boundary=\"{second}\"")));
    assert_eq!(out.matches(&format!("--{second}")).count(), 2);
}

#[test]
fn related_gets_type_parameter() {
    let body = Part::Multipart(Multipart {
        subtype: "related".into(),
        parts: vec![
            Part::Leaf(Leaf::new("text/html", "<img src=\"cid:logo@example.com\">")),
            Part::Leaf(Leaf {
                content_id: Some("logo@example.com".into()),
                disposition: Some(Disposition {
                    kind: DispositionKind::Inline,
                    filename: Some("logo.png".into()),
                }),
                ..Leaf::new("image/png", b"\x89PNG\r\n\x1a\n".to_vec())
            }),
        ],
    });
    let out = emit_str(&base_message(body));
    assert!(out.contains("Content-Type: multipart/related; type=\"text/html\";\r\n boundary="));
    assert!(out.contains(
        "Content-Disposition: inline; filename=logo.png\r\nContent-ID: <logo@example.com>\r\n"
    ));
}

#[test]
fn message_rfc822_encodings() {
    let inner = "Subject: inner\nFrom: a@example.com\n\nbody\n";
    let mut leaf = Leaf::new("message/rfc822", inner.as_bytes());
    let out = emit_str(&base_message(Part::Leaf(leaf.clone())));
    assert!(out.contains("Content-Transfer-Encoding: 7bit\r\n\r\nSubject: inner\r\nFrom:"));
    leaf.body = "Subject: é\n\nü\n".as_bytes().to_vec();
    let out = emit(&base_message(Part::Leaf(leaf.clone())), b"s").expect("8bit is fine");
    assert!(String::from_utf8_lossy(&out).contains("Content-Transfer-Encoding: 8bit\r\n"));
    for enc in [TransferEncoding::Base64, TransferEncoding::QuotedPrintable] {
        leaf.transfer_encoding = Some(enc);
        let err = emit(&base_message(Part::Leaf(leaf.clone())), b"s").expect_err("forbidden");
        assert!(
            err.to_string().contains("must use `7bit` or `8bit`"),
            "{err}"
        );
    }
    leaf.transfer_encoding = Some(TransferEncoding::SevenBit);
    let err = emit(&base_message(Part::Leaf(leaf)), b"s").expect_err("not 7bit");
    assert_eq!(
        err.to_string(),
        "`7bit` requested for `message/rfc822` but the content is not 7bit: non-ASCII octet at offset 9"
    );
}

#[test]
fn emit_errors() {
    type Mutation = Box<dyn Fn(&mut Message)>;
    let cases: Vec<(Mutation, &str)> = vec![
        (
            Box::new(|m| m.from.clear()),
            "header `From` needs at least one mailbox",
        ),
        (
            Box::new(|m| m.from.push(mailbox(None, "b@example.com"))),
            "header `Sender` is required",
        ),
        (
            Box::new(|m| m.subject = Some("hi\r\nBcc: evil@example.com".into())),
            "control character U+000D in header `Subject`",
        ),
        (
            Box::new(|m| m.extra_headers.push(("X-Bad Name".into(), "v".into()))),
            "invalid header name `X-Bad Name`",
        ),
        (
            Box::new(|m| m.extra_headers.push(("Bcc".into(), "x@example.com".into()))),
            "header `Bcc` cannot be set as a custom header",
        ),
        (
            Box::new(|m| {
                m.extra_headers
                    .push(("Content-Type".into(), "text/html".into()))
            }),
            "cannot be set as a custom header",
        ),
        (
            Box::new(|m| m.extra_headers.push(("X-Note".into(), "a\nb".into()))),
            "control character U+000A in header `X-Note`",
        ),
        (
            Box::new(|m| m.message_id = "no-at-sign".into()),
            "invalid message id `no-at-sign` in header `Message-ID`",
        ),
        (
            Box::new(|m| m.in_reply_to = vec!["a@b>\r\nX: y".into()]),
            "invalid message id `a@b>\\u{d}\\u{a}X: y` in header `In-Reply-To`",
        ),
        (
            Box::new(|m| m.to = vec![mailbox(None, "josé@example.com")]),
            "invalid address in header `To`: local part of `josé@example.com` contains non-ASCII characters, which requires smtputf8",
        ),
        (
            Box::new(|m| m.body = Part::Leaf(Leaf::new("text", "x"))),
            "invalid media type `text`: expected `type/subtype`",
        ),
        (
            Box::new(|m| m.body = Part::Leaf(Leaf::new("multipart/mixed", "x"))),
            "a part with content cannot be a multipart",
        ),
        (
            Box::new(|m| {
                m.body = Part::Multipart(Multipart {
                    subtype: "mixed".into(),
                    parts: vec![],
                })
            }),
            "`multipart/mixed` has no parts",
        ),
        (
            Box::new(|m| {
                m.body = Part::Leaf(Leaf {
                    transfer_encoding: Some(TransferEncoding::SevenBit),
                    ..Leaf::new("text/plain", "café")
                })
            }),
            "`7bit` requested for `text/plain` but the content is not 7bit: non-ASCII octet at offset 3",
        ),
        (
            Box::new(|m| {
                m.body = Part::Leaf(Leaf {
                    charset: Some("utf 8".into()),
                    ..Leaf::new("text/plain", "x")
                })
            }),
            "invalid charset `utf 8`",
        ),
        (
            Box::new(|m| {
                m.body = Part::Leaf(Leaf {
                    params: vec![("charset".into(), "latin1".into())],
                    ..Leaf::new("text/plain", "x")
                })
            }),
            "invalid parameter `charset` on `text/plain`",
        ),
        (
            Box::new(|m| {
                m.body = Part::Leaf(Leaf {
                    content_id: Some("<x@y.z>".into()),
                    ..Leaf::new("image/png", "x")
                })
            }),
            "invalid content id `<x@y.z>`",
        ),
    ];
    for (mutate, want) in cases {
        let mut msg = base_message(text("body"));
        mutate(&mut msg);
        let err = emit(&msg, b"seed").expect_err(want);
        assert!(err.to_string().contains(want), "{err}");
    }
}

#[test]
fn charset_is_checked() {
    let bad = Leaf::new("text/plain", b"caf\xe9".to_vec());
    let err = emit(&base_message(Part::Leaf(bad)), b"s").expect_err("latin-1 bytes");
    assert_eq!(
        err.to_string(),
        "body of `text/plain` is not valid `utf-8`: bad octet at offset 3"
    );
    let ascii = Leaf {
        charset: Some("US-ASCII".into()),
        ..Leaf::new("text/plain", "café")
    };
    assert!(emit(&base_message(Part::Leaf(ascii)), b"s").is_err());
    let latin1 = Leaf {
        charset: Some("iso-8859-1".into()),
        ..Leaf::new("text/plain", b"caf\xe9".to_vec())
    };
    let out = emit(&base_message(Part::Leaf(latin1)), b"s").expect("taken on trust");
    assert!(String::from_utf8_lossy(&out).contains("charset=iso-8859-1"));
}

#[test]
fn header_injection_stays_literal() {
    use mail_parser::MessageParser;
    let attack = "=?utf-8?q?=0D=0ABcc:victim@example.com?=";
    let mut msg = base_message(text("x"));
    msg.subject = Some(format!("Hello {attack}"));
    msg.to = vec![mailbox(Some(attack), "ada@example.org")];
    msg.extra_headers = vec![("X-Note".into(), attack.into())];
    let bytes = emit(&msg, b"s").expect("emits");
    assert_wire(&bytes);
    let parsed = MessageParser::default().parse(&bytes).expect("parses");
    assert!(parsed.bcc().is_none());
    assert_eq!(parsed.subject(), msg.subject.as_deref());
    let to = parsed.to().and_then(|a| a.first()).expect("to");
    assert_eq!(to.name(), Some(attack));
    assert_eq!(to.address(), Some("ada@example.org"));
    let note = parsed.header_raw("X-Note").expect("x-note");
    assert!(!note.contains(attack));
}

#[test]
fn filename_rejections() {
    let bad = [
        ("", "it is empty"),
        ("../etc/passwd", "path separator"),
        ("a\\b.txt", "path separator"),
        ("..", "names a directory"),
        ("a\nb.txt", "control character"),
        ("invoice\u{202E}gpj.exe", "invisible or bidirectional"),
        ("zero\u{200B}width.txt", "invisible or bidirectional"),
    ];
    let long = "x".repeat(256);
    for (name, want) in bad.iter().copied().chain([(long.as_str(), "255 octets")]) {
        let leaf = Leaf {
            disposition: Some(Disposition {
                kind: DispositionKind::Attachment,
                filename: Some(name.into()),
            }),
            ..Leaf::new("text/plain", "x")
        };
        let err = emit(&base_message(Part::Leaf(leaf)), b"s").expect_err(name);
        assert!(err.to_string().contains(want), "{name:?}: {err}");
    }
}

#[test]
fn deep_nesting_is_an_error() {
    let mut part = text("x");
    for _ in 0..=MAX_DEPTH {
        part = Part::Multipart(Multipart {
            subtype: "mixed".into(),
            parts: vec![part],
        });
    }
    let err = emit(&base_message(part), b"s").expect_err("too deep");
    assert_eq!(err.to_string(), "parts are nested more than 32 levels deep");
}

#[test]
fn smtputf8_headers_are_raw() {
    let mut msg = base_message(text("x"));
    msg.smtputf8 = true;
    msg.subject = Some("Grüße".into());
    msg.to = vec![mailbox(Some("Zoë"), "zoë@bücher.example")];
    let out = String::from_utf8(emit(&msg, b"s").expect("emits")).expect("utf-8");
    assert!(out.contains("Subject: Grüße\r\n"));
    assert!(out.contains("To: Zoë <zoë@xn--bcher-kva.example>\r\n"));
}

/// The full round trip through an independent parser (mail-parser).
#[test]
fn mail_parser_round_trip() {
    use mail_parser::{MessageParser, MimeHeaders};
    let attachment = "Übersicht – Q3 2025 (final) 日本語 😀.pdf";
    let pdf: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let html = "<p>Grüße, José! ✓</p>\n<p>Zweite Zeile</p>\n";
    let plain = "Grüße, José! ✓\nZweite Zeile\n";
    let body = Part::Multipart(Multipart {
        subtype: "mixed".into(),
        parts: vec![
            Part::Multipart(Multipart {
                subtype: "alternative".into(),
                parts: vec![text(plain), Part::Leaf(Leaf::new("text/html", html))],
            }),
            Part::Leaf(Leaf {
                disposition: Some(Disposition {
                    kind: DispositionKind::Attachment,
                    filename: Some(attachment.into()),
                }),
                ..Leaf::new("application/pdf", pdf.clone())
            }),
        ],
    });
    let mut msg = base_message(body);
    msg.subject = Some("Ünïcödé subject with emoji 😀 and a long tail of words to fold".into());
    msg.from = vec![mailbox(Some("José Müller"), "jose@bücher.example")];
    msg.to = vec![
        mailbox(Some("O'Brien, Siobhán"), "siobhan@example.ie"),
        mailbox(None, "plain@example.org"),
    ];
    let bytes = emit(&msg, b"seed").expect("emits");
    assert_wire(&bytes);
    let parsed = MessageParser::default().parse(&bytes).expect("parses");
    assert_eq!(parsed.subject(), msg.subject.as_deref());
    let from = parsed.from().and_then(|a| a.first()).expect("from");
    assert_eq!(from.name(), Some("José Müller"));
    assert_eq!(from.address(), Some("jose@xn--bcher-kva.example"));
    let to: Vec<_> = parsed
        .to()
        .expect("to")
        .iter()
        .map(|a| (a.name().map(str::to_owned), a.address().map(str::to_owned)))
        .collect();
    assert_eq!(
        to,
        [
            (
                Some("O'Brien, Siobhán".into()),
                Some("siobhan@example.ie".into())
            ),
            (None, Some("plain@example.org".into())),
        ]
    );
    let norm = |s: &str| s.replace("\r\n", "\n").trim_end().to_owned();
    assert_eq!(norm(&parsed.body_text(0).expect("text")), norm(plain));
    assert_eq!(norm(&parsed.body_html(0).expect("html")), norm(html));
    let att = parsed.attachment(0).expect("attachment");
    assert_eq!(att.attachment_name(), Some(attachment));
    assert_eq!(att.contents(), pdf.as_slice());
    assert_eq!(parsed.message_id(), Some(msg.message_id.as_str()));
}

/// Writes sample messages to `/tmp/mimeout` for `check_eml.py`:
/// `cargo test --lib mime::tests::write_samples -- --ignored`.
#[test]
#[ignore = "writes files for the external oracle"]
fn write_samples() {
    let dir = std::path::Path::new("/tmp/mimeout");
    std::fs::create_dir_all(dir).expect("mkdir");
    for (name, msg) in samples() {
        let bytes = emit(&msg, name.as_bytes()).expect(name);
        std::fs::write(dir.join(format!("{name}.eml")), bytes).expect("write");
        std::fs::write(dir.join(format!("{name}.expect.json")), sidecar(&msg)).expect("write");
    }
}

/// JSON string literal (the expectations only hold printable text).
fn json(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `check_eml.py` expectations: decoded subject, addresses, attachment names, structure.
pub(crate) fn sidecar(msg: &Message) -> String {
    fn walk(part: &Part, types: &mut Vec<String>, names: &mut Vec<String>) {
        match part {
            Part::Multipart(mp) => {
                types.push(format!("multipart/{}", mp.subtype));
                for p in &mp.parts {
                    walk(p, types, names);
                }
            }
            Part::Leaf(leaf) => {
                types.push(leaf.media_type.clone());
                if let Some(d) = &leaf.disposition
                    && d.kind == DispositionKind::Attachment
                {
                    names.push(d.filename.clone().unwrap_or_default());
                }
            }
        }
    }
    let (mut types, mut names) = (Vec::new(), Vec::new());
    walk(&msg.body, &mut types, &mut names);
    let list = |v: &[String]| v.iter().map(|s| json(s)).collect::<Vec<_>>().join(", ");
    let addrs = |mbs: &[Mailbox]| {
        mbs.iter()
            .map(|m| {
                let name = m.name.as_deref().unwrap_or("");
                format!("[{}, {}]", json(name), json(&m.addr.to_string()))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut fields = vec![format!("\"smtputf8\": {}", msg.smtputf8)];
    // Python's parser walks into message/rfc822 parts; the walk above does not.
    if !types.iter().any(|t| t == "message/rfc822") {
        fields.push(format!("\"structure\": [{}]", list(&types)));
    }
    fields.extend([
        format!("\"attachment_filenames\": [{}]", list(&names)),
        format!(
            "\"addresses\": {{\"From\": [{}], \"To\": [{}]}}",
            addrs(&msg.from),
            addrs(&msg.to)
        ),
    ]);
    if let Some(subject) = &msg.subject {
        fields.push(format!("\"headers\": {{\"Subject\": {}}}", json(subject)));
    }
    format!("{{\n  {}\n}}\n", fields.join(",\n  "))
}

pub(crate) fn samples() -> Vec<(&'static str, Message)> {
    let mut out = Vec::new();
    out.push(("plain", base_message(text("Hello\nworld\n.\nFrom here\n"))));

    let mut msg = base_message(Part::Multipart(Multipart {
        subtype: "mixed".into(),
        parts: vec![
            Part::Multipart(Multipart {
                subtype: "alternative".into(),
                parts: vec![
                    text(&"Grüße aus Köln! ".repeat(30)),
                    Part::Leaf(Leaf::new("text/html", "<p>Grüße 😀</p>".repeat(20))),
                ],
            }),
            Part::Leaf(Leaf {
                disposition: Some(Disposition {
                    kind: DispositionKind::Attachment,
                    filename: Some(
                        "Übersicht – Q3 2025 (final) 日本語 😀 and more words.pdf".into(),
                    ),
                }),
                description: Some("Quartalsübersicht".into()),
                ..Leaf::new(
                    "application/pdf",
                    (0..=255u8).cycle().take(5000).collect::<Vec<u8>>(),
                )
            }),
        ],
    }));
    msg.subject = Some("=?utf-8?q?=0D=0ABcc:victim@example.com?= Ünïcödé 😀 ".repeat(3));
    msg.from = vec![mailbox(Some("José Müller"), "jose@bücher.example")];
    msg.to = vec![
        mailbox(Some("O'Brien, Siobhán"), "siobhan@example.ie"),
        mailbox(Some("say \"hi\" \\o/"), "\"odd local\"@example.org"),
        mailbox(Some("=?utf-8?q?fake?="), "fake@example.org"),
    ];
    msg.cc = (0..8)
        .map(|i| mailbox(Some(&format!("Person {i}")), &format!("p{i}@example.net")))
        .collect();
    msg.extra_headers = vec![("X-Campaign".into(), "Sommer – 2025".into())];
    msg.in_reply_to = vec!["parent@example.com".into()];
    msg.references = (0..6)
        .map(|i| format!("ref{i}.aaaaaaaaaaaa@example.com"))
        .collect();
    out.push(("mixed", msg));

    let mut msg = base_message(Part::Multipart(Multipart {
        subtype: "related".into(),
        parts: vec![
            Part::Leaf(Leaf::new("text/html", "<img src=\"cid:logo@example.com\">")),
            Part::Leaf(Leaf {
                content_id: Some("logo@example.com".into()),
                disposition: Some(Disposition {
                    kind: DispositionKind::Inline,
                    filename: Some("logo.png".into()),
                }),
                ..Leaf::new("image/png", b"\x89PNG\r\n\x1a\n\0\0".to_vec())
            }),
        ],
    }));
    msg.subject = Some(format!("long {} word", "x".repeat(1500)));
    out.push(("related", msg));

    let mut msg = base_message(Part::Multipart(Multipart {
        subtype: "mixed".into(),
        parts: vec![
            text("see attached"),
            Part::Leaf(Leaf {
                params: vec![("method".into(), "REQUEST".into())],
                ..Leaf::new("text/calendar", "BEGIN:VCALENDAR\nEND:VCALENDAR\n")
            }),
            Part::Leaf(Leaf::new(
                "message/rfc822",
                "Subject: inner\nFrom: a@example.com\nMIME-Version: 1.0\n\
                 Content-Type: text/plain; charset=us-ascii\n\nbody\n",
            )),
        ],
    }));
    msg.smtputf8 = true;
    msg.subject = Some("Grüße 😀".into());
    msg.to = vec![mailbox(Some("Zoë"), "zoë@bücher.example")];
    out.push(("smtputf8", msg));

    let first = ident::boundary(b"collide", &[], 0);
    let msg = base_message(Part::Multipart(Multipart {
        subtype: "mixed".into(),
        parts: vec![text(&format!("--{first}\n--{first}--\n")), text("second")],
    }));
    out.push(("collide", msg));
    out
}
