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

struct Collect(Vec<mailspec::render::EmittedMessage>);

impl mailspec::sink::Sink for Collect {
    fn accept(
        &mut self,
        _: usize,
        m: &mailspec::render::EmittedMessage,
    ) -> std::io::Result<String> {
        self.0.push(m.clone());
        Ok(String::new())
    }
}

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

/// The newsletter example, signed the way `render --dkim` signs it: with the spec's own `dkim`
/// settings (the bundled RSA test key), and with the Ed25519 test key given as an override.
#[test]
fn the_newsletter_passes_python_dkim_with_both_unsubscribe_headers_signed() {
    let path = root().join("specs/newsletter.yaml");
    let c = mailspec::spec::compile_path(&path)
        .unwrap_or_else(|(s, d)| panic!("newsletter does not compile:\n{}", s.render(&d)));
    let spec_dkim = c
        .plan
        .deliver
        .dkim
        .as_ref()
        .expect("the newsletter has `dkim`");
    let ed = &keys()[1];
    let signers = [
        (
            mailspec::deliver::signer(Some(spec_dkim), &Default::default()).expect("spec key"),
            keys()[0].2.clone(),
        ),
        (
            mailspec::deliver::signer(
                Some(spec_dkim),
                &mailspec::deliver::DkimOverrides {
                    key: Some(&ed.1),
                    ..Default::default()
                },
            )
            .expect("ed25519 key"),
            ed.2.clone(),
        ),
    ];
    let records = c.spec.data.sample.clone().expect("sample");
    let mut cases: Vec<(Vec<u8>, PathBuf, bool, String)> = Vec::new();
    for (signer, record) in signers {
        let alg = signer.algorithm().as_str();
        let items = c.open_records(&records).expect("sample opens");
        let opts = mailspec::batch::BatchOptions {
            render: mailspec::render::RenderOptions {
                date: mailspec::review::fixture_date(),
                dkim: Some(signer),
                ..Default::default()
            },
            ..Default::default()
        };
        let assets = mailspec::assets::DirLoader::new(c.dir.clone());
        let mut sink = Collect(Vec::new());
        mailspec::batch::run(&c, items, &opts, &assets, &mut sink, &mut |r| {
            assert_eq!(r.status, mailspec::batch::Status::Ok, "{r:?}");
        })
        .expect("renders");
        let mut n = 0;
        for m in sink.0 {
            let text = String::from_utf8_lossy(&m.bytes).into_owned();
            let header_end = text.find("\r\n\r\n").expect("header");
            let sig_end = text.find("\r\nDate:").expect("Date after the signature");
            let sig: String = text[..sig_end].split_whitespace().collect();
            let h = sig
                .split(';')
                .find_map(|t| t.strip_prefix("h="))
                .expect("h=")
                .to_ascii_lowercase();
            for name in [
                "list-unsubscribe",
                "list-unsubscribe-post",
                "from",
                "to",
                "subject",
            ] {
                assert!(
                    h.split(':').any(|x| x == name),
                    "{alg}: {name} not signed: {h}"
                );
            }
            assert!(
                text[..header_end]
                    .contains("\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
            );
            cases.push((
                m.bytes.clone(),
                record.clone(),
                true,
                format!("{alg} {}", m.key),
            ));
            let post = tamper(
                &m.bytes,
                "List-Unsubscribe=One-Click",
                "List-Unsubscribe=Two-Click",
            );
            cases.push((
                post,
                record.clone(),
                false,
                format!("{alg} {}: tampered post", m.key),
            ));
            let unsub = tamper(
                &m.bytes,
                "List-Unsubscribe: <https://",
                "List-Unsubscribe: <http://",
            );
            cases.push((
                unsub,
                record.clone(),
                false,
                format!("{alg} {}: tampered unsubscribe", m.key),
            ));
            n += 1;
        }
        assert!(n >= 2, "the sample has several subscribers");
    }
    let verdicts = python_verify(
        &cases
            .iter()
            .map(|(m, r, _, _)| (m.clone(), r.clone()))
            .collect::<Vec<_>>(),
    );
    for ((_, _, want, what), got) in cases.iter().zip(verdicts) {
        assert_eq!(got, *want, "{what}");
    }
}

/// `mailspec render --dkim` signs with the spec's settings; `--dkim-key` and friends replace
/// them; without `--dkim` nothing is signed.
#[test]
fn render_dkim_on_the_command_line() {
    let bin = env!("CARGO_BIN_EXE_mailspec");
    let run = |extra: &[&str]| {
        let out = Command::new(bin)
            .current_dir(root())
            .args([
                "render",
                "specs/newsletter.yaml",
                "--out",
                "-",
                "--record",
                "2",
            ])
            .args(["--date", "2024-06-01T10:00:00Z"])
            .args(extra)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let plain = run(&[]);
    assert!(!plain.starts_with(b"DKIM-Signature:"));
    let rsa = run(&["--dkim"]);
    assert!(rsa.starts_with(b"DKIM-Signature: v=1; a=rsa-sha256; s=s2024; d=olivo.example;"));
    assert!(
        rsa.ends_with(&plain),
        "the signature is prepended, nothing else changes"
    );
    let ed_key = keys()[1].1.display().to_string();
    let ed = run(&["--dkim", "--dkim-key", &ed_key, "--dkim-selector", "ed2024"]);
    assert!(ed.starts_with(b"DKIM-Signature: v=1; a=ed25519-sha256; s=ed2024;"));
    let verdicts = python_verify(&[(rsa, keys()[0].2.clone()), (ed, keys()[1].2.clone())]);
    assert_eq!(verdicts, [true, true]);
    // A missing key file fails before anything is written.
    let out = Command::new(bin)
        .current_dir(root())
        .args(["render", "specs/hello.yaml", "--out", "-", "--dkim"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DKIM signing needs a domain"), "{err}");
}
