//! Where and how fast to send: the `--smtp` URL, `--rate`, durations and the `--journal`
//! location, parsed into plain values. Nothing here touches the network.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: plaintext, then STARTTLS (RFC 3207), which the server must offer.
    StartTls,
    /// `smtps://`: TLS from the first byte (RFC 8314 §3.3).
    Implicit,
    /// `smtp+plain://`: no TLS at all; loopback hosts only.
    Plain,
}

/// A parsed `--smtp` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    /// The protection.
    pub security: Security,
    /// Host name or IP address (without brackets).
    pub host: String,
    /// Port: given, or 587 (`smtp://`, RFC 6409), 465 (`smtps://`), 25 (`smtp+plain://`).
    pub port: u16,
    /// The user for AUTH, when the URL names one (`smtp://user@host`). Never a password.
    pub user: Option<String>,
}

/// Parses `smtp://[user@]host[:port]`, `smtps://...`, `smtp+plain://...`.
///
/// # Errors
/// A message saying what is wrong: unknown scheme, a password in the URL (secrets come from an
/// environment variable or a file, never from the command line, where `ps` shows them),
/// plaintext to a host that is not loopback, a bad port.
pub fn parse_smtp_url(s: &str) -> Result<SmtpUrl, String> {
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| format!("`{s}` is not a URL like smtp://host:587"))?;
    let security = match scheme.to_ascii_lowercase().as_str() {
        "smtp" => Security::StartTls,
        "smtps" => Security::Implicit,
        "smtp+plain" => Security::Plain,
        other => {
            return Err(format!(
                "unknown scheme `{other}`: use smtp:// (STARTTLS), smtps:// (TLS) or smtp+plain:// (loopback only)"
            ));
        }
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains(['/', '?', '#']) {
        return Err(format!("`{s}`: an SMTP URL has no path or query"));
    }
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => {
            if u.contains(':') {
                return Err(
                    "the URL holds a password: give it with --password-env or --password-file, never on the command line"
                        .into(),
                );
            }
            (Some(percent_decode(u)?), h)
        }
        None => (None, rest),
    };
    let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
        let (h, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("`{s}`: unclosed `[`"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("`{s}`: expected `:port` after `]`"))?,
            ),
        };
        (h.to_string(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("`{s}` names no host"));
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("`{p}` is not a port number"))?,
        None => match security {
            Security::StartTls => 587,
            Security::Implicit => 465,
            Security::Plain => 25,
        },
    };
    if security == Security::Plain && !is_loopback(&host) {
        return Err(format!(
            "smtp+plain:// sends messages and passwords unencrypted and is only allowed to a loopback host (127.0.0.1, ::1, localhost), not `{host}`: use smtp:// (STARTTLS) or smtps://"
        ));
    }
    Ok(SmtpUrl {
        security,
        host,
        port,
        user: user.filter(|u| !u.is_empty()),
    })
}

/// `localhost`, 127.0.0.0/8, `::1`.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad %-escape in `{s}`"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{s}` is not UTF-8 once decoded"))
}

/// A sending rate: `per` messages every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Messages...
    pub per: u32,
    /// ...per this long.
    pub every: Duration,
}

impl Rate {
    /// The time between two message starts.
    pub fn interval(&self) -> Duration {
        self.every / self.per.max(1)
    }
}

/// Parses `50/s`, `600/m`, `10000/h`, `100000/d`.
///
/// # Errors
/// A message saying what is wrong.
pub fn parse_rate(s: &str) -> Result<Rate, String> {
    let (n, unit) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not a rate like 50/s or 10000/h"))?;
    let per: u32 = n
        .trim()
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("`{n}` is not a positive number of messages"))?;
    let every = match unit.trim() {
        "s" => Duration::from_secs(1),
        "m" | "min" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        "d" => Duration::from_secs(86400),
        u => return Err(format!("`{u}` is not a unit: use s, m, h or d")),
    };
    Ok(Rate { per, every })
}

/// Parses `30s`, `500ms`, `2m`, `1h`, or plain seconds.
///
/// # Errors
/// A message saying what is wrong.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 30s, 500ms or 2m"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" | "min" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(format!("`{s}` is not a duration like 30s, 500ms or 2m")),
    };
    Ok(d)
}

/// Where the journal lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalLocation {
    /// A SQLite file (one process at a time).
    Sqlite {
        /// The file.
        path: PathBuf,
        /// Every commit is fsynced (`synchronous=FULL`, the default): an acknowledged entry
        /// survives a power loss. `?sync=normal` (`synchronous=NORMAL`) still survives the
        /// process being killed, not the machine losing power, and costs no fsync per commit.
        full_sync: bool,
    },
    /// A PostgreSQL database shared by several workers (a `postgres://` URL or a libpq
    /// `key=value` string).
    Postgres(String),
    /// No journal: nothing is remembered between runs (`--journal none`).
    None,
}

/// Parses `sqlite:PATH[?sync=normal]`, `postgres://...`, `postgresql://...`, `none`, or a bare
/// path (SQLite).
///
/// # Errors
/// An empty location.
pub fn parse_journal(s: &str) -> Result<JournalLocation, String> {
    if s.is_empty() {
        return Err("empty --journal".into());
    }
    if s == "none" {
        return Ok(JournalLocation::None);
    }
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        return Ok(JournalLocation::Postgres(s.to_string()));
    }
    let path = s.strip_prefix("sqlite:").unwrap_or(s);
    let path = path.strip_prefix("//").unwrap_or(path);
    let (path, full_sync) = match path.rsplit_once("?sync=") {
        Some((p, "full")) => (p, true),
        Some((p, "normal")) => (p, false),
        Some((_, other)) => {
            return Err(format!(
                "`sync={other}`: use sync=full (the default) or sync=normal"
            ));
        }
        None => (path, true),
    };
    if path.is_empty() {
        return Err("`sqlite:` needs a path".into());
    }
    Ok(JournalLocation::Sqlite {
        path: PathBuf::from(path),
        full_sync,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_smtp_url("smtp://ada%40x@mail.example.com").expect("ok");
        assert_eq!(u.security, Security::StartTls);
        assert_eq!(u.port, 587);
        assert_eq!(u.user.as_deref(), Some("ada@x"));
        assert_eq!(u.host, "mail.example.com");
        let u = parse_smtp_url("smtps://[::1]:2465").expect("ok");
        assert_eq!((u.host.as_str(), u.port), ("::1", 2465));
        assert!(parse_smtp_url("smtp+plain://127.0.0.1:2525").is_ok());
        assert!(parse_smtp_url("smtp+plain://localhost").is_ok());
        let e = parse_smtp_url("smtp+plain://mail.example.com:25").expect_err("refused");
        assert!(e.contains("loopback"), "{e}");
        assert!(parse_smtp_url("smtp+plain://10.0.0.1").is_err());
        assert!(
            parse_smtp_url("smtp://u:secret@h")
                .expect_err("password")
                .contains("password")
        );
        assert!(parse_smtp_url("http://h").is_err());
        assert!(parse_smtp_url("smtp://h:0").is_err());
        assert!(parse_smtp_url("smtp://h:99999").is_err());
    }

    #[test]
    fn rates_and_durations() {
        assert_eq!(
            parse_rate("50/s").expect("ok").interval(),
            Duration::from_millis(20)
        );
        assert_eq!(
            parse_rate("10000/h").expect("ok").interval(),
            Duration::from_millis(360)
        );
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("5/y").is_err());
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("x").is_err());
    }

    #[test]
    fn journals() {
        assert_eq!(
            parse_journal("sqlite:out/j.db"),
            Ok(JournalLocation::Sqlite {
                path: "out/j.db".into(),
                full_sync: true
            })
        );
        assert_eq!(
            parse_journal("j.db?sync=normal"),
            Ok(JournalLocation::Sqlite {
                path: "j.db".into(),
                full_sync: false
            })
        );
        assert!(parse_journal("j.db?sync=off").is_err());
        assert_eq!(parse_journal("none"), Ok(JournalLocation::None));
        assert!(matches!(
            parse_journal("postgres://u@h/db"),
            Ok(JournalLocation::Postgres(_))
        ));
    }
}
