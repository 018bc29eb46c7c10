//! The preview's HTTP server: axum on tokio, bound to loopback.
//!
//! Routes (all `GET`; nothing here changes state or sends mail):
//! - `/` the index; `/spec/{s}` a spec's first message (or its diagnostics);
//! - `/spec/{s}/{set}/{n}` a message page (`?remote=1` loads remote images);
//! - `/frame/{s}/{set}/{n}` the message HTML alone, for the sandboxed iframe, under a strict CSP;
//! - `/part/{s}/{set}/{n}/{part}` one decoded MIME part (`cid:` images, downloads);
//! - `/raw/{s}/{set}/{n}` the message bytes; `/file/{s}/{*path}` a file of a spec's roots;
//! - `/events` server-sent events: the workspace generation, on connect and after each rebuild;
//! - `/app.js` the pages' script.
//!
//! Every request whose `Host` is not `localhost`, `127.0.0.1` or `[::1]` (any port) is refused
//! with 403 before routing: a web page on another site could otherwise point its own DNS name
//! at 127.0.0.1 and read the preview (DNS rebinding).

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use tokio::sync::broadcast;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;

use super::mail::{self, Decoded};
use super::page::{self, Here};
use super::{SpecState, Workspace};

/// Shared server state: the current workspace and the rebuild announcements.
#[derive(Clone)]
pub struct AppState {
    /// The workspace, replaced whole on every rebuild.
    pub workspace: Arc<RwLock<Arc<Workspace>>>,
    /// Sends the new generation after each rebuild.
    pub rebuilt: broadcast::Sender<u64>,
}

impl AppState {
    /// State around a first workspace.
    pub fn new(ws: Workspace) -> AppState {
        let (tx, _) = broadcast::channel(16);
        AppState {
            workspace: Arc::new(RwLock::new(Arc::new(ws))),
            rebuilt: tx,
        }
    }

    /// The current workspace (a cheap clone of an `Arc`; a poisoned lock still holds a
    /// complete workspace, since it is only ever replaced whole).
    pub fn current(&self) -> Arc<Workspace> {
        match self.workspace.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// Replaces the workspace and tells open pages.
    pub fn replace(&self, ws: Workspace) {
        let generation = ws.generation;
        match self.workspace.write() {
            Ok(mut g) => *g = Arc::new(ws),
            Err(p) => *p.into_inner() = Arc::new(ws),
        }
        // No page open is not an error.
        let _ = self.rebuilt.send(generation);
    }
}

/// The router with every route and the Host check.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(app_js))
        .route("/events", get(events))
        .route("/spec/{s}", get(spec_first))
        .route("/spec/{s}/{set}/{n}", get(message_page))
        .route("/frame/{s}/{set}/{n}", get(frame))
        .route("/part/{s}/{set}/{n}/{part}", get(part))
        .route("/raw/{s}/{set}/{n}", get(raw))
        .route("/file/{s}/{*path}", get(file))
        .fallback(not_found)
        .layer(middleware::from_fn(common_headers))
        .layer(middleware::from_fn(local_host_only))
        .with_state(state)
}

/// Serves `state` on `listener` until the process ends (or the listener fails).
///
/// # Errors
/// When accepting connections fails.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}

/// Whether a `Host` header value names this machine: `localhost`, `127.0.0.1` or `[::1]`,
/// with an optional numeric port.
pub fn is_local_host(host: &str) -> bool {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, after)) => (format!("[{inside}]"), after.strip_prefix(':')),
            None => return false,
        }
    } else {
        match host.split_once(':') {
            Some((n, p)) => (n.to_string(), Some(p)),
            None => (host.to_string(), None),
        }
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok && (name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "[::1]")
}

async fn local_host_only(req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        // HTTP/2 and absolute-form requests carry the authority in the URI instead.
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_string()));
    match host {
        Some(h) if is_local_host(&h) => next.run(req).await,
        _ => (
            StatusCode::FORBIDDEN,
            "refused: the preview answers only requests to localhost, 127.0.0.1 or [::1]\n",
        )
            .into_response(),
    }
}

/// Headers on every response: nothing is cached (pages change on every edit), types are not
/// sniffed, no referrer leaks, and our pages cannot be framed by other sites.
async fn common_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        // The app's own pages: our script only, frames from us only (the message iframes).
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; \
                 img-src 'self' data:; frame-src 'self'; connect-src 'self'; \
                 frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
            ),
        );
    }
    res
}

fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

async fn index(State(st): State<AppState>) -> Response {
    html(page::index(&st.current()))
}

async fn app_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        page::APP_JS,
    )
        .into_response()
}

async fn not_found(State(st): State<AppState>) -> Response {
    (
        StatusCode::NOT_FOUND,
        html(page::not_found(&st.current(), "There is no such page.")),
    )
        .into_response()
}

async fn events(
    State(st): State<AppState>,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let rx = st.rebuilt.subscribe();
    let now = st.current().generation;
    // The current generation first: a page built before a rebuild it missed reloads at once.
    let first = tokio_stream::once(now);
    let later = BroadcastStream::new(rx).filter_map(Result::ok);
    let stream = first
        .chain(later)
        .map(|g| Ok::<_, Infallible>(Event::default().event("generation").data(g.to_string())));
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

async fn spec_first(State(st): State<AppState>, UrlPath(s): UrlPath<usize>) -> Response {
    let ws = st.current();
    let Some(entry) = ws.specs.get(s) else {
        return missing(&ws, "There is no such spec.");
    };
    match &entry.state {
        SpecState::Failed { diagnostics } => html(page::failed_spec(&ws, s, entry, diagnostics)),
        SpecState::Ready(r) => {
            let first = r.sets.iter().find_map(|set| {
                set.records
                    .as_ref()
                    .ok()
                    .and_then(|rs| rs.first())
                    .map(|rec| page::message_url(s, &set.id, rec.index))
            });
            match first {
                Some(url) => Redirect::to(&url).into_response(),
                None => missing(&ws, "This spec has no sample records and no fixtures."),
            }
        }
    }
}

fn missing(ws: &Workspace, what: &str) -> Response {
    (StatusCode::NOT_FOUND, html(page::not_found(ws, what))).into_response()
}

/// Finds a message by its URL parts; `Err` is the response to send instead.
fn lookup<'a>(ws: &'a Workspace, s: usize, set: &str, n: usize) -> Result<Here<'a>, Box<Response>> {
    let entry = ws
        .specs
        .get(s)
        .ok_or_else(|| Box::new(missing(ws, "There is no such spec.")))?;
    let ready = match &entry.state {
        SpecState::Failed { diagnostics } => {
            // The message page of a broken spec shows why, and updates when it is fixed.
            return Err(Box::new(html(page::failed_spec(ws, s, entry, diagnostics))));
        }
        SpecState::Ready(r) => r,
    };
    let gone = || {
        Box::new(missing(
            ws,
            "This record is not there any more (the spec's records changed).",
        ))
    };
    let rs = ready.sets.iter().find(|x| x.id == set).ok_or_else(gone)?;
    let records = rs
        .records
        .as_ref()
        .map_err(|e| Box::new(html(page::failed_set(ws, s, entry, rs, e))))?;
    let record = records.iter().find(|r| r.index == n).ok_or_else(gone)?;
    Ok(Here {
        spec: s,
        entry,
        set: rs,
        record,
        remote: false,
    })
}

async fn message_page(
    State(st): State<AppState>,
    UrlPath((s, set, n)): UrlPath<(usize, String, usize)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ws = st.current();
    match lookup(&ws, s, &set, n) {
        Ok(mut here) => {
            here.remote = q.get("remote").is_some_and(|v| v == "1");
            html(page::message(&ws, &here))
        }
        Err(r) => *r,
    }
}

async fn frame(
    State(st): State<AppState>,
    UrlPath((s, set, n)): UrlPath<(usize, String, usize)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let ws = st.current();
    let here = match lookup(&ws, s, &set, n) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let Ok(m) = &here.record.message else {
        return (StatusCode::NOT_FOUND, "this record has no message").into_response();
    };
    let d = Decoded::new(&m.bytes);
    let Some(body) = d.html.and_then(|i| d.text_of(i)) else {
        return (StatusCode::NOT_FOUND, "this message has no HTML part").into_response();
    };
    let base = format!("/part/{s}/{}/{n}/", page::seg(&set));
    let shown = mail::resolve_cids(&body, &d, &|id| format!("{base}{id}"));
    // The Host was checked by the middleware, so it is a local name and a port.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let csp = page::frame_csp(
        &format!("http://{host}{base}"),
        q.get("remote").is_some_and(|v| v == "1"),
    );
    let mut res = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], shown).into_response();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// A content type safe to serve a part as: anything that a browser could run as a page
/// (HTML, SVG, XML) goes out as plain text, so opening an attachment cannot run its script.
fn safe_type(mime: &str) -> String {
    // SVG stays an image (an `<img>` runs no script, and the part's own CSP sandboxes it when
    // opened alone); other XML could be rendered as a document.
    let risky = mime.contains("html")
        || (mime.contains("xml") && mime != "image/svg+xml")
        || mime.contains("javascript");
    if risky {
        "text/plain; charset=utf-8".into()
    } else if mime.starts_with("text/") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

async fn part(
    State(st): State<AppState>,
    UrlPath((s, set, n, id)): UrlPath<(usize, String, usize, usize)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ws = st.current();
    let here = match lookup(&ws, s, &set, n) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let Ok(m) = &here.record.message else {
        return (StatusCode::NOT_FOUND, "this record has no message").into_response();
    };
    let d = Decoded::new(&m.bytes);
    let Some(p) = d.parts.get(id).filter(|p| !p.multipart) else {
        return (StatusCode::NOT_FOUND, "no such part").into_response();
    };
    let name = p
        .filename
        .clone()
        .unwrap_or_else(|| format!("part-{}", p.number));
    let mut res = Response::new(Body::from(p.body.clone()));
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&safe_type(&p.mime_type)) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src 'self'; sandbox"),
    );
    if q.get("download").is_some_and(|v| v == "1") {
        h.insert(header::CONTENT_DISPOSITION, attachment(&name));
    }
    res
}

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266), the plain name reduced to ASCII.
fn attachment(name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let v = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        page::seg(name)
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

async fn raw(
    State(st): State<AppState>,
    UrlPath((s, set, n)): UrlPath<(usize, String, usize)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ws = st.current();
    let here = match lookup(&ws, s, &set, n) {
        Ok(h) => h,
        Err(r) => return *r,
    };
    let Ok(m) = &here.record.message else {
        return (StatusCode::NOT_FOUND, "this record has no message").into_response();
    };
    let mut res = Response::new(Body::from(m.bytes.clone()));
    let h = res.headers_mut();
    if q.get("download").is_some_and(|v| v == "1") {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("message/rfc822"),
        );
        h.insert(
            header::CONTENT_DISPOSITION,
            attachment(&format!("{}.eml", m.key)),
        );
    } else {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    res
}

/// A file of a spec's roots (its folder and template roots), as plain text: for reading a
/// template or data file next to its message. Anything else is refused: an absolute path, `..`,
/// or a symlink that leads out of the roots.
async fn file(
    State(st): State<AppState>,
    UrlPath((s, path)): UrlPath<(usize, String)>,
) -> Response {
    let ws = st.current();
    let Some(entry) = ws.specs.get(s) else {
        return missing(&ws, "There is no such spec.");
    };
    let roots: Vec<PathBuf> = entry.roots.clone();
    let found = crate::template::resolve_confined(&roots, &path);
    let real = match found {
        Ok(Some(p)) if p.is_file() => p,
        Ok(_) => return missing(&ws, "There is no such file in this spec's folders."),
        Err(crate::template::Confine(why)) => {
            return (
                StatusCode::FORBIDDEN,
                format!(
                    "refused: {why}: the preview serves only files inside the spec's folders\n"
                ),
            )
                .into_response();
        }
    };
    match tokio::fs::read(&real).await {
        Ok(bytes) => {
            let mut res = Response::new(Body::from(bytes));
            let h = res.headers_mut();
            // Shown as text whatever it is: an HTML template must not run as a page here.
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            );
            res
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read: {e}\n"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_hosts() {
        for ok in [
            "localhost",
            "localhost:8080",
            "LOCALHOST:1",
            "127.0.0.1",
            "127.0.0.1:3000",
            "[::1]",
            "[::1]:3000",
        ] {
            assert!(is_local_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "127.0.0.2",
            "[::2]:1",
            "localhost:",
            "localhost:80x",
            "[::1",
            "",
            "0.0.0.0:80",
        ] {
            assert!(!is_local_host(bad), "{bad}");
        }
    }

    #[test]
    fn risky_types_are_served_as_text() {
        assert_eq!(safe_type("text/html"), "text/plain; charset=utf-8");
        assert_eq!(
            safe_type("application/xhtml+xml"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(safe_type("image/svg+xml"), "image/svg+xml");
        assert_eq!(safe_type("image/png"), "image/png");
        assert_eq!(safe_type("text/calendar"), "text/calendar; charset=utf-8");
    }
}
