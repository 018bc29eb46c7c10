//! What mailspec reads from a server, and the DATA bytes it writes.
//!
//! Replies are parsed by `smtp-proto` (through mail-send), which caps a reply at 4 KiB; this
//! module turns a parsed reply into a decision ([`Class`]), a printable one-line text
//! ([`describe`]: a hostile server's text must not drive the terminal) and a queue id
//! ([`queue_id`]). [`data_bytes`] does the dot-stuffing of RFC 5321 §4.5.2 so that what the
//! server stores after un-stuffing is exactly the rendered message.

/// What a reply code means for the message or recipient it answers (RFC 5321 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx: done.
    Ok,
    /// 3xx: go on (354 after DATA, 334 during AUTH).
    Intermediate,
    /// 4xx: not now; the same command may succeed later.
    Transient,
    /// 5xx: never; retrying cannot help.
    Permanent,
    /// Anything else: the server is not speaking SMTP.
    Invalid,
}

/// The class of a reply code.
pub fn classify(code: u16) -> Class {
    match code {
        200..=299 => Class::Ok,
        300..=399 => Class::Intermediate,
        400..=499 => Class::Transient,
        500..=599 => Class::Permanent,
        _ => Class::Invalid,
    }
}

/// Longest reply text kept for reports and the journal, in characters.
pub const MAX_DESCRIBED: usize = 300;

/// A reply as one printable line: `550 5.1.1 no such user`. The lines of a multi-line reply
/// are joined with ` / `; control characters (ESC sequences would reach the user's terminal)
/// become `?`; the result is cut at [`MAX_DESCRIBED`] characters.
pub fn describe(code: u16, esc: [u8; 3], text: &str) -> String {
    let mut out = code.to_string();
    if esc[0] != 0 {
        out.push_str(&format!(" {}.{}.{}", esc[0], esc[1], esc[2]));
    }
    let mut first = true;
    for line in text.split(['\r', '\n']).filter(|l| !l.trim().is_empty()) {
        out.push_str(if first { " " } else { " / " });
        first = false;
        out.extend(
            line.trim()
                .chars()
                .map(|c| if c.is_control() { '?' } else { c }),
        );
        if out.chars().count() > MAX_DESCRIBED {
            break;
        }
    }
    if out.chars().count() > MAX_DESCRIBED {
        out = out.chars().take(MAX_DESCRIBED - 1).collect();
        out.push('…');
    }
    out
}

/// The queue id a server gave in its reply to the end of DATA, when it says so in a known
/// form: Postfix `queued as 4Xy1Z2`, Exim `id=1abc-000001-XY`, Sendmail/others `queued as`
/// after the id. `None` when no such form is found: the whole reply is kept anyway.
pub fn queue_id(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let start = if let Some(i) = lower.find("queued as ") {
        i + "queued as ".len()
    } else if let Some(i) = lower.find("id=") {
        i + "id=".len()
    } else {
        return None;
    };
    let id: String = text
        .get(start..)?
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        .take(64)
        .collect();
    let id = id.trim_end_matches('.').to_string();
    (!id.is_empty()).then_some(id)
}

/// The bytes to write after the server's 354: `message` dot-stuffed (RFC 5321 §4.5.2: a line
/// that starts with `.` gets one more) and ended by `.` CRLF. A message that already ends in
/// CRLF gets only `.` CRLF, so the server's copy after un-stuffing is byte for byte the
/// message (mail-send's `write_message` always adds CRLF `.` CRLF, which would append an empty
/// line); one that does not end in CRLF gets CRLF first, as SMTP requires.
pub fn data_bytes(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 512 + 8);
    if message.first() == Some(&b'.') {
        out.push(b'.');
    }
    // Only line ends can start a line: jump from LF to LF (memchr) rather than look at every
    // byte, which was most of the CPU time of a send.
    let mut start = 0;
    for i in memchr::memchr_iter(b'\n', message) {
        if i > 0 && message[i - 1] == b'\r' && message.get(i + 1) == Some(&b'.') {
            out.extend_from_slice(&message[start..=i]);
            out.push(b'.');
            start = i + 1;
        }
    }
    out.extend_from_slice(&message[start..]);
    if !message.is_empty() && !message.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// What an SMTP server stores from the DATA bytes [`data_bytes`] wrote: lines up to the one
/// that is a lone `.`, with one leading `.` removed from each line (RFC 5321 §4.5.2). `None`
/// when there is no end marker. Only for tests and the fuzz target.
pub fn unstuff(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    loop {
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        let line = &rest[..end];
        if line == b"." {
            return Some(out);
        }
        let line = line.strip_prefix(b".").unwrap_or(line);
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
        rest = &rest[end + 2..];
    }
}

/// A bare CR or LF: bytes that SMTP cannot carry unchanged (RFC 5321 §2.3.8), so a message
/// holding one is refused rather than sent altered.
pub fn has_bare_line_end(message: &[u8]) -> bool {
    memchr::memchr2_iter(b'\r', b'\n', message).any(|i| {
        if message[i] == b'\r' {
            message.get(i + 1) != Some(&b'\n')
        } else {
            i == 0 || message[i - 1] != b'\r'
        }
    })
}

/// The fuzz check for everything here (`fuzz/fuzz_targets/smtp_reply.rs`): the bytes are fed
/// to the same reply parsers the client uses, in chunks whose sizes the first byte picks, and
/// every parsed reply is described and searched for a queue id; then the bytes, as a message,
/// are stuffed and un-stuffed. Panics on a broken invariant.
pub fn fuzz_check(data: &[u8]) {
    use smtp_proto::response::parser::ResponseReceiver;
    let Some((&chunk, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk % 64) + 1;
    let mut parser = ResponseReceiver::default();
    let mut replies = 0usize;
    for part in rest.chunks(chunk) {
        let mut iter = part.iter();
        loop {
            match parser.parse(&mut iter) {
                Ok(reply) => {
                    replies += 1;
                    let d = describe(reply.code, reply.esc, &reply.message);
                    assert!(d.chars().count() <= MAX_DESCRIBED, "{d:?}");
                    assert!(!d.chars().any(char::is_control), "{d:?}");
                    if let Some(q) = queue_id(&reply.message) {
                        assert!(!q.is_empty() && q.len() <= 64);
                    }
                    let _ = classify(reply.code);
                    parser.reset();
                }
                Err(smtp_proto::Error::NeedsMoreData { .. }) => break,
                Err(_) => {
                    parser = ResponseReceiver::default();
                    break;
                }
            }
        }
    }
    // Each reply is at least "250\r\n".
    assert!(replies <= rest.len() / 4 + 1);
    let _ = smtp_proto::EhloResponse::<String>::parse(&mut rest.iter());

    if !has_bare_line_end(rest) {
        let stuffed = data_bytes(rest);
        let mut expect = rest.to_vec();
        if !expect.is_empty() && !expect.ends_with(b"\r\n") {
            expect.extend_from_slice(b"\r\n");
        }
        assert_eq!(unstuff(&stuffed).as_deref(), Some(&expect[..]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing_round_trips_and_adds_no_empty_line() {
        for (msg, wire) in [
            (
                &b"A: b\r\n\r\nbody\r\n"[..],
                &b"A: b\r\n\r\nbody\r\n.\r\n"[..],
            ),
            (b".x\r\n", b"..x\r\n.\r\n"),
            (b"a\r\n.\r\n", b"a\r\n..\r\n.\r\n"),
            (b"a\r\n..\r\n", b"a\r\n...\r\n.\r\n"),
            (b"no end", b"no end\r\n.\r\n"),
            (b"", b".\r\n"),
        ] {
            assert_eq!(data_bytes(msg), wire, "{:?}", String::from_utf8_lossy(msg));
        }
        let m = b"x\r\n.\r\n..\r\n.y\r\n";
        assert_eq!(unstuff(&data_bytes(m)).as_deref(), Some(&m[..]));
    }

    proptest::proptest! {
        /// Any CRLF message, lines starting with dots or not, comes back unchanged.
        #[test]
        fn stuffing_round_trips(lines in proptest::collection::vec("[.a-z \\t]{0,6}", 0..12)) {
            let m: Vec<u8> = lines.iter().flat_map(|l| format!("{l}\r\n").into_bytes()).collect();
            proptest::prop_assert!(!has_bare_line_end(&m));
            proptest::prop_assert_eq!(unstuff(&data_bytes(&m)), Some(m));
        }
    }

    proptest::proptest! {
        /// The fuzz target's checks, on reply-shaped input (`NNN-text` lines, some broken).
        #[test]
        fn replies_are_parsed_safely(
            chunk in 0u8..64,
            lines in proptest::collection::vec(
                ("[1-6][0-9]{2}", "[- ]?", "[ -~\\x1b]{0,40}", "(\\r\\n|\\n|)"),
                0..20,
            ),
        ) {
            let mut data = vec![chunk];
            for (code, sep, text, end) in lines {
                data.extend_from_slice(format!("{code}{sep}{text}{end}").as_bytes());
            }
            fuzz_check(&data);
        }
    }

    #[test]
    fn bare_line_ends_are_found() {
        assert!(!has_bare_line_end(b"a\r\nb\r\n"));
        assert!(has_bare_line_end(b"a\nb"));
        assert!(has_bare_line_end(b"a\rb"));
        assert!(has_bare_line_end(b"a\r"));
    }

    #[test]
    fn describe_is_one_safe_line() {
        assert_eq!(
            describe(550, [5, 1, 1], "no such user\r\nreally"),
            "550 5.1.1 no such user / really"
        );
        assert_eq!(describe(250, [0; 3], "ok \u{1b}[2J"), "250 ok ?[2J");
        assert!(describe(250, [0; 3], &"x".repeat(5000)).chars().count() <= MAX_DESCRIBED);
    }

    #[test]
    fn queue_ids() {
        assert_eq!(
            queue_id("2.0.0 Ok: queued as 4Xy1Z2AbC").as_deref(),
            Some("4Xy1Z2AbC")
        );
        assert_eq!(
            queue_id("OK id=1rA5bc-000Abc-9Z").as_deref(),
            Some("1rA5bc-000Abc-9Z")
        );
        assert_eq!(queue_id("OK").as_deref(), None);
        assert_eq!(queue_id("queued as ").as_deref(), None);
    }
}
