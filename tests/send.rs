//! `mailspec send` against real servers on 127.0.0.1, started and stopped by each test:
//! aiosmtpd (Debian's python3-aiosmtpd, with STARTTLS, AUTH and a handler that saves the exact
//! bytes), Postfix's smtp-sink (volume and faults), PostgreSQL (a cluster initdb'd into a temp
//! dir), plus a few scripted TCP servers that misbehave on purpose. Every process is bounded in
//! time and killed when its test ends. `scripts/install-test-deps.sh` installs the packages.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::root;

const PYTHON: &str = "/usr/bin/python3";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A child process killed (and reaped) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An aiosmtpd server; its received messages are in `dir`.
struct Aiosmtpd {
    port: u16,
    dir: PathBuf,
    _proc: Proc,
}

impl Aiosmtpd {
    fn start(tmp: &Path, mut cfg: serde_json::Value) -> Aiosmtpd {
        let port = free_port();
        let dir = tmp.join(format!("received-{port}"));
        fs::create_dir_all(&dir).expect("mkdir");
        cfg["port"] = port.into();
        cfg["dir"] = dir.display().to_string().into();
        let cfg_path = tmp.join(format!("server-{port}.json"));
        fs::write(&cfg_path, cfg.to_string()).expect("write config");
        let mut child = Command::new(PYTHON)
            .arg(root().join("tests/send/server.py"))
            .arg(&cfg_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "run /usr/bin/python3 (scripts/install-test-deps.sh installs python3-aiosmtpd)",
            );
        let stdout = child.stdout.take().expect("stdout");
        let proc = Proc(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("aiosmtpd did not start within 20 s");
        assert_eq!(line.trim(), "READY", "aiosmtpd did not start: {line:?}");
        Aiosmtpd {
            port,
            dir,
            _proc: proc,
        }
    }

    /// Received messages in arrival order: (bytes, envelope JSON).
    fn received(&self) -> Vec<(Vec<u8>, serde_json::Value)> {
        let mut names: Vec<PathBuf> = fs::read_dir(&self.dir)
            .expect("read dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|p| {
                let bytes = fs::read(&p).expect("eml");
                let env = fs::read_to_string(p.with_extension("json")).expect("json");
                (bytes, serde_json::from_str(&env).expect("envelope"))
            })
            .collect()
    }

    /// Message-IDs received, one per message, from the handler's log.
    fn ids(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join("ids.txt"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.trim_matches(['<', '>']).to_string())
            .collect()
    }
}

/// Postfix's smtp-sink with extra fault options.
fn smtp_sink(args: &[&str]) -> (u16, Proc) {
    let port = free_port();
    let child = Command::new("/usr/sbin/smtp-sink")
        .args(["-u", "nobody"])
        .args(args)
        .arg(format!("127.0.0.1:{port}"))
        .arg("100")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run smtp-sink (scripts/install-test-deps.sh installs postfix)");
    let p = Proc(child);
    wait_port(port, "smtp-sink");
    (port, p)
}

/// A self-signed certificate for 127.0.0.1 and localhost, no CA flag (rustls refuses a CA
/// certificate as its own end entity): (cert.pem, key.pem).
fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("rcgen");
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    fs::write(&cert, ck.cert.pem()).expect("cert");
    fs::write(&key, ck.signing_key.serialize_pem()).expect("key");
    (cert, key)
}

/// A spec that exercises the bytes: a Bcc per record (envelope only), lines starting with
/// dots (stuffing), and a recipient taken from the record.
const SPEC: &str = r#"mailspec: 1
name: t
data:
  key: id
  fields:
    id: { type: string }
    email: { type: email }
message:
  from: Shop <shop@example.com>
  to: "{{ email }}"
  bcc: "audit+{{ id }}@example.com"
  subject: "Order {{ id }}"
  date: "2024-06-15T13:15:07+01:00"
  text:
    content: |
      Hello {{ id }},
      .a line that starts with a dot
      ..and one with two
      .
      the end
"#;

/// A temp dir with `t.yaml` and `data.jsonl` holding `n` records (`emails` overrides some).
fn workspace(n: usize, emails: &[(usize, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("t.yaml"), SPEC).expect("spec");
    let mut data = String::new();
    for i in 1..=n {
        let email = emails
            .iter()
            .find(|(k, _)| *k == i)
            .map(|(_, e)| (*e).to_string())
            .unwrap_or_else(|| format!("user{i}@example.com"));
        data.push_str(&format!("{{\"id\": \"{i}\", \"email\": \"{email}\"}}\n"));
    }
    fs::write(dir.path().join("data.jsonl"), data).expect("data");
    dir
}

/// Runs mailspec in `dir`, killing it after `limit`.
fn mailspec(dir: &Path, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
    let child = spawn_mailspec(dir, args, env);
    wait_output(child, limit)
}

fn spawn_mailspec(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mailspec"));
    c.args(args)
        .current_dir(dir)
        .env_remove("MAILSPEC_SMTP_PASSWORD")
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().expect("run mailspec")
}

fn wait_output(mut child: Child, limit: Duration) -> Output {
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mailspec did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: t1.join().expect("stdout"),
        stderr: t2.join().expect("stderr"),
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `mailspec render ARGS --out OUT` in `dir`; it must succeed.
fn render_into(dir: &Path, args: &[&str], out: &str) {
    let mut all = vec!["render"];
    all.extend_from_slice(args);
    all.extend(["--out", out]);
    let o = mailspec(dir, &all, &[], SECS);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The report lines, by record key.
fn report(path: &Path) -> BTreeMap<String, serde_json::Value> {
    fs::read_to_string(path)
        .expect("report")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("report line");
            (v["key"].as_str().unwrap_or("").to_string(), v)
        })
        .collect()
}

const SECS: Duration = Duration::from_secs(60);

#[test]
fn send_rendered_over_starttls_with_auth_delivers_the_exact_bytes() {
    let ws = workspace(5, &[]);
    let d = ws.path();
    let (cert, key) = certificate(d, "server");
    let srv = Aiosmtpd::start(
        d,
        serde_json::json!({"cert": cert, "key": key, "user": "ada", "password": "s3cret pass"}),
    );
    let o = mailspec(
        d,
        &["render", "t.yaml", "--data", "data.jsonl", "--out", "out/t"],
        &[],
        SECS,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let url = format!("smtp://ada@127.0.0.1:{}", srv.port);
    let o = mailspec(
        d,
        &[
            "send",
            "--rendered",
            "out/t",
            "--smtp",
            &url,
            "--tls-ca",
            &cert.display().to_string(),
            "--connections",
            "2",
        ],
        &[("MAILSPEC_SMTP_PASSWORD", "s3cret pass")],
        SECS,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("s3cret"), "the secret was printed");
    let got = srv.received();
    assert_eq!(got.len(), 5);
    for (bytes, env) in &got {
        let text = String::from_utf8_lossy(bytes);
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: Order "))
            .expect("subject")
            .to_string();
        let rendered = fs::read(d.join(format!("out/t/{id}.eml"))).expect("rendered");
        assert_eq!(
            bytes, &rendered,
            "message {id}: received bytes differ from the .eml"
        );
        assert!(
            !text.to_ascii_lowercase().contains("bcc"),
            "Bcc in the bytes"
        );
        assert_eq!(
            env["rcpt_tos"],
            serde_json::json!([
                format!("user{id}@example.com"),
                format!("audit+{id}@example.com")
            ])
        );
        assert_eq!(env["mail_from"], "shop@example.com");
        assert_eq!(env["tls"], true);
        assert_eq!(env["authenticated"], true);
    }
    let rep = report(&d.join("out/t/send-report.jsonl"));
    assert_eq!(rep.len(), 5);
    for v in rep.values() {
        assert_eq!(v["status"], "accepted", "{v}");
        assert!(
            v["queue_id"].as_str().is_some_and(|q| q.starts_with('Q')),
            "{v}"
        );
    }
    assert!(
        !fs::read_to_string(d.join("out/t/send-report.jsonl"))
            .expect("report")
            .contains("s3cret")
    );

    // Rerun: everything is in the journal as accepted; nothing is sent again.
    let o = mailspec(
        d,
        &[
            "send",
            "--rendered",
            "out/t",
            "--smtp",
            &url,
            "--tls-ca",
            &cert.display().to_string(),
        ],
        &[("MAILSPEC_SMTP_PASSWORD", "s3cret pass")],
        SECS,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(srv.received().len(), 5);
    let rep = report(&d.join("out/t/send-report.jsonl"));
    assert!(rep.values().all(|v| v["earlier"] == true), "{rep:?}");

    // A file changed since it was rendered is refused, the others are not touched.
    let eml = d.join("out/t/3.eml");
    let mut b = fs::read(&eml).expect("eml");
    b.extend_from_slice(b"tampered\r\n");
    fs::write(&eml, b).expect("write");
    let o = mailspec(d, &["send", "--rendered", "out/t", "--dry-run"], &[], SECS);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let rep = report(&d.join("out/t/send-report.jsonl"));
    assert_eq!(rep["3"]["status"], "error");
    assert!(
        rep["3"]["reason"]
            .as_str()
            .expect("reason")
            .contains("changed since it was rendered")
    );
    assert_eq!(rep["1"]["status"], "dry-run");
}

#[test]
fn send_spec_delivers_the_same_bytes_render_writes() {
    let ws = workspace(3, &[]);
    let d = ws.path();
    let srv = Aiosmtpd::start(d, serde_json::json!({}));
    let url = format!("smtp+plain://127.0.0.1:{}", srv.port);
    let o = mailspec(
        d,
        &[
            "send",
            "t.yaml",
            "--data",
            "data.jsonl",
            "--smtp",
            &url,
            "--connections",
            "1",
            "--helo",
            "mailer.example",
            "--source-address",
            "127.0.0.1",
        ],
        &[],
        SECS,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = mailspec(
        d,
        &[
            "render",
            "t.yaml",
            "--data",
            "data.jsonl",
            "--out",
            "expected",
        ],
        &[],
        SECS,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got = srv.received();
    assert_eq!(got.len(), 3);
    for (i, (bytes, env)) in got.iter().enumerate() {
        // One connection: record order.
        let expected = fs::read(d.join(format!("expected/{}.eml", i + 1))).expect("eml");
        assert_eq!(bytes, &expected);
        assert_eq!(env["tls"], false);
        assert_eq!(env["helo"], "mailer.example");
        assert_eq!(env["peer"], "127.0.0.1");
    }
    assert!(d.join("out/t/send-journal.sqlite").exists());
}

#[test]
fn plaintext_to_a_remote_host_is_refused() {
    let ws = workspace(1, &[]);
    let o = mailspec(
        ws.path(),
        &[
            "send",
            "t.yaml",
            "--data",
            "data.jsonl",
            "--smtp",
            "smtp+plain://192.0.2.1:25",
        ],
        &[],
        SECS,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("only allowed to a loopback host"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn starttls_is_required_for_smtp_urls() {
    let ws = workspace(2, &[]);
    let d = ws.path();
    let srv = Aiosmtpd::start(d, serde_json::json!({}));
    let url = format!("smtp://127.0.0.1:{}", srv.port);
    let o = mailspec(
        d,
        &["send", "t.yaml", "--data", "data.jsonl", "--smtp", &url],
        &[],
        SECS,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("does not offer STARTTLS"),
        "{}",
        stderr(&o)
    );
    assert!(srv.received().is_empty());
}

#[test]
fn a_certificate_that_is_not_trusted_is_refused() {
    let ws = workspace(2, &[]);
    let d = ws.path();
    let (cert, key) = certificate(d, "server");
    let (other, _) = certificate(d, "other");
    let srv = Aiosmtpd::start(d, serde_json::json!({"cert": cert, "key": key}));
    let url = format!("smtp://127.0.0.1:{}", srv.port);
    let o = mailspec(
        d,
        &[
            "send",
            "t.yaml",
            "--data",
            "data.jsonl",
            "--smtp",
            &url,
            "--tls-ca",
            &other.display().to_string(),
        ],
        &[],
        SECS,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).to_lowercase().contains("certificate"),
        "{}",
        stderr(&o)
    );
    assert!(srv.received().is_empty());
}

#[test]
fn a_refused_password_stops_the_run_and_is_never_printed() {
    let ws = workspace(2, &[]);
    let d = ws.path();
    let (cert, key) = certificate(d, "server");
    let srv = Aiosmtpd::start(
        d,
        serde_json::json!({"cert": cert, "key": key, "user": "ada", "password": "right"}),
    );
    fs::write(d.join("pw"), "Wr0ngPassw0rd\n").expect("pw");
    let url = format!("smtp://127.0.0.1:{}", srv.port);
    let o = mailspec(
        d,
        &[
            "send",
            "t.yaml",
            "--data",
            "data.jsonl",
            "--smtp",
            &url,
            "--user",
            "ada",
            "--password-file",
            "pw",
            "--tls-ca",
            &cert.display().to_string(),
        ],
        &[],
        SECS,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("authentication failed") || err.contains("AUTH"),
        "{err}"
    );
    assert!(!err.contains("Wr0ngPassw0rd"));
    let rep = fs::read_to_string(d.join("out/t/send-report.jsonl")).expect("report");
    assert!(!rep.contains("Wr0ngPassw0rd"));
    assert!(srv.received().is_empty());
}

#[test]
fn a_4xx_is_retried_and_the_message_arrives_once() {
    let ws = workspace(1, &[]);
    let d = ws.path();
    let srv = Aiosmtpd::start(d, serde_json::json!({"defer_data": 2}));
    let url = format!("smtp+plain://127.0.0.1:{}", srv.port);
    let o = mailspec(
        d,
        &[
            "send",
            "t.yaml",
            "--data",
            "data.jsonl",
            "--smtp",
            &url,
            "--retry-delay",
            "50ms",
        ],
        &[],
        SECS,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(srv.received().len(), 1);
    let rep = report(&d.join("out/t/send-report.jsonl"));
    assert_eq!(rep["1"]["status"], "accepted");
    assert_eq!(rep["1"]["attempts"], 3);
}

#[test]
fn a_4xx_that_lasts_leaves_the_message_deferred_for_a_rerun() {
    let ws = workspace(1, &[]);
    let d = ws.path();
    let srv = Aiosmtpd::start(d, serde_json::json!({"defer_data": 3}));
    let url = format!("smtp+plain://127.0.0.1:{}", srv.port);
    let args = [
        "send",
        "t.yaml",
        "--data",
        "data.jsonl",
        "--smtp",
        &url,
        "--retry-delay",
        "10ms",
        "--attempts",
        "2",
    ];
    let o = mailspec(d, &args, &[], SECS);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let rep = report(&d.join("out/t/send-report.jsonl"));
    assert_eq!(rep["1"]["status"], "deferred");
    assert!(rep["1"]["reason"].as_str().expect("reason").contains("451"));
    // The rerun resumes it.
    let o = mailspec(d, &args, &[], SECS);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(srv.received().len(), 1);
    let rep = report(&d.join("out/t/send-report.jsonl"));
    assert_eq!(rep["1"]["status"], "accepted");
    assert_eq!(rep["1"]["attempts"], 4);
}

#[test]
fn a_5xx_fails_at_once() {
    let ws = workspace(2, &[]);
    let d = ws.path();
    let (port, _sink) = smtp_sink(&["-f", "."]);
    let url = format!("smtp+plain://127.0.0.1:{port}");
    let o = mailspec(
        d,
        &[
            "send",
            "t.yaml",
            "--data",
            "data.jsonl",
            "--smtp",
            &url,
            "--retry-delay",
            "10ms",
        ],
        &[],
        SECS,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let rep = report(&d.join("out/t/send-report.jsonl"));
    for v in rep.values() {
        assert_eq!(v["status"], "failed", "{v}");
        assert_eq!(v["attempts"], 1, "{v}");
        assert!(v["reason"].as_str().expect("reason").contains("5"), "{v}");
    }
}

#[test]
fn a_refused_recipient_does_not_stop_the_others() {
    // Record 2: both recipients refused (the transaction is reset, the connection reused);
    // record 3: one of two refused.
    let ws = workspace(4, &[(2, "gone@example.com"), (3, "gone@example.com")]);
    let d = ws.path();
    let srv = Aiosmtpd::start(
        d,
        serde_json::json!({"reject_rcpt": ["gone@example.com", "audit+2@example.com"]}),
    );
    let url = format!("smtp+plain://127.0.0.1:{}", srv.port);
    let o = mailspec(
        d,
        &[
            "send",
            "t.yaml",
            "--data",
            "data.jsonl",
            "--smtp",
            &url,
            "--connections",
            "1",
        ],
        &[],
        SECS,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let rep = report(&d.join("out/t/send-report.jsonl"));
    assert_eq!(rep["1"]["status"], "accepted");
    assert_eq!(rep["2"]["status"], "failed");
    assert_eq!(rep["2"]["attempts"], 1);
    assert_eq!(rep["3"]["status"], "accepted");
    assert_eq!(
        rep["3"]["accepted"],
        serde_json::json!(["audit+3@example.com"])
    );
    assert_eq!(rep["3"]["rejected"][0]["rcpt"], "gone@example.com");
    assert!(
        rep["3"]["rejected"][0]["reply"]
            .as_str()
            .expect("reply")
            .starts_with("550")
    );
    assert_eq!(rep["4"]["status"], "accepted");
    let got = srv.received();
    assert_eq!(got.len(), 3);
    // One connection for all of them.
    let sessions: BTreeSet<String> = got.iter().map(|(_, e)| e["session"].to_string()).collect();
    assert_eq!(sessions.len(), 1, "{got:?}");
    assert_eq!(
        got[1].1["rcpt_tos"],
        serde_json::json!(["audit+3@example.com"])
    );
}

#[test]
fn a_connection_dropped_after_the_data_makes_the_message_unknown_and_held() {
    let ws = workspace(1, &[]);
    let d = ws.path();
    let (port, _sink) = smtp_sink(&["-q", "."]);
    let url = format!("smtp+plain://127.0.0.1:{port}");
    let args = [
        "send",
        "t.yaml",
        "--data",
        "data.jsonl",
        "--smtp",
        &url,
        "--retry-delay",
        "10ms",
    ];
    let o = mailspec(d, &args, &[], SECS);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let rep = report(&d.join("out/t/send-report.jsonl"));
    assert_eq!(rep["1"]["status"], "unknown");
    assert_eq!(rep["1"]["attempts"], 1, "an unknown message is not retried");
    // Rerun: held, not sent.
    let o = mailspec(d, &args, &[], SECS);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let rep = report(&d.join("out/t/send-report.jsonl"));
    assert_eq!(rep["1"]["status"], "unknown");
    assert_eq!(rep["1"]["earlier"], true);
    assert!(
        rep["1"]["reason"]
            .as_str()
            .expect("reason")
            .contains("--resend-unknown")
    );
    // With --resend-unknown it is tried again.
    let mut with = args.to_vec();
    with.push("--resend-unknown");
    let _ = mailspec(d, &with, &[], SECS);
    let rep = report(&d.join("out/t/send-report.jsonl"));
    assert_eq!(rep["1"]["attempts"], 2, "{:?}", rep["1"]);
}

#[test]
fn a_server_that_never_greets_times_out() {
    let ws = workspace(1, &[]);
    let d = ws.path();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Accepts and holds connections, silent.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let url = format!("smtp+plain://127.0.0.1:{port}");
    let started = Instant::now();
    let o = mailspec(
        d,
        &[
            "send",
            "t.yaml",
            "--data",
            "data.jsonl",
            "--smtp",
            &url,
            "--greeting-timeout",
            "500ms",
            "--attempts",
            "2",
            "--retry-delay",
            "10ms",
        ],
        &[],
        SECS,
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let rep = report(&d.join("out/t/send-report.jsonl"));
    assert_eq!(rep["1"]["status"], "deferred");
    assert!(
        rep["1"]["reason"]
            .as_str()
            .expect("reason")
            .contains("greeting"),
        "{:?}",
        rep["1"]
    );
}

/// A scripted server: greets, then answers each command line with the next reply of `script`
/// (replies for DATA content are not read), then holds the connection open and silent for
/// 10 s. With `trickle`, each reply is written one byte at a time, that far apart.
fn scripted(replies: Vec<&'static [u8]>, trickle: Option<Duration>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let replies = replies.clone();
            std::thread::spawn(move || {
                let mut s = s;
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut r = BufReader::new(s.try_clone().expect("clone"));
                for (i, reply) in replies.iter().enumerate() {
                    if i > 0 {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                    }
                    match trickle {
                        Some(gap) => {
                            for b in reply.iter() {
                                if s.write_all(&[*b]).is_err() {
                                    return;
                                }
                                std::thread::sleep(gap);
                            }
                        }
                        None => {
                            if s.write_all(reply).is_err() {
                                return;
                            }
                        }
                    }
                }
                std::thread::sleep(Duration::from_secs(10));
            });
        }
    });
    port
}

#[test]
fn hostile_servers_cannot_hang_or_crash_mailspec() {
    let ws = workspace(1, &[]);
    let d = ws.path();
    // An endless multi-line greeting (over smtp-proto's 4 KiB reply limit).
    let long: &'static [u8] = Box::leak(
        std::iter::repeat_n(
            &b"220-spam spam spam spam spam spam spam spam spam spam\r\n"[..],
            2000,
        )
        .flatten()
        .copied()
        .collect::<Vec<u8>>()
        .into_boxed_slice(),
    );
    // 250 to DATA before any data (a lie): nothing may be counted as delivered.
    let liar = scripted(
        vec![
            b"220 hi\r\n",
            b"250 hi\r\n",
            b"250 ok\r\n",
            b"250 ok\r\n",
            b"250 ok\r\n",
            b"250 2.0.0 queued as LIE\r\n",
        ],
        None,
    );
    let endless = scripted(vec![long], None);
    // Offers STARTTLS, says go ahead, then never starts the handshake.
    let stall = scripted(
        vec![
            b"220 hi\r\n",
            b"250-hi\r\n250 STARTTLS\r\n",
            b"220 go ahead\r\n",
        ],
        None,
    );
    // One byte every 300 ms: a greeting that would take 3 s.
    let trickle = scripted(vec![b"220 slowly\r\n"], Some(Duration::from_millis(300)));
    for (scheme, port, expect) in [
        ("smtp+plain", liar, "DATA"),
        ("smtp+plain", endless, "greeting"),
        ("smtp", stall, "TLS handshake"),
        ("smtp+plain", trickle, "greeting"),
    ] {
        let url = format!("{scheme}://127.0.0.1:{port}");
        let started = Instant::now();
        let o = mailspec(
            d,
            &[
                "send",
                "t.yaml",
                "--data",
                "data.jsonl",
                "--smtp",
                &url,
                "--attempts",
                "2",
                "--retry-delay",
                "10ms",
                "--timeout",
                "2s",
                "--greeting-timeout",
                "2s",
                "--journal",
                "none",
            ],
            &[],
            SECS,
        );
        assert!(started.elapsed() < Duration::from_secs(15));
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let rep = report(&d.join("out/t/send-report.jsonl"));
        assert_eq!(rep["1"]["status"], "deferred", "{:?}", rep["1"]);
        assert!(
            rep["1"]["reason"]
                .as_str()
                .expect("reason")
                .contains(expect),
            "{:?}",
            rep["1"]
        );
    }
}

#[test]
fn smtputf8_is_used_only_when_offered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    fs::write(
        d.join("u.yaml"),
        r#"mailspec: 1
name: u
data:
  key: id
  fields: { id: { type: string } }
  sample: [{ id: "1" }]
message:
  smtputf8: true
  from: Tienda <pedidos@tienda.example>
  to: José <josé@ejemplo.example>
  subject: "Pedido"
  date: "2024-06-15T13:15:07+01:00"
  text: { content: "Hola\n" }
"#,
    )
    .expect("spec");
    let plain = Aiosmtpd::start(d, serde_json::json!({}));
    let url = format!("smtp+plain://127.0.0.1:{}", plain.port);
    let o = mailspec(
        d,
        &["send", "u.yaml", "--smtp", &url, "--journal", "none"],
        &[],
        SECS,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let rep = report(&d.join("out/u/send-report.jsonl"));
    assert_eq!(rep["1"]["status"], "failed");
    assert!(
        rep["1"]["reason"]
            .as_str()
            .expect("reason")
            .contains("SMTPUTF8")
    );
    assert!(plain.received().is_empty());

    let utf8 = Aiosmtpd::start(d, serde_json::json!({"smtputf8": true}));
    let url = format!("smtp+plain://127.0.0.1:{}", utf8.port);
    let o = mailspec(
        d,
        &["send", "u.yaml", "--smtp", &url, "--journal", "none"],
        &[],
        SECS,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got = utf8.received();
    assert_eq!(got.len(), 1);
    assert!(
        got[0].1["mail_options"].to_string().contains("SMTPUTF8"),
        "{:?}",
        got[0].1
    );
    assert_eq!(
        got[0].1["rcpt_tos"],
        serde_json::json!(["josé@ejemplo.example"])
    );
}

/// A workspace whose record 1 has a recipient and a return path that start with `-`, as an
/// attacker would write them to smuggle sendmail options (PHPMailer CVE-2016-10033): both are
/// valid addresses (RFC 5322 `atext`).
fn dash_workspace() -> tempfile::TempDir {
    let ws = workspace(1, &[(1, "-oQ/tmp/x@example.com")]);
    let spec = SPEC.replace(
        "  from: Shop <shop@example.com>\n",
        "  from: Shop <shop@example.com>\n  envelope: { from: \"-bX+{{ id }}@example.com\" }\n",
    );
    fs::write(ws.path().join("t.yaml"), spec).expect("spec");
    ws
}

#[test]
fn sendmail_gets_a_safe_argument_list() {
    let ws = dash_workspace();
    let d = ws.path();
    // A stand-in sendmail that parses its arguments with a real getopt (the shell's
    // `getopts`), declaring `-o` and `-b` as options taking a value like sendmail's: were an
    // address read as an option, `parsed` would say `option=`.
    let fake = d.join("fake-sendmail");
    fs::write(
        &fake,
        r#"#!/bin/sh
d=$(dirname "$0")
for a in "$@"; do printf '%s\n' "$a"; done > "$d/argv"
while getopts "if:o:b:" o; do
  case $o in
    i) echo i ;;
    f) printf 'sender=%s\n' "$OPTARG" ;;
    *) printf 'option=%s %s\n' "$o" "$OPTARG" ;;
  esac
done > "$d/parsed"
shift $((OPTIND - 1))
for a in "$@"; do printf 'rcpt=%s\n' "$a"; done >> "$d/parsed"
cat > "$d/stdin"
"#,
    )
    .expect("script");
    let _ = Command::new("chmod").arg("+x").arg(&fake).status();
    let o = mailspec(
        d,
        &[
            "send",
            "t.yaml",
            "--data",
            "data.jsonl",
            "--sendmail",
            &fake.display().to_string(),
        ],
        &[],
        SECS,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let argv = fs::read_to_string(d.join("argv")).expect("argv");
    assert_eq!(
        argv,
        "-i\n-f-bX+1@example.com\n--\n-oQ/tmp/x@example.com\naudit+1@example.com\n"
    );
    let parsed = fs::read_to_string(d.join("parsed")).expect("parsed");
    assert_eq!(
        parsed,
        "i\nsender=-bX+1@example.com\nrcpt=-oQ/tmp/x@example.com\nrcpt=audit+1@example.com\n"
    );
    let stdin = fs::read(d.join("stdin")).expect("stdin");
    render_into(d, &["t.yaml", "--data", "data.jsonl"], "exp");
    let rendered = fs::read(d.join("exp/1.eml")).expect("eml");
    assert!(
        String::from_utf8_lossy(&rendered).contains("To: -oQ/tmp/x@example.com\r\n"),
        "the address is kept as written"
    );
    // The same message with local line ends: sendmail's interface.
    assert_eq!(
        String::from_utf8_lossy(&stdin),
        String::from_utf8_lossy(&rendered).replace("\r\n", "\n")
    );
}

#[test]
fn addresses_starting_with_a_dash_are_sent_over_smtp_as_they_are() {
    let ws = dash_workspace();
    let d = ws.path();
    let srv = Aiosmtpd::start(d, serde_json::json!({}));
    let url = format!("smtp+plain://127.0.0.1:{}", srv.port);
    let o = mailspec(
        d,
        &["send", "t.yaml", "--data", "data.jsonl", "--smtp", &url],
        &[],
        SECS,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    render_into(d, &["t.yaml", "--data", "data.jsonl"], "exp");
    let got = srv.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, fs::read(d.join("exp/1.eml")).expect("eml"));
    assert_eq!(got[0].1["mail_from"], "-bX+1@example.com");
    assert_eq!(
        got[0].1["rcpt_tos"],
        serde_json::json!(["-oQ/tmp/x@example.com", "audit+1@example.com"])
    );
}

#[test]
fn a_dry_run_connects_to_nothing() {
    let ws = workspace(3, &[]);
    let d = ws.path();
    // Nothing listens on this port; a dry run must not notice.
    let url = format!("smtp+plain://127.0.0.1:{}", free_port());
    let o = mailspec(
        d,
        &[
            "send",
            "t.yaml",
            "--data",
            "data.jsonl",
            "--smtp",
            &url,
            "--dry-run",
        ],
        &[],
        SECS,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rep = report(&d.join("out/t/send-report.jsonl"));
    assert_eq!(rep.len(), 3);
    assert!(rep.values().all(|v| v["status"] == "dry-run"));
    assert!(!d.join("out/t/send-journal.sqlite").exists());
}

/// The Message-IDs the journal lists in `state`.
fn sqlite_ids(db: &Path, state: &str) -> BTreeSet<String> {
    let c = rusqlite::Connection::open(db).expect("journal");
    let mut st = c
        .prepare("SELECT message_id FROM mailspec_journal WHERE state = ?1")
        .expect("query");
    st.query_map([state], |r| r.get::<_, String>(0))
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect()
}

/// Waits until `count()` reaches `n`.
fn wait_for(what: &str, n: usize, limit: Duration, count: impl Fn() -> usize) {
    let deadline = Instant::now() + limit;
    while count() < n {
        assert!(
            Instant::now() < deadline,
            "{what}: {} of {n} after {limit:?}",
            count()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every message exactly once, except those the journal calls unknown (at most once).
fn assert_exactly_once(ids: &[String], all: &BTreeSet<String>, unknown: &BTreeSet<String>) {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for id in ids {
        *seen.entry(id).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "received more than once: {twice:?}");
    let missing: Vec<_> = all
        .iter()
        .filter(|id| !seen.contains_key(id.as_str()) && !unknown.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "never received and not unknown: {missing:?}"
    );
    assert!(seen.keys().all(|id| all.contains(*id)));
}

#[test]
fn kill_9_mid_batch_then_rerun_sends_each_message_once() {
    const N: usize = 2000;
    let ws = workspace(N, &[]);
    let d = ws.path();
    let srv = Aiosmtpd::start(d, serde_json::json!({}));
    let url = format!("smtp+plain://127.0.0.1:{}", srv.port);
    let args = [
        "send",
        "t.yaml",
        "--data",
        "data.jsonl",
        "--smtp",
        &url,
        "--connections",
        "4",
    ];
    let child = spawn_mailspec(d, &args, &[]);
    let mut child = Proc(child);
    wait_for("first run", 300, Duration::from_secs(120), || {
        srv.ids().len()
    });
    child.0.kill().expect("kill -9");
    let _ = child.0.wait();
    let before = srv.ids().len();
    assert!(before < N, "the batch finished before the kill");

    let o = mailspec(d, &args, &[], Duration::from_secs(240));
    let db = d.join("out/t/send-journal.sqlite");
    let unknown = sqlite_ids(&db, "unknown");
    assert!(
        unknown.len() <= 4,
        "at most one claim per connection: {unknown:?}"
    );
    // Exit 1 only because of the unknown (held) messages.
    assert_eq!(
        o.status.code(),
        Some(if unknown.is_empty() { 0 } else { 1 }),
        "{}",
        stderr(&o)
    );
    let accepted = sqlite_ids(&db, "accepted");
    assert_eq!(accepted.len() + unknown.len(), N);
    let all: BTreeSet<String> = accepted.union(&unknown).cloned().collect();
    assert_exactly_once(&srv.ids(), &all, &unknown);
    let rep = report(&d.join("out/t/send-report.jsonl"));
    assert_eq!(rep.len(), N);
    assert!(rep.values().filter(|v| v["earlier"] == true).count() >= before - unknown.len());
}

/// A PostgreSQL cluster in a temp dir, on a free loopback port; stopped on drop.
struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
    bin: PathBuf,
}

impl Postgres {
    fn start() -> Postgres {
        let bin = fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL (scripts/install-test-deps.sh installs postgresql)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|b| b.join("initdb").exists())
            .expect("initdb");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        // PostgreSQL refuses to run as root: the cluster belongs to `postgres` when we are root.
        let root_user = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout == b"0\n")
            .unwrap_or(false);
        if root_user {
            let _ = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(dir.path())
                .status();
        }
        let run = |prog: &str, args: &[&str]| {
            let mut c = if root_user {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(bin.join(prog));
                c
            } else {
                Command::new(bin.join(prog))
            };
            let o = c.args(args).output().expect("run postgres tool");
            assert!(
                o.status.success(),
                "{prog}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        };
        let data = dir.path().join("data").display().to_string();
        run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
        );
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off",
            dir.path().display()
        );
        let log = dir.path().join("log").display().to_string();
        run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-w", "-o", &opts, "start"],
        );
        Postgres { dir, port, bin }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"));
        let _ = c
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn three_workers_share_a_postgres_journal_and_survive_one_killed() {
    const N: usize = 2000;
    let pg = Postgres::start();
    let ws = workspace(N, &[]);
    let d = ws.path();
    let srv = Aiosmtpd::start(d, serde_json::json!({}));
    let url = format!("smtp+plain://127.0.0.1:{}", srv.port);
    let journal = pg.url();
    let worker = |i: usize| {
        let report = format!("report-{i}.jsonl");
        spawn_mailspec(
            d,
            &[
                "send",
                "t.yaml",
                "--data",
                "data.jsonl",
                "--smtp",
                &url,
                "--connections",
                "2",
                "--journal",
                &journal,
                "--report",
                &report,
            ],
            &[],
        )
    };
    let mut victim = Proc(worker(1));
    let w2 = worker(2);
    let w3 = worker(3);
    wait_for("workers", 300, Duration::from_secs(120), || srv.ids().len());
    victim.0.kill().expect("kill -9");
    let _ = victim.0.wait();
    let o2 = wait_output(w2, Duration::from_secs(240));
    let o3 = wait_output(w3, Duration::from_secs(240));
    for o in [&o2, &o3] {
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(o));
    }
    // The journal, as the survivors left it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let rows: Vec<(String, String)> = rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&journal, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        client
            .query("SELECT message_id, state FROM mailspec_journal", &[])
            .await
            .expect("query")
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    });
    assert_eq!(rows.len(), N);
    let unknown: BTreeSet<String> = rows
        .iter()
        .filter(|(_, s)| s == "unknown")
        .map(|(m, _)| m.clone())
        .collect();
    let others: Vec<&(String, String)> = rows
        .iter()
        .filter(|(_, s)| s != "unknown" && s != "accepted")
        .collect();
    assert!(others.is_empty(), "{others:?}");
    assert!(
        unknown.len() <= 2,
        "at most one claim per connection of the killed worker: {unknown:?}"
    );
    let all: BTreeSet<String> = rows.iter().map(|(m, _)| m.clone()).collect();
    assert_exactly_once(&srv.ids(), &all, &unknown);
    // Both survivors sent some.
    for i in [2, 3] {
        let rep = fs::read_to_string(d.join(format!("report-{i}.jsonl"))).expect("report");
        assert!(
            rep.contains("\"status\":\"accepted\",\"attempts\""),
            "worker {i} sent nothing"
        );
    }
}

#[test]
fn ctrl_c_stops_gracefully_and_a_rerun_finishes() {
    const N: usize = 1000;
    let ws = workspace(N, &[]);
    let d = ws.path();
    let srv = Aiosmtpd::start(d, serde_json::json!({}));
    let url = format!("smtp+plain://127.0.0.1:{}", srv.port);
    let args = [
        "send",
        "t.yaml",
        "--data",
        "data.jsonl",
        "--smtp",
        &url,
        "--connections",
        "4",
    ];
    let child = spawn_mailspec(d, &args, &[]);
    let pid = child.id().to_string();
    wait_for("first run", 100, Duration::from_secs(120), || {
        srv.ids().len()
    });
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let o = wait_output(child, SECS);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(stderr(&o).contains("rerun the same command to resume"));
    let db = d.join("out/t/send-journal.sqlite");
    // Graceful: in-flight messages finished, so nothing is left claimed or unknown.
    assert!(sqlite_ids(&db, "sending").is_empty());
    assert!(sqlite_ids(&db, "unknown").is_empty());
    let o = mailspec(d, &args, &[], Duration::from_secs(240));
    assert!(o.status.success(), "{}", stderr(&o));
    let accepted = sqlite_ids(&db, "accepted");
    assert_eq!(accepted.len(), N);
    assert_exactly_once(&srv.ids(), &accepted, &BTreeSet::new());
}

#[test]
fn smtps_is_tls_from_the_first_byte() {
    let ws = workspace(2, &[]);
    let d = ws.path();
    let (cert, key) = certificate(d, "server");
    let srv = Aiosmtpd::start(
        d,
        serde_json::json!({"cert": cert, "key": key, "implicit": true}),
    );
    let url = format!("smtps://127.0.0.1:{}", srv.port);
    let o = mailspec(
        d,
        &[
            "send",
            "t.yaml",
            "--data",
            "data.jsonl",
            "--smtp",
            &url,
            "--tls-ca",
            &cert.display().to_string(),
        ],
        &[],
        SECS,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got = srv.received();
    assert_eq!(got.len(), 2);
    // aiosmtpd sets `session.ssl` only after STARTTLS; the bytes arrived all the same, and
    // without TLS the handshake would have failed.
    let o = mailspec(
        d,
        &[
            "send",
            "t.yaml",
            "--data",
            "data.jsonl",
            "--smtp",
            &format!("smtp+plain://127.0.0.1:{}", srv.port),
            "--journal",
            "none",
            "--greeting-timeout",
            "2s",
            "--attempts",
            "1",
        ],
        &[],
        SECS,
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "plaintext to a TLS port must not deliver"
    );
    assert_eq!(srv.received().len(), 2);
}

/// Flips one letter of the body (after the blank line that ends the header): a signature over
/// the body (`bh=`) no longer matches.
fn tamper_body(message: &[u8]) -> Vec<u8> {
    let mut m = message.to_vec();
    let body = m
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header/body separator")
        + 4;
    let at = m[body..]
        .iter()
        .position(u8::is_ascii_alphabetic)
        .expect("a letter in the body")
        + body;
    m[at] = if m[at] == b'x' { b'y' } else { b'x' };
    m
}

#[test]
fn send_signs_with_dkim_and_the_received_bytes_verify() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let srv = Aiosmtpd::start(d, serde_json::json!({}));
    let url = format!("smtp+plain://127.0.0.1:{}", srv.port);
    let keys = crate::dkim::keys();
    let report = d.join("report.jsonl").display().to_string();
    // The newsletter's spec has `dkim:` (the bundled RSA test key): `send` signs with it; the
    // --dkim-* options switch to the Ed25519 test key. Run from the repository, writing only
    // into the temp dir (the report; no journal).
    let ed_key = keys[1].1.display().to_string();
    let runs: [&[&str]; 2] = [
        &[],
        &["--dkim", "--dkim-key", &ed_key, "--dkim-selector", "ed2024"],
    ];
    for extra in runs {
        let mut args = vec![
            "send",
            "specs/newsletter.yaml",
            "--records",
            "1-2",
            "--smtp",
            &url,
            "--journal",
            "none",
            "--report",
            &report,
        ];
        args.extend_from_slice(extra);
        let o = mailspec(&root(), &args, &[], SECS);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
    }
    let got = srv.received();
    assert_eq!(got.len(), 4);
    let mut cases = Vec::new();
    for (i, (bytes, _)) in got.iter().enumerate() {
        let (alg, record) = if i < 2 {
            ("rsa-sha256", &keys[0].2)
        } else {
            ("ed25519-sha256", &keys[1].2)
        };
        let head = format!("DKIM-Signature: v=1; a={alg};");
        assert!(
            bytes.starts_with(head.as_bytes()),
            "message {i} is not signed with {alg}"
        );
        cases.push((bytes.clone(), record.clone()));
        cases.push((tamper_body(bytes), record.clone()));
    }
    let verdicts = crate::dkim::python_verify(&cases);
    // Each message as received verifies; the same message with one body letter changed does not.
    assert_eq!(
        verdicts,
        [true, false, true, false, true, false, true, false]
    );

    // `--rendered` sends the bytes as rendered: it cannot sign them.
    let o = mailspec(
        d,
        &["send", "--rendered", ".", "--dry-run", "--dkim"],
        &[],
        SECS,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("render --dkim"), "{}", stderr(&o));
}

#[test]
fn auth_plain_login_and_xoauth2_each_work_and_the_secret_is_never_shown() {
    let ws = workspace(1, &[]);
    let d = ws.path();
    let secret = "tok-S3CRET-42";
    let all: &[&str] = &["PLAIN", "LOGIN", "XOAUTH2"];
    // (mechanisms the server offers, --auth, the mechanism it must see)
    let cases: [(&[&str], Option<&str>, &str); 5] = [
        (&["PLAIN"], None, "PLAIN"),
        (&["LOGIN"], None, "LOGIN"),
        (all, None, "PLAIN"),
        (all, Some("login"), "LOGIN"),
        (&["XOAUTH2"], Some("xoauth2"), "XOAUTH2"),
    ];
    let run = |offered: &[&str], flag: Option<&str>, password: &str| {
        let srv = Aiosmtpd::start(
            d,
            serde_json::json!({"user": "ada", "password": secret, "auth_mechanisms": offered}),
        );
        let url = format!("smtp+plain://ada@127.0.0.1:{}", srv.port);
        let report = d.join(format!("report-{}.jsonl", srv.port));
        let report_arg = report.display().to_string();
        let mut args = vec![
            "send",
            "t.yaml",
            "--data",
            "data.jsonl",
            "--smtp",
            &url,
            "--journal",
            "none",
            "--report",
            &report_arg,
        ];
        if let Some(m) = flag {
            args.extend(["--auth", m]);
        }
        let o = mailspec(d, &args, &[("MAILSPEC_SMTP_PASSWORD", password)], SECS);
        let rep = fs::read_to_string(&report).unwrap_or_default();
        (o, srv, rep)
    };
    for (offered, flag, want) in cases {
        let (o, srv, rep) = run(offered, flag, secret);
        assert!(o.status.success(), "{offered:?} {flag:?}: {}", stderr(&o));
        let got = srv.received();
        assert_eq!(got.len(), 1, "{offered:?} {flag:?}");
        assert_eq!(got[0].1["authenticated"], true);
        assert_eq!(got[0].1["auth_mechanism"], want, "{offered:?} {flag:?}");
        assert!(!stderr(&o).contains(secret), "the secret was printed");
        assert!(!rep.contains(secret), "the secret is in the report");
    }
    // A mechanism the server does not offer stops the run before any message.
    let (o, srv, _) = run(&["PLAIN"], Some("xoauth2"), secret);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("does not offer AUTH XOAUTH2"),
        "{}",
        stderr(&o)
    );
    assert!(srv.received().is_empty());
    // A refused token stops it too, and is never shown.
    let (o, srv, rep) = run(&["XOAUTH2"], Some("xoauth2"), "wr0ng-T0KEN");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("authentication failed"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("wr0ng-T0KEN") && !rep.contains("wr0ng-T0KEN"));
    assert!(srv.received().is_empty());
}

/// A spec whose text part asks for `8bit` (RFC 6152).
const EIGHT_BIT_SPEC: &str = r#"mailspec: 1
name: e
data:
  key: id
  fields: { id: { type: string } }
  sample: [{ id: "1" }]
message:
  from: Tienda <pedidos@tienda.example>
  to: ana@example.com
  subject: "Pedido"
  date: "2024-06-15T13:15:07+01:00"
  text:
    transfer_encoding: 8bit
    content: "Olá Ana, el ñandú cuesta 5 €.\n.una línea con punto\n"
"#;

#[test]
fn without_8bitmime_the_message_is_rendered_7bit_with_the_same_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    fs::write(d.join("e.yaml"), EIGHT_BIT_SPEC).expect("spec");
    let send = |srv: &Aiosmtpd, source: &[&str]| {
        let url = format!("smtp+plain://127.0.0.1:{}", srv.port);
        let mut args = vec!["send"];
        args.extend_from_slice(source);
        args.extend(["--smtp", &url, "--journal", "none"]);
        mailspec(d, &args, &[], SECS)
    };
    let text = |bytes: &[u8]| {
        mail_parser::MessageParser::default()
            .parse(bytes)
            .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
            .expect("a text body")
    };

    // With 8BITMIME: the bytes as rendered, 8-bit, announced with BODY=8BITMIME.
    let eight = Aiosmtpd::start(d, serde_json::json!({}));
    let o = send(&eight, &["e.yaml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    render_into(d, &["e.yaml"], "exp");
    let rendered = fs::read(d.join("exp/1.eml")).expect("eml");
    let got = eight.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, rendered);
    assert!(!rendered.is_ascii());
    assert!(
        got[0].1["mail_options"]
            .to_string()
            .contains("BODY=8BITMIME"),
        "{:?}",
        got[0].1
    );

    // Without: rendered again 7-bit; the same text once decoded.
    let seven = Aiosmtpd::start(d, serde_json::json!({"no_8bitmime": true}));
    let o = send(&seven, &["e.yaml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("does not offer 8BITMIME"),
        "{}",
        stderr(&o)
    );
    let got = seven.received();
    assert_eq!(got.len(), 1);
    let bytes = &got[0].0;
    assert!(bytes.is_ascii(), "{}", String::from_utf8_lossy(bytes));
    assert!(
        String::from_utf8_lossy(bytes).contains("Content-Transfer-Encoding: quoted-printable\r\n")
            || String::from_utf8_lossy(bytes).contains("Content-Transfer-Encoding: base64\r\n")
    );
    assert!(!got[0].1["mail_options"].to_string().contains("8BITMIME"));
    assert_eq!(text(bytes), text(&rendered));
    assert!(text(bytes).contains("ñandú cuesta 5 €"));

    // `--rendered` bytes cannot change: refused, with the reason.
    let o = send(&seven, &["--rendered", "exp"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let rep = report(&d.join("exp/send-report.jsonl"));
    assert_eq!(rep["1"]["status"], "failed");
    assert!(
        rep["1"]["reason"]
            .as_str()
            .expect("reason")
            .contains("does not offer 8BITMIME"),
        "{:?}",
        rep["1"]
    );
    assert_eq!(seven.received().len(), 1);
}
