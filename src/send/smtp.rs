//! One SMTP connection: connect, greeting, EHLO, STARTTLS, AUTH, then any number of mail
//! transactions, on top of mail-send's `SmtpClient` (command writing, reply parsing, AUTH).
//!
//! mailspec opens the TCP socket itself, so it can bind `--source-address`, set TCP_NODELAY
//! (without it every command waits for the peer's delayed ACK, about 40 ms) and time out the
//! greeting, which mail-send waits for forever. Every read and write has a deadline: a server
//! that never answers, trickles one byte a second or stalls the TLS handshake costs at most
//! one timeout, and a reply is at most 4 KiB (smtp-proto's limit), so no server can hang or
//! exhaust mailspec.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use mail_send::SmtpClient;
use mail_send::smtp::AssertReply;
use smtp_proto::{
    AUTH_LOGIN, AUTH_PLAIN, AUTH_XOAUTH2, EXT_8BIT_MIME, EXT_PIPELINING, EXT_SIZE, EXT_SMTP_UTF8,
    EXT_START_TLS, EhloResponse, Response,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::journal::Durable;
use super::reply::{self, Class};
use super::target::{Security, SmtpUrl};
use super::{Outgoing, Secret};

/// Time limits (RFC 5321 §4.5.3.2 gives servers' minimum patience; these are the client's).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP connect.
    pub connect: Duration,
    /// The 220 greeting (RFC 5321 §4.5.3.2.1 suggests 5 min; mail-send waits forever).
    pub greeting: Duration,
    /// Each command and its reply, the TLS handshake, and writing the message.
    pub command: Duration,
    /// The reply to the final `.` (RFC 5321 §4.5.3.2.6: 10 min), when the server may be
    /// scanning the message.
    pub data_end: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            greeting: Duration::from_secs(60),
            command: Duration::from_secs(60),
            data_end: Duration::from_secs(600),
        }
    }
}

/// An AUTH mechanism mailspec speaks (RFC 4954). CRAM-MD5 and DIGEST-MD5 are left out on
/// purpose: the secret only ever travels inside TLS (or on loopback), where they add nothing,
/// and DIGEST-MD5 is historic (RFC 6331).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 4616: user and password in one base64 line.
    Plain,
    /// The de facto LOGIN exchange: user, then password, each answering a 334 challenge.
    Login,
    /// Google's and Microsoft's XOAUTH2: `user=U^Aauth=Bearer TOKEN^A^A`; the secret is an
    /// OAuth 2 access token.
    XOauth2,
}

impl Mechanism {
    /// `plain`, `login` or `xoauth2`, any case.
    ///
    /// # Errors
    /// Any other name.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "plain" => Ok(Mechanism::Plain),
            "login" => Ok(Mechanism::Login),
            "xoauth2" => Ok(Mechanism::XOauth2),
            _ => Err(format!(
                "`{s}` is not an AUTH mechanism mailspec speaks: plain, login or xoauth2"
            )),
        }
    }

    /// The name in EHLO and AUTH.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::XOauth2 => "XOAUTH2",
        }
    }

    fn bit(self) -> u64 {
        match self {
            Mechanism::Plain => AUTH_PLAIN,
            Mechanism::Login => AUTH_LOGIN,
            Mechanism::XOauth2 => AUTH_XOAUTH2,
        }
    }

    /// The mechanism to use: the one asked for, else PLAIN, else LOGIN (a password is never
    /// tried as a token, nor a token as a password).
    fn choose(asked: Option<Mechanism>, offered: u64) -> Result<Mechanism, String> {
        let candidates: &[Mechanism] = match asked {
            Some(m) => &[m][..],
            None => &[Mechanism::Plain, Mechanism::Login],
        };
        candidates
            .iter()
            .copied()
            .find(|m| offered & m.bit() != 0)
            .ok_or_else(|| match asked {
                Some(m) => format!("the server does not offer AUTH {}", m.name()),
                None => "the server offers neither AUTH PLAIN nor LOGIN (for a token, use --auth xoauth2)".to_string(),
            })
    }
}

/// How to authenticate (RFC 4954).
#[derive(Clone)]
pub struct Auth {
    /// The user name.
    pub user: String,
    /// The password, or an OAuth 2 access token with XOAUTH2.
    pub secret: Secret,
    /// The mechanism (`--auth`); `None`: PLAIN if offered, else LOGIN.
    pub mechanism: Option<Mechanism>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("user", &self.user)
            .field("mechanism", &self.mechanism)
            .finish_non_exhaustive()
    }
}

/// Everything needed to open a connection.
#[derive(Clone)]
pub struct SmtpConfig {
    /// Server and protection.
    pub url: SmtpUrl,
    /// The TLS client configuration (certificate verification included).
    pub tls: Arc<rustls::ClientConfig>,
    /// AUTH, when a user is given.
    pub auth: Option<Auth>,
    /// The EHLO name (`--helo`); default: the local address as an address literal.
    pub helo: Option<String>,
    /// The local address to connect from.
    pub source_address: Option<IpAddr>,
    /// Time limits.
    pub timeouts: Timeouts,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("url", &self.url)
            .field("auth", &self.auth)
            .field("helo", &self.helo)
            .finish_non_exhaustive()
    }
}

/// Builds the TLS configuration: the system's trusted roots plus, with `--tls-ca`, the
/// certificates in that PEM file. Uses ring explicitly: a process-wide default provider is
/// never needed, so a second provider elsewhere in the build cannot make rustls panic.
///
/// # Errors
/// An unreadable or empty CA file, or no usable root store.
pub fn tls_config(extra_ca: Option<&std::path::Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut extra = Vec::new();
    if let Some(p) = extra_ca {
        let certs = CertificateDer::pem_file_iter(p)
            .map_err(|e| format!("cannot read --tls-ca `{}`: {e}", p.display()))?;
        for c in certs {
            extra.push(c.map_err(|e| format!("--tls-ca `{}`: {e}", p.display()))?);
        }
        if extra.is_empty() {
            return Err(format!(
                "--tls-ca `{}` holds no PEM certificate",
                p.display()
            ));
        }
    }
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
            .map_err(|e| format!("cannot load trusted certificates: {e}"))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A TCP stream, before or after TLS.
pub enum Stream {
    /// Plaintext.
    Plain(TcpStream),
    /// TLS.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Why a connection could not be opened or used.
#[derive(Debug, Clone)]
pub struct ConnError {
    /// Retrying cannot help (no STARTTLS, a bad certificate, credentials refused, a 5xx
    /// greeting): the whole run stops rather than fail every message the same way.
    pub fatal: bool,
    /// What happened, for people.
    pub message: String,
}

impl ConnError {
    fn transient(message: impl Into<String>) -> Self {
        ConnError {
            fatal: false,
            message: message.into(),
        }
    }
    fn fatal(message: impl Into<String>) -> Self {
        ConnError {
            fatal: true,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The extensions that change how a message is sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caps {
    /// RFC 2920.
    pub pipelining: bool,
    /// RFC 6531.
    pub smtputf8: bool,
    /// RFC 6152.
    pub eightbit: bool,
    /// RFC 1870: the largest message, 0 when not said.
    pub size: usize,
}

impl Caps {
    fn from_ehlo(e: &EhloResponse<String>) -> Self {
        Caps {
            pipelining: e.has_capability(EXT_PIPELINING),
            smtputf8: e.has_capability(EXT_SMTP_UTF8),
            eightbit: e.has_capability(EXT_8BIT_MIME),
            size: if e.has_capability(EXT_SIZE) {
                e.size
            } else {
                0
            },
        }
    }
}

fn reply_text(r: &Response<String>) -> String {
    reply::describe(r.code, r.esc, &r.message)
}

fn mail_error(what: &str, e: mail_send::Error) -> ConnError {
    match e {
        mail_send::Error::UnexpectedReply(r) => {
            let text = format!("{what}: {}", reply_text(&r));
            if reply::classify(r.code) == Class::Permanent {
                ConnError::fatal(text)
            } else {
                ConnError::transient(text)
            }
        }
        mail_send::Error::AuthenticationFailed(r) => {
            let text = format!("{what}: authentication failed: {}", reply_text(&r));
            if reply::classify(r.code) == Class::Transient {
                ConnError::transient(text)
            } else {
                ConnError::fatal(text)
            }
        }
        mail_send::Error::Tls(t) => ConnError::fatal(format!("{what}: TLS: {t}")),
        mail_send::Error::Io(io) => tls_or_io(what, io),
        mail_send::Error::UnsupportedAuthMechanism => ConnError::fatal(format!(
            "{what}: the server offers none of the AUTH mechanisms mailspec can use (PLAIN, LOGIN, XOAUTH2)"
        )),
        other => ConnError::transient(format!("{what}: {other}")),
    }
}

/// An I/O error from the TLS handshake carries a rustls error when the certificate was bad:
/// that one is fatal (retrying will meet the same certificate).
fn tls_or_io(what: &str, e: io::Error) -> ConnError {
    let text = format!("{what}: {e}");
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some();
    if tls {
        ConnError::fatal(text)
    } else {
        ConnError::transient(text)
    }
}

/// What happened to one message on one connection.
#[derive(Debug, Clone)]
pub enum TxOutcome {
    /// The server took the message (250 to the final `.`) for the recipients in `accepted`;
    /// the others were refused at RCPT.
    Done {
        /// The reply to the final `.`.
        reply: String,
        /// Recipients the server took.
        accepted: Vec<String>,
        /// Recipients refused with 5xx, with the reply.
        rejected: Vec<(String, String)>,
        /// Recipients refused with 4xx, with the reply.
        deferred: Vec<(String, String)>,
    },
    /// No recipient was taken, or MAIL FROM or DATA or the final `.` was refused: nothing was
    /// delivered. `permanent` for 5xx.
    Refused {
        /// The reply that decided it.
        reply: String,
        /// 5xx (or a local refusal that retrying cannot fix).
        permanent: bool,
        /// Recipients refused with 5xx at RCPT, with the reply.
        rejected: Vec<(String, String)>,
    },
    /// The connection failed before the final `.` was written: nothing was delivered, the
    /// message can be sent again.
    Lost(String),
    /// The connection failed after the final `.` was written and before the reply: the
    /// server may have delivered it.
    Unknown(String),
}

/// A connection ready for mail transactions.
pub struct Connection {
    client: SmtpClient<Stream>,
    /// The server's extensions (after STARTTLS, the ones it announced then: RFC 3207 §4.2).
    pub caps: Caps,
    timeouts: Timeouts,
    /// A transaction was left unfinished: RSET before the next (RFC 5321 §4.1.1.5).
    dirty: bool,
}

/// AUTH (RFC 4954) with one mechanism: mail-send picks among the ones the EHLO reply lists,
/// so it is shown only the chosen one.
async fn authenticate(
    client: &mut SmtpClient<Stream>,
    auth: &Auth,
    ehlo: &EhloResponse<String>,
    host: &str,
    port: u16,
) -> Result<(), ConnError> {
    if ehlo.auth_mechanisms == 0 {
        return Err(ConnError::fatal(format!(
            "{host}:{port} does not offer AUTH (RFC 4954), but a user was given"
        )));
    }
    let mechanism = Mechanism::choose(auth.mechanism, ehlo.auth_mechanisms)
        .map_err(|e| ConnError::fatal(format!("{host}:{port}: {e}")))?;
    let username = auth.user.clone();
    let secret = auth.secret.expose().to_string();
    let creds = match mechanism {
        Mechanism::XOauth2 => mail_send::Credentials::XOauth2 { username, secret },
        Mechanism::Plain | Mechanism::Login => mail_send::Credentials::Plain { username, secret },
    };
    let mut only = ehlo.clone();
    only.auth_mechanisms = mechanism.bit();
    client
        .authenticate(&creds, &only)
        .await
        .map_err(|e| mail_error(&format!("AUTH {}", mechanism.name()), e))?;
    Ok(())
}

async fn within<T>(
    d: Duration,
    what: &str,
    f: impl Future<Output = Result<T, ConnError>>,
) -> Result<T, ConnError> {
    tokio::time::timeout(d, f)
        .await
        .map_err(|_| ConnError::transient(format!("{what}: no answer within {d:?}")))?
}

impl Connection {
    /// Connects, reads the greeting, says EHLO, does STARTTLS and AUTH as configured.
    ///
    /// # Errors
    /// See [`ConnError`]; `fatal` when retrying cannot help.
    pub async fn open(cfg: &SmtpConfig) -> Result<Self, ConnError> {
        let t = cfg.timeouts;
        let host = cfg.url.host.clone();
        let port = cfg.url.port;
        let tcp = within(t.connect, "connect", async {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|e| ConnError::transient(format!("cannot resolve `{host}`: {e}")))?
                .filter(|a| match cfg.source_address {
                    Some(src) => src.is_ipv4() == a.is_ipv4(),
                    None => true,
                })
                .collect();
            let mut last = ConnError::transient(format!("`{host}` has no usable address"));
            for addr in addrs {
                let socket = if addr.is_ipv4() {
                    TcpSocket::new_v4()
                } else {
                    TcpSocket::new_v6()
                }
                .map_err(|e| ConnError::transient(format!("socket: {e}")))?;
                if let Some(src) = cfg.source_address {
                    socket.bind(SocketAddr::new(src, 0)).map_err(|e| {
                        ConnError::fatal(format!("cannot bind --source-address {src}: {e}"))
                    })?;
                }
                match socket.connect(addr).await {
                    Ok(s) => return Ok(s),
                    Err(e) => last = ConnError::transient(format!("connect to {addr}: {e}")),
                }
            }
            Err(last)
        })
        .await?;
        // Commands are small writes each waiting for a reply: Nagle plus delayed ACKs would
        // add tens of milliseconds to every one.
        tcp.set_nodelay(true)
            .map_err(|e| ConnError::transient(format!("TCP_NODELAY: {e}")))?;
        let local = tcp.local_addr().ok();
        let connector = TlsConnector::from(cfg.tls.clone());
        let server_name = rustls_pki_types::ServerName::try_from(host.clone())
            .map_err(|_| ConnError::fatal(format!("`{host}` is not a valid TLS server name")))?;

        let stream = match cfg.url.security {
            Security::Implicit => {
                let tls = within(t.command, "TLS handshake", async {
                    connector
                        .connect(server_name.clone(), tcp)
                        .await
                        .map_err(|e| tls_or_io("TLS handshake", e))
                })
                .await?;
                Stream::Tls(Box::new(tls))
            }
            _ => Stream::Plain(tcp),
        };
        let mut client = SmtpClient {
            stream,
            timeout: t.command,
        };
        // RFC 5321 §3.1: the server speaks first. mail-send's `read` has no deadline of its own.
        let greeting = within(t.greeting, "greeting", async {
            client.read().await.map_err(|e| mail_error("greeting", e))
        })
        .await?;
        match reply::classify(greeting.code) {
            Class::Ok if greeting.code == 220 => {}
            Class::Permanent => {
                return Err(ConnError::fatal(format!(
                    "greeting: {}",
                    reply_text(&greeting)
                )));
            }
            _ => {
                return Err(ConnError::transient(format!(
                    "greeting: {}",
                    reply_text(&greeting)
                )));
            }
        }
        // RFC 5321 §4.1.4: the EHLO argument is the client's FQDN or, without one, its
        // address as a literal.
        let helo = cfg.helo.clone().unwrap_or_else(|| match local {
            Some(SocketAddr::V4(a)) => format!("[{}]", a.ip()),
            Some(SocketAddr::V6(a)) => format!("[IPv6:{}]", a.ip()),
            None => "localhost".into(),
        });
        let mut ehlo = client
            .ehlo(&helo)
            .await
            .map_err(|e| mail_error("EHLO", e))?;

        if cfg.url.security == Security::StartTls {
            if !ehlo.has_capability(EXT_START_TLS) {
                return Err(ConnError::fatal(format!(
                    "{host}:{port} does not offer STARTTLS, which smtp:// requires (RFC 3207); use smtps:// for TLS from the start, or smtp+plain:// for a loopback test server"
                )));
            }
            client
                .cmd(b"STARTTLS\r\n")
                .await
                .and_then(|r| r.assert_positive_completion())
                .map_err(|e| mail_error("STARTTLS", e))?;
            let Stream::Plain(tcp) = client.stream else {
                return Err(ConnError::fatal("STARTTLS on a TLS stream"));
            };
            let tls = within(t.command, "TLS handshake", async {
                connector
                    .connect(server_name, tcp)
                    .await
                    .map_err(|e| tls_or_io("TLS handshake", e))
            })
            .await?;
            client = SmtpClient {
                stream: Stream::Tls(Box::new(tls)),
                timeout: t.command,
            };
            // RFC 3207 §4.2: forget what was learnt before TLS and ask again.
            ehlo = client
                .ehlo(&helo)
                .await
                .map_err(|e| mail_error("EHLO after STARTTLS", e))?;
        }

        if let Some(auth) = &cfg.auth {
            authenticate(&mut client, auth, &ehlo, &host, port).await?;
        }
        Ok(Connection {
            client,
            caps: Caps::from_ehlo(&ehlo),
            timeouts: t,
            dirty: false,
        })
    }

    /// Sends one message to `rcpts` (a subset of its envelope on a retry).
    ///
    /// Refuses locally, before any command, a message that needs an extension the server
    /// lacks: SMTPUTF8 (RFC 6531 has no downgrade: UTF-8 addresses have no ASCII form),
    /// 8BITMIME for 8-bit content (RFC 6152; `send SPEC` renders such a message 7-bit for a
    /// server without it, see [`probe`], so this only meets bytes that cannot change), or
    /// larger than its SIZE (RFC 1870).
    ///
    /// The message and its final `.` are written only once `durable` resolves (the journal's
    /// claim is committed): MAIL, RCPT and DATA go while the commit runs.
    pub async fn send(
        &mut self,
        m: &Outgoing,
        rcpts: &[String],
        durable: &mut Durable,
    ) -> TxOutcome {
        let eight_bit = !m.bytes.is_ascii();
        if reply::has_bare_line_end(&m.bytes) {
            return TxOutcome::Refused {
                reply: "not sent: the message has a CR or LF outside a CRLF pair, which SMTP cannot carry unchanged (RFC 5321 §2.3.8)".into(),
                permanent: true,
                rejected: Vec::new(),
            };
        }
        if m.smtputf8 && !self.caps.smtputf8 {
            return TxOutcome::Refused {
                reply: "not sent: the message needs SMTPUTF8 (UTF-8 addresses or headers) and the server does not offer it; RFC 6531 has no downgrade".into(),
                permanent: true,
                rejected: Vec::new(),
            };
        }
        // RFC 6531 §3.1: a server offering SMTPUTF8 must offer 8BITMIME too, so one that
        // takes this message takes its 8-bit content.
        if eight_bit && !self.caps.eightbit && !m.smtputf8 {
            return TxOutcome::Refused {
                reply: "not sent: the message has 8-bit content and the server does not offer 8BITMIME (RFC 6152); bytes sent as rendered (--rendered) cannot be re-encoded: send the spec, which renders 7-bit for such a server".into(),
                permanent: true,
                rejected: Vec::new(),
            };
        }
        if self.caps.size > 0 && m.bytes.len() > self.caps.size {
            return TxOutcome::Refused {
                reply: format!(
                    "not sent: {} bytes is over the server's SIZE limit of {} (RFC 1870)",
                    m.bytes.len(),
                    self.caps.size
                ),
                permanent: true,
                rejected: Vec::new(),
            };
        }
        if self.dirty {
            match self.client.cmd(b"RSET\r\n").await {
                Ok(r) if r.code == 250 => self.dirty = false,
                Ok(r) => return TxOutcome::Lost(format!("RSET: {}", reply_text(&r))),
                Err(e) => return TxOutcome::Lost(format!("RSET: {e}")),
            }
        }

        let mut mail = format!("MAIL FROM:<{}>", m.mail_from);
        if m.smtputf8 {
            mail.push_str(" SMTPUTF8");
        }
        if eight_bit && self.caps.eightbit {
            mail.push_str(" BODY=8BITMIME");
        }
        if self.caps.size > 0 {
            mail.push_str(&format!(" SIZE={}", m.bytes.len()));
        }
        mail.push_str("\r\n");
        let rcpt_cmds: Vec<String> = rcpts.iter().map(|r| format!("RCPT TO:<{r}>\r\n")).collect();
        self.dirty = true;

        // RFC 2920: with PIPELINING, MAIL, every RCPT and DATA go in one write and the replies
        // are read together; DATA is last in the group (§3.1).
        let (mail_reply, rcpt_replies, data_reply) = if self.caps.pipelining {
            // One write (one packet, one TLS record) for the whole group.
            let mut group = mail.clone().into_bytes();
            for c in &rcpt_cmds {
                group.extend_from_slice(c.as_bytes());
            }
            group.extend_from_slice(b"DATA\r\n");
            let expected = rcpts.len() + 2;
            let client = &mut self.client;
            let replies = tokio::time::timeout(self.timeouts.command, async {
                client.stream.write_all(&group).await?;
                client.stream.flush().await?;
                client.read_many(expected).await
            })
            .await;
            let mut replies = match replies {
                Ok(Ok(r)) if r.len() == expected => r,
                Ok(Ok(_)) => return TxOutcome::Lost("pipelined replies missing".into()),
                Ok(Err(e)) => return TxOutcome::Lost(format!("MAIL/RCPT/DATA: {e}")),
                Err(_) => {
                    return TxOutcome::Lost(format!(
                        "MAIL/RCPT/DATA: no answer within {:?}",
                        self.timeouts.command
                    ));
                }
            };
            let data = replies.pop();
            let mut it = replies.into_iter();
            let mail = it.next();
            (mail, it.collect::<Vec<_>>(), data)
        } else {
            let mail_reply = match self.client.cmd(mail.as_bytes()).await {
                Ok(r) => r,
                Err(e) => return TxOutcome::Lost(format!("MAIL FROM: {e}")),
            };
            let mut rcpt_replies = Vec::new();
            if reply::classify(mail_reply.code) == Class::Ok {
                for c in &rcpt_cmds {
                    match self.client.cmd(c.as_bytes()).await {
                        Ok(r) => rcpt_replies.push(r),
                        Err(e) => return TxOutcome::Lost(format!("RCPT TO: {e}")),
                    }
                }
            }
            let any = rcpt_replies
                .iter()
                .any(|r| reply::classify(r.code) == Class::Ok);
            let data_reply = if any {
                match self.client.cmd(b"DATA\r\n").await {
                    Ok(r) => Some(r),
                    Err(e) => return TxOutcome::Lost(format!("DATA: {e}")),
                }
            } else {
                None
            };
            (Some(mail_reply), rcpt_replies, data_reply)
        };

        let Some(mail_reply) = mail_reply else {
            return TxOutcome::Lost("no reply to MAIL FROM".into());
        };
        match reply::classify(mail_reply.code) {
            Class::Ok => {}
            Class::Transient | Class::Permanent => {
                if data_reply.as_ref().is_some_and(|r| r.code == 354) {
                    // A server that opens DATA after refusing MAIL: the transaction cannot
                    // be ended cleanly, so the connection is dropped.
                    return TxOutcome::Lost("server opened DATA after refusing MAIL FROM".into());
                }
                return TxOutcome::Refused {
                    reply: format!("MAIL FROM: {}", reply_text(&mail_reply)),
                    permanent: reply::classify(mail_reply.code) == Class::Permanent,
                    rejected: Vec::new(),
                };
            }
            _ => {
                return TxOutcome::Lost(format!(
                    "unexpected reply to MAIL FROM: {}",
                    reply_text(&mail_reply)
                ));
            }
        }
        let mut accepted = Vec::new();
        let mut rejected = Vec::new();
        let mut deferred = Vec::new();
        for (r, reply) in rcpts.iter().zip(&rcpt_replies) {
            match reply::classify(reply.code) {
                Class::Ok => accepted.push(r.clone()),
                Class::Permanent => rejected.push((r.clone(), reply_text(reply))),
                Class::Transient => deferred.push((r.clone(), reply_text(reply))),
                _ => {
                    return TxOutcome::Lost(format!(
                        "unexpected reply to RCPT TO: {}",
                        reply_text(reply)
                    ));
                }
            }
        }
        if accepted.is_empty() {
            if data_reply.as_ref().is_some_and(|r| r.code == 354) {
                return TxOutcome::Lost("server opened DATA with no accepted recipient".into());
            }
            let (reply, permanent) = match (rejected.first(), deferred.first()) {
                (_, Some((r, text))) => (format!("RCPT TO:<{r}>: {text}"), false),
                (Some((r, text)), None) => (format!("RCPT TO:<{r}>: {text}"), true),
                (None, None) => ("no recipient".into(), true),
            };
            return TxOutcome::Refused {
                reply,
                permanent,
                rejected,
            };
        }
        let Some(data_reply) = data_reply else {
            return TxOutcome::Lost("no reply to DATA".into());
        };
        if data_reply.code != 354 {
            // RFC 5321 §4.3.2: DATA is answered 354. A server that says 250 here before any
            // data was sent is lying or broken; nothing can have been delivered.
            return match reply::classify(data_reply.code) {
                c @ (Class::Transient | Class::Permanent) => TxOutcome::Refused {
                    reply: format!("DATA: {}", reply_text(&data_reply)),
                    permanent: c == Class::Permanent,
                    rejected,
                },
                _ => TxOutcome::Lost(format!(
                    "unexpected reply to DATA: {}",
                    reply_text(&data_reply)
                )),
            };
        }

        if let Err(e) = durable.wait().await {
            // Dropping the connection before the final `.` aborts the transaction: the server
            // discards what it got (RFC 5321 §4.1.1.4).
            return TxOutcome::Lost(format!("not sent: {e}"));
        }
        // One write for the message and its end marker: mail-send's `write_message` writes a
        // chunk per stuffed dot and always adds CRLF . CRLF, which would add an empty line.
        let wire = reply::data_bytes(&m.bytes);
        let t = self.timeouts;
        let write = tokio::time::timeout(t.command, async {
            self.client.stream.write_all(&wire).await?;
            self.client.stream.flush().await
        })
        .await;
        match write {
            Ok(Ok(())) => {}
            // The final `.` did not leave: the server cannot have taken the message.
            Ok(Err(e)) => return TxOutcome::Lost(format!("writing the message: {e}")),
            Err(_) => {
                return TxOutcome::Lost(format!(
                    "writing the message: not done within {:?}",
                    t.command
                ));
            }
        }
        // From here on the server may have the whole message: any failure is "unknown".
        let end = tokio::time::timeout(t.data_end, self.client.read()).await;
        let end = match end {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return TxOutcome::Unknown(format!("after the final `.`: {e}")),
            Err(_) => {
                return TxOutcome::Unknown(format!(
                    "no reply to the final `.` within {:?}",
                    t.data_end
                ));
            }
        };
        self.dirty = false;
        match reply::classify(end.code) {
            Class::Ok => TxOutcome::Done {
                reply: reply_text(&end),
                accepted,
                rejected,
                deferred,
            },
            c @ (Class::Transient | Class::Permanent) => TxOutcome::Refused {
                reply: format!("end of data: {}", reply_text(&end)),
                permanent: c == Class::Permanent,
                rejected,
            },
            _ => TxOutcome::Unknown(format!(
                "unexpected reply to the final `.`: {}",
                reply_text(&end)
            )),
        }
    }

    /// Says QUIT and closes, without waiting long for an answer.
    pub async fn quit(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.cmd(b"QUIT\r\n")).await;
        let _ = tokio::time::timeout(Duration::from_secs(1), self.client.stream.shutdown()).await;
    }
}

/// Connects as a run would (TLS and AUTH included), reads the server's extensions and says
/// QUIT: `send SPEC` asks before rendering a spec that wants 8-bit parts, and renders them
/// 7-bit when the server lacks 8BITMIME (RFC 6152; issue 11).
///
/// # Errors
/// The connection could not be opened; see [`ConnError`].
pub async fn probe(cfg: &SmtpConfig) -> Result<Caps, ConnError> {
    let c = Connection::open(cfg).await?;
    let caps = c.caps;
    c.quit().await;
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mechanism_is_the_one_asked_for_else_plain_else_login() {
        let all = AUTH_PLAIN | AUTH_LOGIN | AUTH_XOAUTH2;
        let cases: [(Option<Mechanism>, u64, Result<Mechanism, &str>); 6] = [
            (None, all, Ok(Mechanism::Plain)),
            (None, AUTH_LOGIN | AUTH_XOAUTH2, Ok(Mechanism::Login)),
            (None, AUTH_XOAUTH2, Err("use --auth xoauth2")),
            (Some(Mechanism::Login), all, Ok(Mechanism::Login)),
            (Some(Mechanism::XOauth2), all, Ok(Mechanism::XOauth2)),
            (
                Some(Mechanism::XOauth2),
                AUTH_PLAIN,
                Err("does not offer AUTH XOAUTH2"),
            ),
        ];
        for (asked, offered, want) in cases {
            match (Mechanism::choose(asked, offered), want) {
                (Ok(m), Ok(w)) => assert_eq!(m, w, "{asked:?}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{asked:?}: {e}"),
                (got, w) => panic!("{asked:?}: {got:?}, expected {w:?}"),
            }
        }
        assert_eq!(Mechanism::parse("XOAuth2"), Ok(Mechanism::XOauth2));
        assert!(Mechanism::parse("cram-md5").is_err());
    }
}
