//! DKIM signatures checked by an independent verifier: Debian's `python3-dkim` (dkimpy), run
//! with `/usr/bin/python3` and a DNS function that returns the bundled test key's record.
//! `scripts/install-test-deps-dkim.sh` installs it; a missing verifier fails these tests, it
//! never skips them.
//!
//! Signatures carry the signing time (`t=`), so they are verified, never snapshotted.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mailspec::deliver::dkim::Signer;

use crate::util::root;

const PYTHON: &str = "/usr/bin/python3";

/// Reads the message on stdin and the key record from argv[1]; prints `pass` or `fail`.
const VERIFY: &str = r#"
import sys, dkim
record = open(sys.argv[1], 'rb').read().strip()
msg = sys.stdin.buffer.read()
def dns(name, timeout=5):
    return record
try:
    ok = dkim.verify(msg, dnsfunc=dns)
except Exception as e:  # a key of the wrong type raises instead of returning False
    print(repr(e), file=sys.stderr)
    ok = False
print('pass' if ok else 'fail')
"#;

pub fn keys() -> Vec<(&'static str, PathBuf, PathBuf)> {
    let dir = root().join("specs/shop/dkim");
    vec![
        (
            "rsa-sha256",
            dir.join("test-only-rsa2048.pem"),
            dir.join("test-only-rsa2048.dns.txt"),
        ),
        (
            "ed25519-sha256",
            dir.join("test-only-ed25519.pem"),
            dir.join("test-only-ed25519.dns.txt"),
        ),
    ]
}

/// `true` when python3-dkim verifies `message` against the key record in `record`.
pub fn python_verifies(message: &[u8], record: &Path) -> bool {
    let mut child = Command::new(PYTHON)
        .arg("-c")
        .arg(VERIFY)
        .arg(record)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 runs (run scripts/install-test-deps-dkim.sh)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(message)
        .expect("write message");
    let out = child.wait_with_output().expect("python3 finishes");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the verifier failed to run (is python3-dkim installed? scripts/install-test-deps-dkim.sh):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    match stdout.trim() {
        "pass" => true,
        "fail" => false,
        other => panic!("unexpected verifier output {other:?}"),
    }
}

pub fn signer(pem: &Path, domain: &str) -> Signer {
    Signer::new(domain, "s2024", &std::fs::read(pem).expect("key file")).expect("test key loads")
}

/// Replaces the first occurrence of `from` with `to`.
pub fn tamper(message: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(message.to_vec()).expect("ASCII message");
    assert!(text.contains(from), "`{from}` not in the message");
    text.replacen(from, to, 1).into_bytes()
}

const MESSAGE: &str = "From: Olivo <hola@olivo.example>\r\n\
To: Ana <ana@example.com>\r\n\
Subject: Rebajas de verano\r\n\
Date: Mon, 3 Jun 2024 10:00:00 +0200\r\n\
Message-ID: <abc@olivo.example>\r\n\
List-Unsubscribe: <https://olivo.example/u/s-1001-c41d7e>,\r\n <mailto:baja@olivo.example?subject=unsubscribe%20S-1001>\r\n\
List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 7bit\r\n\
\r\n\
Hola Ana,\r\n\
\r\n\
las rebajas empiezan hoy.   \r\n\
\r\n\
\r\n";

#[test]
fn python_dkim_verifies_both_algorithms_and_catches_tampering() {
    for (alg, pem, record) in keys() {
        let s = signer(&pem, "olivo.example");
        assert_eq!(s.algorithm().as_str(), alg);
        let signed = s.sign(MESSAGE.as_bytes()).expect("signs");
        assert!(
            python_verifies(&signed, &record),
            "{alg}: python3-dkim rejects the signature:\n{}",
            String::from_utf8_lossy(&signed)
        );
        // Relaxed/relaxed: refolding a header and trailing white space changes do not matter
        // (RFC 6376 §3.4.2, §3.4.4).
        let refolded = tamper(
            &signed,
            "Subject: Rebajas de verano",
            "Subject:  Rebajas\r\n de verano",
        );
        assert!(python_verifies(&refolded, &record), "{alg}: relaxed header");
        let trailing = tamper(&signed, "hoy.   \r\n", "hoy.\r\n");
        assert!(python_verifies(&trailing, &record), "{alg}: relaxed body");
        // Tampering fails.
        for (from, to, what) in [
            ("las rebajas", "LAS rebajas", "body"),
            ("Rebajas de verano", "Rebajas de invierno", "Subject"),
            ("s-1001-c41d7e", "s-1002-c41d7e", "List-Unsubscribe"),
            ("One-Click", "One-click", "List-Unsubscribe-Post"),
            ("ana@example.com", "eve@example.com", "To"),
        ] {
            let bad = tamper(&signed, from, to);
            assert!(
                !python_verifies(&bad, &record),
                "{alg}: tampered {what} still verifies"
            );
        }
        // Headers named in h= but absent are signed as absent: adding one breaks the signature.
        let added = tamper(
            &signed,
            "MIME-Version: 1.0\r\n",
            "MIME-Version: 1.0\r\nCc: eve@example.com\r\n",
        );
        assert!(
            !python_verifies(&added, &record),
            "{alg}: an added Cc still verifies"
        );
        // The wrong key fails.
        let other = if alg == "rsa-sha256" { 1 } else { 0 };
        assert!(
            !python_verifies(&signed, &keys()[other].2),
            "{alg}: verifies with the other key"
        );
    }
}
