//! DKIM signatures checked by an independent verifier: Debian's `python3-dkim` (dkimpy), run
//! with `/usr/bin/python3` and a DNS function that returns the bundled test key's record.
//! `scripts/install-test-deps-dkim.sh` installs it; a missing verifier fails these tests, it
//! never skips them.
//!
//! Signatures carry the signing time (`t=`), so they are verified, never snapshotted.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mailspec::deliver::dkim::Signer;

use crate::util::root;

const PYTHON: &str = "/usr/bin/python3";

/// argv: pairs of (key record file, message file); prints `pass` or `fail` for each pair.
const VERIFY: &str = r#"
import sys, dkim
args = sys.argv[1:]
for record_path, message_path in zip(args[0::2], args[1::2]):
    record = open(record_path, 'rb').read().strip()
    msg = open(message_path, 'rb').read()
    def dns(name, timeout=5, record=record):
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

/// For each (message, key record file): whether python3-dkim verifies it. One Python process
/// for all of them (importing dkimpy takes most of a second).
pub fn python_verify(cases: &[(Vec<u8>, PathBuf)]) -> Vec<bool> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = Vec::new();
    for (i, (message, record)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("{i}.eml"));
        std::fs::write(&path, message).expect("write message");
        args.push(record.clone());
        args.push(path);
    }
    let out = Command::new(PYTHON)
        .arg("-c")
        .arg(VERIFY)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("/usr/bin/python3 runs (run scripts/install-test-deps-dkim.sh)");
    assert!(
        out.status.success(),
        "the verifier failed to run (is python3-dkim installed? scripts/install-test-deps-dkim.sh):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<bool> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| match l.trim() {
            "pass" => true,
            "fail" => false,
            other => panic!("unexpected verifier output {other:?}"),
        })
        .collect();
    assert_eq!(results.len(), cases.len(), "one verdict per message");
    results
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
    // (message, key record, should verify, what)
    let mut cases: Vec<(Vec<u8>, PathBuf, bool, String)> = Vec::new();
    let all = keys();
    for (i, (alg, pem, record)) in all.iter().enumerate() {
        let s = signer(pem, "olivo.example");
        assert_eq!(s.algorithm().as_str(), *alg);
        let signed = s.sign(MESSAGE.as_bytes()).expect("signs");
        let mut case = |m: Vec<u8>, r: &PathBuf, ok: bool, what: &str| {
            cases.push((m, r.clone(), ok, format!("{alg}: {what}")));
        };
        case(signed.clone(), record, true, "as signed");
        // Relaxed/relaxed: refolding a header and trailing white space changes do not matter
        // (RFC 6376 §3.4.2, §3.4.4).
        case(
            tamper(
                &signed,
                "Subject: Rebajas de verano",
                "Subject:  Rebajas\r\n de verano",
            ),
            record,
            true,
            "refolded Subject (relaxed header)",
        );
        case(
            tamper(&signed, "hoy.   \r\n", "hoy.\r\n"),
            record,
            true,
            "trailing white space (relaxed body)",
        );
        for (from, to, what) in [
            ("las rebajas", "LAS rebajas", "tampered body"),
            (
                "Rebajas de verano",
                "Rebajas de invierno",
                "tampered Subject",
            ),
            (
                "s-1001-c41d7e",
                "s-1002-c41d7e",
                "tampered List-Unsubscribe",
            ),
            ("One-Click", "One-click", "tampered List-Unsubscribe-Post"),
            ("ana@example.com", "eve@example.com", "tampered To"),
            // Headers named in h= but absent are signed as absent (RFC 6376 §5.4.2).
            (
                "MIME-Version: 1.0\r\n",
                "MIME-Version: 1.0\r\nCc: eve@example.com\r\n",
                "an added Cc",
            ),
        ] {
            case(tamper(&signed, from, to), record, false, what);
        }
        case(signed, &all[1 - i].2, false, "the other key's record");
    }
    let messages: Vec<(Vec<u8>, PathBuf)> = cases
        .iter()
        .map(|(m, r, _, _)| (m.clone(), r.clone()))
        .collect();
    let verdicts = python_verify(&messages);
    for ((message, _, want, what), got) in cases.iter().zip(verdicts) {
        assert_eq!(
            got,
            *want,
            "{what}: python3-dkim says {}:\n{}",
            if got { "pass" } else { "fail" },
            String::from_utf8_lossy(message)
        );
    }
}
