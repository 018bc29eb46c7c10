//! `mailspec preview` and `mailspec test --html`, checked in a real browser: Debian's headless
//! Chromium driven through chromedriver (fantoccini, no TLS), both started and stopped here.
//! `scripts/install-test-deps-browser.sh` installs them; a missing browser fails the test
//! rather than skipping it.
//!
//! The server runs as the real binary over a copy of `specs/` and `snapshots/` plus a spec of
//! its own (`live.yaml`) that the test edits. A small pixel server on loopback stands in for a
//! tracker: it records every request, so "a script did not run" and "a remote image was not
//! loaded" are facts the test can read, not guesses.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use mailspec::preview::mail::Decoded;
use mailspec::review;

use crate::util;

const BIN: &str = env!("CARGO_BIN_EXE_mailspec");

/// A running `mailspec preview`, killed on drop.
struct Preview {
    child: Child,
    url: String,
}

impl Preview {
    /// Starts `mailspec preview --port 0` in `dir` (which has `specs/` and `snapshots/`).
    fn start(dir: &Path) -> Preview {
        let mut child = Command::new(BIN)
            .args(["preview", "--port", "0"])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mailspec preview starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("preview prints its URL");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .trim_end_matches('/')
            .to_string();
        Preview { child, url }
    }

    fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in URL")
    }
}

impl Drop for Preview {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver, stopped on drop; the Chromium it starts stops when the session is closed.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Driver {
    fn start() -> Driver {
        for tool in ["chromium", "chromedriver"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                found,
                "`{tool}` is not installed: run scripts/install-test-deps-browser.sh \
                 (Debian packages chromium and chromium-driver)"
            );
        }
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((200, _, body)) = http_get(port, "/status", "127.0.0.1")
                && body.contains("\"ready\":true")
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not get ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver {
            child,
            port,
            _profile: tempfile::tempdir().expect("profile dir"),
        }
    }

    async fn client(&self) -> Client {
        let profile = self._profile.path().display().to_string();
        let caps = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--hide-scrollbars",
                    format!("--user-data-dir={profile}"), "--window-size=1600,1200"
                ]
            }
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!("a JSON object literal")
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium processes it started.
        // Only chromedriver, by its own handle. Chromium was already stopped by closing the
        // session (which the test does even when it fails). Never signal a process group here:
        // procps-ng 4.0.2's `kill -TERM -PGID` signalled every process on the machine.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET over loopback: (status, headers, body).
fn http_get(port: u16, path: &str, host: &str) -> std::io::Result<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    // Until the end of the body: EOF, or Content-Length bytes (chromedriver keeps the
    // connection open whatever the request says).
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())
                    .flatten()
            });
            if len.is_some_and(|len| body.len() >= len) {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, head.to_string(), body.to_string()))
}

/// A loopback "tracker": answers every request with a 1×1 GIF and records its path.
fn pixel_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(Mutex::new(Vec::new()));
    let h = Arc::clone(&hits);
    std::thread::spawn(move || {
        const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
        // Ends with the test process; only loopback connections reach it.
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut line = String::new();
            let mut reader = BufReader::new(match stream.try_clone() {
                Ok(s) => s,
                Err(_) => continue,
            });
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            if let Some(path) = line.split_whitespace().nth(1) {
                h.lock().expect("lock").push(path.to_string());
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: image/gif\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                GIF.len()
            );
            let _ = stream.write_all(GIF);
        }
    });
    (port, hits)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &t);
        } else {
            std::fs::copy(&p, &t).expect("copy");
        }
    }
}

fn html_template(version: &str, pixel: u16) -> String {
    format!(
        r#"<!doctype html>
<html><head><style>body {{ font-family: sans-serif; background: #f4f1ea; }} h1 {{ color: #2d4a22; }}</style></head>
<body>
<h1 id="greeting">{version} for {{{{ name }}}}</h1>
<p><img id="logo" src="cid:logo" alt="logo" width="80"></p>
<p><img id="pixel" src="http://127.0.0.1:{pixel}/pixel.gif" width="1" height="1" alt=""></p>
<script>new Image().src = "http://127.0.0.1:{pixel}/template-script-ran"; document.body.setAttribute("data-ran", "1");</script>
</body></html>
"#
    )
}

/// Writes `specs/live.yaml` and its templates into `dir`.
fn write_live_spec(dir: &Path, pixel: u16) -> PathBuf {
    let specs = dir.join("specs");
    std::fs::create_dir_all(specs.join("live-templates")).expect("mkdir");
    std::fs::copy(
        util::root().join("specs/shop/assets/logo.png"),
        specs.join("live-templates/logo.png"),
    )
    .expect("copy logo");
    let spec = format!(
        r#"mailspec: 1
name: live
description: Edited by the browser test.
data:
  fields:
    email: {{ type: email }}
    name: {{ type: string }}
  sample:
    - {{ email: ann@example.com, name: "<script>new Image().src='http://127.0.0.1:{pixel}/record-script-ran'</script>Ann" }}
  fixtures:
    basic:
      - {{ email: bob@example.com, name: Bob }}
message:
  from: Shop <shop@example.com>
  to: "{{{{ email }}}}"
  subject: "Hello {{{{ name }}}}"
  text: {{ template: live-templates/live.txt.j2 }}
  html: {{ template: live-templates/live.html.j2 }}
  inline:
    - {{ cid: logo, file: live-templates/logo.png }}
"#
    );
    std::fs::write(specs.join("live.yaml"), spec).expect("write spec");
    std::fs::write(
        specs.join("live-templates/live.txt.j2"),
        "Text for {{ name }}\n",
    )
    .expect("write text");
    std::fs::write(
        specs.join("live-templates/live.html.j2"),
        html_template("Version one", pixel),
    )
    .expect("write html");
    specs.join("live-templates/live.html.j2")
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `secs` seconds.
async fn within<T, F, Fut>(secs: u64, what: &str, mut check: F) -> (T, Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return (v, start.elapsed());
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text of `css` inside the iframe `frame` of the current page (`None` when either is not
/// there yet, e.g. while the page reloads). Leaves the browser in the top document.
async fn frame_text(c: &Client, frame: &str, css: &str) -> Option<String> {
    let _ = c.enter_parent_frame().await;
    let f = c.find(Locator::Css(frame)).await.ok()?;
    f.enter_frame().await.ok()?;
    let text = match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.ok(),
        Err(_) => None,
    };
    let _ = c.enter_parent_frame().await;
    text
}

/// The `naturalWidth` of the image `css` in the current frame (0: not loaded).
async fn natural_width(c: &Client, css: &str) -> u64 {
    let v = c
        .execute(
            "var i = document.querySelector(arguments[0]); return i ? i.naturalWidth : -1;",
            vec![serde_json::Value::from(css)],
        )
        .await
        .expect("execute");
    v.as_i64()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or_else(|| panic!("no image {css}: {v}"))
}

async fn text_of(c: &Client, css: &str) -> Option<String> {
    c.find(Locator::Css(css)).await.ok()?.text().await.ok()
}

async fn screenshot(c: &Client, name: &str, width: u32, height: u32) -> PathBuf {
    c.set_window_size(width, height).await.expect("resize");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let png = c.screenshot().await.expect("screenshot");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("preview-screenshots");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join(name);
    std::fs::write(&path, png).expect("write png");
    eprintln!("screenshot: {}", path.display());
    path
}

/// The subject and text part of the first sample record of `spec`, as the library renders
/// them with the fixture date.
fn expected_first_sample(spec: &Path) -> (String, String) {
    let c = mailspec::spec::compile_path(spec).unwrap_or_else(|(s, d)| panic!("{}", s.render(&d)));
    let sample = c.spec.data.sample.as_ref().expect("a sample");
    let messages = review::render_fixture(&c, sample).expect("sample renders");
    let d = Decoded::new(&messages[0].bytes);
    let text = d.text.and_then(|i| d.text_of(i)).unwrap_or_default();
    (d.subject.unwrap_or_default(), text)
}

#[test]
fn preview_in_a_real_browser() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    copy_dir(&util::root().join("specs"), &dir.join("specs"));
    copy_dir(&util::root().join("snapshots"), &dir.join("snapshots"));
    let (pixel, hits) = pixel_server();
    let html_path = write_live_spec(dir, pixel);
    // A symlink inside the spec folder that leads out of it.
    std::os::unix::fs::symlink("/etc/passwd", dir.join("specs/leak.txt")).expect("symlink");
    // The committed snapshot of the live fixture: version one.
    let st = Command::new(BIN)
        .args(["test", "--accept", "specs/live.yaml"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .expect("mailspec test runs");
    assert!(st.success(), "mailspec test --accept");

    let specs = review::discover_specs(&dir.join("specs")).expect("specs");
    let pos = |name: &str| {
        specs
            .iter()
            .position(|p| p.ends_with(name))
            .unwrap_or_else(|| panic!("{name} discovered"))
    };
    let live = pos("live.yaml");
    let order = pos("order-confirmation.yaml");

    let server = Preview::start(dir);
    let driver = Driver::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let url = server.url.clone();
    let dir_owned = dir.to_path_buf();
    rt.block_on(async {
        let c = driver.client().await;
        let local = tokio::task::LocalSet::new();
        let run = browse(
            c.clone(),
            url,
            dir_owned,
            specs,
            (order, live),
            html_path,
            pixel,
            hits,
        );
        let result = local
            .run_until(async { tokio::task::spawn_local(run).await })
            .await;
        // Close the session whatever happened: chromedriver then stops its Chromium.
        let _ = c.close().await;
        if let Err(e) = result {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
            panic!("the browser test did not finish: {e}");
        }
    });
    eprintln!("browser test took {:?}", started.elapsed());
}

/// The browser steps of [`preview_in_a_real_browser`].
#[allow(clippy::too_many_arguments)]
async fn browse(
    c: Client,
    url: String,
    dir: PathBuf,
    specs: Vec<PathBuf>,
    (order, live): (usize, usize),
    html_path: PathBuf,
    pixel: u16,
    hits: Arc<Mutex<Vec<String>>>,
) {
    let dir = dir.as_path();

    // -- The index lists every example.
    c.goto(&format!("{url}/")).await.expect("index");
    let index = text_of(&c, "ul.specs").await.expect("spec list");
    for s in &specs {
        let shown = s
            .strip_prefix(dir)
            .expect("inside")
            .to_string_lossy()
            .to_string();
        assert!(index.contains(&shown), "index lists {shown}:\n{index}");
    }
    assert!(index.contains("fixture long-order"), "{index}");

    // -- A message page of an example: subject, HTML in the iframe, text, MIME tree.
    let (subject, text) = expected_first_sample(&specs[order]);
    c.goto(&format!("{url}/spec/{order}"))
        .await
        .expect("spec page");
    assert_eq!(
        text_of(&c, "#subject").await.as_deref(),
        Some(subject.as_str())
    );
    let body = frame_text(&c, "#html-desktop", "body")
        .await
        .expect("iframe body");
    assert!(
        body.contains("Gracias"),
        "HTML part in the desktop frame: {body}"
    );
    let mobile = frame_text(&c, "#html-mobile", "body")
        .await
        .expect("iframe body");
    assert!(mobile.contains("Gracias"), "HTML part in the mobile frame");
    let shown_text = text_of(&c, "#text-part").await.expect("text part");
    let first_line = text.lines().find(|l| !l.trim().is_empty()).expect("text");
    assert!(shown_text.contains(first_line.trim()), "{shown_text}");
    let tree = text_of(&c, "#mime-tree").await.expect("MIME tree");
    for t in [
        "multipart/related",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "image/png",
    ] {
        assert!(tree.contains(t), "MIME tree shows {t}: {tree}");
    }
    let headers = text_of(&c, "#headers").await.expect("headers");
    assert!(headers.contains("Message-ID"), "{headers}");
    // The cid: logo is served from the message's own part and shows.
    let _ = c
        .find(Locator::Css("#html-desktop"))
        .await
        .expect("frame")
        .enter_frame()
        .await;
    let w = natural_width(&c, "img").await;
    assert!(w > 0, "the cid: logo loaded ({w})");
    let _ = c.enter_parent_frame().await;
    screenshot(&c, "preview-desktop.png", 1600, 1200).await;
    screenshot(&c, "preview-mobile.png", 412, 1400).await;
    c.set_window_size(1600, 1200).await.expect("resize");

    // -- Scripts in a record value and in a template do not run.
    let page = format!("{url}/spec/{live}/sample/1");
    c.goto(&page).await.expect("live page");
    let greeting = frame_text(&c, "#html-desktop", "#greeting")
        .await
        .expect("greeting");
    assert!(
        greeting.starts_with("Version one for <script>new Image()"),
        "the record's script shows as text: {greeting}"
    );
    let _ = c
        .find(Locator::Css("#html-desktop"))
        .await
        .expect("frame")
        .enter_frame()
        .await;
    let ran = c
        .find(Locator::Css("body"))
        .await
        .expect("body")
        .attr("data-ran")
        .await
        .expect("attr");
    assert_eq!(ran, None, "the template's script did not run");
    assert_eq!(natural_width(&c, "#pixel").await, 0, "remote image blocked");
    assert!(natural_width(&c, "#logo").await > 0, "the cid: logo loaded");
    let _ = c.enter_parent_frame().await;
    assert!(
        text_of(&c, "#remote-notice")
            .await
            .is_some_and(|t| t.contains("1 remote image")),
        "the page says a remote image was blocked"
    );
    screenshot(&c, "preview-live.png", 1600, 1200).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        hits.lock().expect("lock").is_empty(),
        "nothing reached the tracker: {:?}",
        hits.lock()
    );

    // -- Editing a template changes the open page.
    std::fs::write(&html_path, html_template("Version two", pixel)).expect("edit");
    let (_, took) = within(10, "version two in the open page", || async {
        frame_text(&c, "#html-desktop", "#greeting")
            .await
            .filter(|g| g.starts_with("Version two"))
    })
    .await;
    eprintln!("template edit visible after {took:?}");

    // -- A broken template shows its diagnostic; the server keeps running.
    std::fs::write(&html_path, "<h1 id=\"greeting\">{% if %}</h1>\n").expect("break");
    let (diag, took) = within(10, "the diagnostic in the page", || async {
        text_of(&c, "#diagnostics").await
    })
    .await;
    eprintln!("diagnostic visible after {took:?}");
    screenshot(&c, "preview-diagnostics.png", 1600, 1000).await;
    c.set_window_size(1600, 1200).await.expect("resize");
    assert!(diag.contains("error["), "{diag}");
    assert!(
        diag.contains("live.html.j2:1:"),
        "located in the template: {diag}"
    );

    // -- The next good edit recovers.
    std::fs::write(&html_path, html_template("Version three", pixel)).expect("fix");
    let (_, took) = within(10, "version three after the fix", || async {
        frame_text(&c, "#html-desktop", "#greeting")
            .await
            .filter(|g| g.starts_with("Version three"))
    })
    .await;
    eprintln!("recovery visible after {took:?}");

    // -- The fixture page shows the diff against the committed snapshot.
    c.goto(&format!("{url}/spec/{live}/fixture-basic/1"))
        .await
        .expect("fixture page");
    let snap = text_of(&c, "#snapshot").await.expect("snapshot section");
    assert!(
        snap.contains("Differs from snapshots/live@basic.snap"),
        "{snap}"
    );
    assert!(
        // The template's <style> is inlined into the element (deliverability: CSS inlining).
        snap.contains("-<h1 id=\"greeting\" style=\"color: #2d4a22;\">Version one for Bob</h1>"),
        "{snap}"
    );
    assert!(
        snap.contains("+<h1 id=\"greeting\" style=\"color: #2d4a22;\">Version three for Bob</h1>"),
        "{snap}"
    );

    // -- Remote images load only after the click.
    c.goto(&page).await.expect("live page");
    c.find(Locator::Css("#allow-remote"))
        .await
        .expect("allow link")
        .click()
        .await
        .expect("click");
    within(10, "the remote image to be requested", || async {
        hits.lock()
            .expect("lock")
            .iter()
            .any(|p| p == "/pixel.gif")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = hits.lock().expect("lock").clone();
    assert!(
        !seen.iter().any(|p| p.contains("script-ran")),
        "no script ran, even with remote images allowed: {seen:?}"
    );

    // -- Nothing outside the spec roots is served.
    c.goto(&format!(
        "{url}/file/{live}/..%2F..%2F..%2F..%2Fetc%2Fpasswd"
    ))
    .await
    .expect("goto");
    let body = text_of(&c, "body").await.unwrap_or_default();
    assert!(
        body.contains("refused") && !body.contains("root:"),
        "{body}"
    );
    c.goto(&format!("{url}/file/{live}/leak.txt"))
        .await
        .expect("goto");
    let body = text_of(&c, "body").await.unwrap_or_default();
    assert!(
        body.contains("refused") && !body.contains("root:"),
        "symlink out: {body}"
    );
    c.goto(&format!("{url}/file/{live}/live-templates/live.html.j2"))
        .await
        .expect("goto");
    let body = text_of(&c, "body").await.unwrap_or_default();
    assert!(
        body.contains("Version three"),
        "a file inside the roots is served: {body}"
    );

    // -- Static review pages of a changed snapshot show both versions.
    let review_dir = dir.join("review");
    let out = Command::new(BIN)
        .args(["test", "--html", "review", "specs/live.yaml"])
        .current_dir(dir)
        .output()
        .expect("mailspec test --html");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a changed snapshot fails the test"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("review pages: review/index.html (1 changed"),
        "{stdout}"
    );
    c.goto(&format!("file://{}/index.html", review_dir.display()))
        .await
        .expect("index");
    c.find(Locator::LinkText("live@basic"))
        .await
        .expect("link")
        .click()
        .await
        .expect("click");
    let before = frame_text(&c, "iframe.before", "#greeting")
        .await
        .expect("before");
    let after = frame_text(&c, "iframe.after", "#greeting")
        .await
        .expect("after");
    assert_eq!(before, "Version one for Bob");
    assert_eq!(after, "Version three for Bob");
    let diff = text_of(&c, "pre.diff").await.expect("diff");
    assert!(
        diff.contains("-<h1 id=\"greeting\" style=\"color: #2d4a22;\">Version one for Bob</h1>"),
        "{diff}"
    );
    assert!(
        diff.contains("+<h1 id=\"greeting\" style=\"color: #2d4a22;\">Version three for Bob</h1>"),
        "{diff}"
    );
    // The committed side's logo is the same bytes, so it is shown from the new message.
    let _ = c
        .find(Locator::Css("iframe.before"))
        .await
        .expect("frame")
        .enter_frame()
        .await;
    assert!(
        natural_width(&c, "#logo").await > 0,
        "the committed side's logo shows"
    );
    let _ = c.enter_parent_frame().await;
    screenshot(&c, "review.png", 1600, 1200).await;
}

/// What the server refuses and the headers it sends, over plain HTTP (no browser needed).
#[test]
fn preview_http_safety() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("specs")).expect("mkdir");
    std::fs::copy(
        util::root().join("specs/hello.yaml"),
        dir.join("specs/hello.yaml"),
    )
    .expect("copy");
    write_live_spec(dir, 9);
    let server = Preview::start(dir);
    let port = server.port();
    // DNS rebinding: a foreign Host is refused, local names are answered.
    for bad in [
        "evil.example",
        "evil.example:80",
        "127.0.0.1.nip.example",
        "localhost.evil.example",
    ] {
        let (status, _, _) = http_get(port, "/", bad).expect("request");
        assert_eq!(status, 403, "Host {bad}");
    }
    for good in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let (status, _, _) = http_get(port, "/", &good).expect("request");
        assert_eq!(status, 200, "Host {good}");
    }
    let host = format!("127.0.0.1:{port}");
    // Paths out of the roots, however written.
    for path in [
        "/file/1/..%2F..%2Fetc%2Fpasswd",
        "/file/1/%2Fetc%2Fpasswd",
        "/file/1/live-templates/..%2F..%2F..%2Fetc%2Fpasswd",
    ] {
        let (status, _, body) = http_get(port, path, &host).expect("request");
        assert!(status == 403 || status == 404, "{path}: {status}");
        assert!(!body.contains("root:"), "{path}");
    }
    // The message HTML: a CSP that allows no script and only this server's cid: parts.
    let (status, head, body) = http_get(port, "/frame/1/sample/1", &host).expect("frame");
    assert_eq!(status, 200);
    let csp = head
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("content-security-policy:")
        })
        .expect("a CSP header")
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        csp.contains(&format!("img-src data: http://{host}/part/")),
        "{csp}"
    );
    assert!(!csp.contains("script-src"), "{csp}");
    assert!(csp.contains("sandbox"), "{csp}");
    assert!(
        body.contains("src=\"/part/1/sample/1/"),
        "cid: rewritten: {body}"
    );
    let (_, head, _) = http_get(port, "/frame/1/sample/1?remote=1", &host).expect("frame");
    assert!(
        head.contains("img-src data: http://") && head.contains(" http: https:"),
        "{head}"
    );
    // No part, not even the HTML body, is served as a page.
    for id in 0..6 {
        let (_, head, _) = http_get(port, &format!("/part/1/sample/1/{id}"), &host).expect("part");
        assert!(
            !head
                .to_ascii_lowercase()
                .contains("content-type: text/html"),
            "{head}"
        );
    }
    // Server-sent events start with the current generation.
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(s, "GET /events HTTP/1.1\r\nHost: {host}\r\n\r\n").expect("write");
    let mut buf = [0u8; 1024];
    let mut got = String::new();
    while !got.contains("data: 1") {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "events stream closed: {got}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(got.contains("event: generation"), "{got}");
    // A spec file added to `specs/` appears without a restart, and the event stream says so.
    let text = std::fs::read_to_string(dir.join("specs/hello.yaml")).expect("read");
    std::fs::write(
        dir.join("specs/added.yaml"),
        text.replace("name: hello", "name: added"),
    )
    .expect("write");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, _, body) = http_get(port, "/", &host).expect("index");
        if body.contains("specs/added.yaml") {
            break;
        }
        assert!(Instant::now() < deadline, "the new spec never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
    while !got.contains("data: 2") {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "events stream closed: {got}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}
