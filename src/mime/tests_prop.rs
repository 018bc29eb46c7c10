//! Property tests for [`emit`](super::emit): arbitrary Unicode (emoji, combining marks,
//! right-to-left scripts, quotes, backslashes, literal `=?…?=`) in the subject, display
//! names, text and HTML bodies and attachment file names.
//!
//! Every emitted message must
//! - parse with an independent parser (mail-parser) back to the same decoded values,
//! - contain CRLF line endings only and no line over 998 octets,
//! - be byte-identical when emitted twice.
//!
//! The case count comes from the standard `PROPTEST_CASES` variable (CI runs 10 000) and
//! defaults to 256.

use mail_parser::{MessageParser, MimeHeaders};
use proptest::collection::vec;
use proptest::prelude::*;

use super::tests::{assert_wire, base_message, mailbox};
use super::{Disposition, DispositionKind, Leaf, Mailbox, Message, Multipart, Part, emit};

fn config() -> ProptestConfig {
    // `ProptestConfig::default()` reads the `PROPTEST_*` environment variables.
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 256;
    }
    config
}

/// Fragments that exercise quoting and encoded-word handling.
const FRAGMENTS: [&str; 12] = [
    "=?",
    "?=",
    "=?utf-8?q?=0D=0ABcc:x@example.com?=",
    "\"",
    "\\",
    "\t",
    "  ",
    "\u{200F}",
    "\u{200D}",
    "<x@example.com>",
    ",",
    "_",
];

/// Line endings and line starts that matter to SMTP and mbox.
const BREAKS: [&str; 5] = ["\n", "\r\n", "\r", "\n.\n", "\nFrom "];

/// Appends the piece of text selected by `n`: mostly single characters from varied
/// scripts (ASCII, Latin, combining marks, Hebrew, Arabic, CJK, emoji), spaces, and
/// fragments from [`FRAGMENTS`]; line breaks too when `lines` is set.
///
/// Mapping plain integers to text (instead of composing `prop_oneof!` strategies) keeps
/// generation cheap enough for 10 000 cases in a debug build; proptest still shrinks the
/// integers, towards fewer and simpler pieces.
fn push_piece(out: &mut String, n: u32, lines: bool) {
    let k = n / 100;
    let range = |base: u32, len: u32| char::from_u32(base + k % len).unwrap_or('?');
    match n % 100 {
        0..40 => out.push(range(0x20, 95)),
        40..50 => out.push(range(0xC0, 0xC0)),
        50..54 => out.push(range(0x300, 0x70)),
        54..58 => out.push(range(0x5D0, 27)),
        58..62 => out.push(range(0x627, 36)),
        62..66 => out.push(range(0x4E00, 0x200)),
        66..72 => out.push(range(0x1F600, 0x50)),
        72..82 => out.push(' '),
        82..92 if lines => out.push_str(BREAKS[k as usize % BREAKS.len()]),
        _ => out.push_str(FRAGMENTS[k as usize % FRAGMENTS.len()]),
    }
}

fn pieces(max: usize, lines: bool) -> impl Strategy<Value = String> {
    vec(any::<u32>(), 0..max).prop_map(move |ns| {
        let mut out = String::new();
        for n in ns {
            push_piece(&mut out, n, lines);
        }
        out
    })
}

fn text(max: usize) -> impl Strategy<Value = String> {
    pieces(max, false)
}

/// Body text: pieces and every kind of line ending.
fn body(max: usize) -> impl Strategy<Value = String> {
    pieces(max, true)
}

/// A file name: text without the characters the emitter rejects in file names.
fn filename() -> impl Strategy<Value = String> {
    text(30).prop_map(|s| {
        let cleaned: String = s
            .chars()
            .filter(|&c| {
                !c.is_control() && !matches!(c, '/' | '\\') && !super::address::is_invisible(c)
            })
            .collect();
        if cleaned.trim().is_empty() || cleaned == "." || cleaned == ".." {
            format!("file{cleaned}.bin")
        } else {
            cleaned
        }
    })
}

/// Attachment bytes: a length and a seed expanded by SplitMix64, so every byte value
/// shows up without one generated value per byte (which would dominate the run time).
fn attachment() -> impl Strategy<Value = Vec<u8>> {
    (0..200usize, any::<u64>()).prop_map(|(len, mut state)| {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            out.extend(z.to_le_bytes().into_iter().take(len - out.len()));
        }
        out
    })
}

#[derive(Debug, Clone)]
struct Input {
    subject: String,
    from_name: String,
    to_names: Vec<String>,
    plain: String,
    html: String,
    filename: String,
    attachment: Vec<u8>,
    smtputf8: bool,
}

fn input() -> impl Strategy<Value = Input> {
    (
        text(60),
        text(25),
        vec(text(25), 1..4),
        body(120),
        body(80),
        filename(),
        attachment(),
        any::<bool>(),
    )
        .prop_map(
            |(subject, from_name, to_names, plain, html, filename, attachment, smtputf8)| Input {
                subject,
                from_name,
                to_names,
                plain,
                html,
                filename,
                attachment,
                smtputf8,
            },
        )
}

fn named(name: &str, addr: &str) -> Mailbox {
    mailbox(Some(name), addr)
}

fn build(input: &Input) -> Message {
    let body = Part::Multipart(Multipart {
        subtype: "mixed".into(),
        parts: vec![
            Part::Multipart(Multipart {
                subtype: "alternative".into(),
                parts: vec![
                    Part::Leaf(Leaf::new("text/plain", input.plain.as_bytes())),
                    Part::Leaf(Leaf::new("text/html", input.html.as_bytes())),
                ],
            }),
            Part::Leaf(Leaf {
                disposition: Some(Disposition {
                    kind: DispositionKind::Attachment,
                    filename: Some(input.filename.clone()),
                }),
                ..Leaf::new("application/octet-stream", input.attachment.clone())
            }),
        ],
    });
    let mut msg = base_message(body);
    msg.smtputf8 = input.smtputf8;
    msg.subject = Some(input.subject.clone());
    msg.from = vec![named(&input.from_name, "sender@example.com")];
    msg.to = input
        .to_names
        .iter()
        .enumerate()
        .map(|(i, n)| named(n, &format!("rcpt{i}@bücher.example")))
        .collect();
    msg
}

/// What a reader should see for a header text: exactly the text, white space at its ends
/// included (the emitter carries it inside encoded-words or a quoted-string).
fn header_text(s: &str) -> String {
    s.to_owned()
}

/// Text bodies compare with line endings normalised and trailing line breaks ignored
/// (parsers differ on the CRLF before a boundary).
fn body_text(s: &str) -> String {
    s.replace("\r\n", "\n")
        .replace('\r', "\n")
        .trim_end_matches('\n')
        .to_owned()
}

fn check(input: &Input) -> Result<(), TestCaseError> {
    let msg = build(input);
    let bytes = emit(&msg, b"proptest-seed").map_err(|e| TestCaseError::fail(e.to_string()))?;
    assert_wire(&bytes);
    prop_assert_eq!(
        &bytes,
        &emit(&msg, b"proptest-seed").expect("emitted once already")
    );
    if !input.smtputf8 {
        prop_assert!(bytes.is_ascii());
    }

    let parsed = MessageParser::default()
        .parse(&bytes)
        .ok_or_else(|| TestCaseError::fail("mail-parser rejected the message"))?;
    let want_subject = header_text(&input.subject);
    prop_assert_eq!(parsed.subject().unwrap_or(""), want_subject.as_str());

    let name = |n: &str| Some(header_text(n)).filter(|n| !n.is_empty());
    let from = parsed.from().and_then(|a| a.first());
    prop_assert_eq!(
        from.and_then(|a| a.name()).map(str::to_owned),
        name(&input.from_name)
    );
    prop_assert_eq!(from.and_then(|a| a.address()), Some("sender@example.com"));
    let to: Vec<(Option<String>, Option<String>)> = parsed
        .to()
        .map(|a| {
            a.iter()
                .map(|m| (m.name().map(str::to_owned), m.address().map(str::to_owned)))
                .collect()
        })
        .unwrap_or_default();
    let want_to: Vec<(Option<String>, Option<String>)> = input
        .to_names
        .iter()
        .enumerate()
        .map(|(i, n)| (name(n), Some(format!("rcpt{i}@xn--bcher-kva.example"))))
        .collect();
    prop_assert_eq!(to, want_to);

    let plain = parsed.body_text(0).unwrap_or_default();
    prop_assert_eq!(body_text(&plain), body_text(&input.plain));
    let html = parsed.body_html(0).unwrap_or_default();
    prop_assert_eq!(body_text(&html), body_text(&input.html));

    let att = parsed
        .attachment(0)
        .ok_or_else(|| TestCaseError::fail("attachment missing"))?;
    prop_assert_eq!(att.attachment_name(), Some(input.filename.as_str()));
    prop_assert_eq!(att.contents(), input.attachment.as_slice());
    Ok(())
}

/// Address-like text: the characters that matter to the grammar, plus non-ASCII.
const ADDRESS_TEXT: &str = "[a-z0-9@.\"<>,:;()\\ \t=?é日-]{0,30}";

proptest! {
    #![proptest_config(config())]

    #[test]
    fn emitted_messages_round_trip(input in input()) {
        check(&input)?;
    }

    /// The parsers never panic, and what they accept prints back to an equal value.
    #[test]
    fn address_parsers_are_total_and_round_trip(
        s in prop_oneof![any::<String>(), ADDRESS_TEXT],
        smtputf8 in any::<bool>(),
    ) {
        if let Ok(spec) = super::parse_addr_spec(&s, smtputf8) {
            prop_assert_eq!(super::parse_addr_spec(&spec.to_string(), smtputf8), Ok(spec));
        }
        if let Ok(list) = super::parse_mailbox_list(&s, smtputf8) {
            let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
            prop_assert_eq!(super::parse_mailbox_list(&shown.join(", "), smtputf8), Ok(list));
        }
    }

    /// Arbitrary header text (controls included) gives an error or a well-formed message,
    /// never a panic or a malformed line.
    #[test]
    fn arbitrary_header_text_is_safe(
        subject in any::<String>(),
        name in any::<String>(),
        header in (any::<String>(), any::<String>()),
    ) {
        let mut msg = base_message(Part::Leaf(Leaf::new("text/plain", "x")));
        msg.subject = Some(subject);
        msg.from = vec![named(&name, "a@example.com")];
        msg.extra_headers = vec![header];
        if let Ok(bytes) = emit(&msg, b"s") {
            assert_wire(&bytes);
        }
    }
}

/// Writes random messages with `check_eml.py` sidecars to `/tmp/mimeout/prop`:
/// `cargo test --lib mime::tests_prop::write_random_samples -- --ignored`.
#[test]
#[ignore = "writes files for the external oracle"]
fn write_random_samples() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let dir = std::path::Path::new("/tmp/mimeout/prop");
    std::fs::create_dir_all(dir).expect("mkdir");
    let mut runner = TestRunner::deterministic();
    let strategy = input();
    for n in 0..300 {
        let input = strategy.new_tree(&mut runner).expect("value").current();
        let msg = build(&input);
        let bytes = emit(&msg, b"proptest-seed").expect("emits");
        std::fs::write(dir.join(format!("{n:03}.eml")), bytes).expect("write");
        let sidecar = super::tests::sidecar(&msg);
        std::fs::write(dir.join(format!("{n:03}.expect.json")), sidecar).expect("write");
    }
}
