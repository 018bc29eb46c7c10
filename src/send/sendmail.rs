//! `--sendmail [PATH]`: hands each message to a sendmail-compatible program (Postfix, Exim,
//! msmtp, OpenSMTPD all provide one).
//!
//! The argument list is `-i -fSENDER -- RCPT...`: `-i` so a line holding a lone `.` does not
//! end the message; the sender attached to `-f` in one argument, so it is that option's value
//! whatever it starts with (getopt reads the rest of `-f...` as the value; a parser whose `-f`
//! takes an optional value would only look there too); and `--` so that a recipient such as
//! `-oQ/tmp@example.com`, a valid address (RFC 5322 `atext` allows a leading `-`), can never be
//! read as an option (PHPMailer's CVE-2016-10033 came from the opposite choice). No shell is
//! involved: each address is one argument, spaces and quotes included.
//!
//! The message goes to standard input with local line ends (LF): that is the sendmail
//! interface (Postfix, for one, would otherwise keep a CR at the end of every line).
//! Exit status 0 is success; 75 (`EX_TEMPFAIL`, sysexits.h) is "try later"; anything else
//! fails the message. A program still running at the time limit is killed, and the message
//! is `unknown` (it may have queued it).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::Outgoing;
use super::smtp::TxOutcome;

/// The argument list for one message. The null reverse-path is `<>` (RFC 5321 §4.5.5), which
/// Postfix, Exim and sendmail read as the empty sender.
pub fn args(mail_from: &str, rcpts: &[String]) -> Vec<String> {
    let sender = if mail_from.is_empty() {
        "<>"
    } else {
        mail_from
    };
    let mut a = vec!["-i".to_string(), format!("-f{sender}"), "--".to_string()];
    a.extend(rcpts.iter().cloned());
    a
}

/// CRLF to LF.
pub fn local_line_ends(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Runs the program for one message.
pub async fn send(program: &Path, timeout: Duration, m: &Outgoing, rcpts: &[String]) -> TxOutcome {
    let mut child = match Command::new(program)
        .args(args(&m.mail_from, rcpts))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return TxOutcome::Lost(format!("cannot run `{}`: {e}", program.display())),
    };
    let body = local_line_ends(&m.bytes);
    let mut stdin = child.stdin.take();
    let run = async {
        if let Some(s) = stdin.as_mut() {
            s.write_all(&body).await?;
            s.shutdown().await?;
        }
        drop(stdin);
        child.wait_with_output().await
    };
    match tokio::time::timeout(timeout, run).await {
        Err(_) => TxOutcome::Unknown(format!(
            "`{}` did not finish within {timeout:?}; it may have queued the message",
            program.display()
        )),
        Ok(Err(e)) => TxOutcome::Unknown(format!("`{}`: {e}", program.display())),
        Ok(Ok(out)) => {
            let err = String::from_utf8_lossy(&out.stderr);
            let err = super::reply::describe(0, [0; 3], err.trim());
            let err = err.trim_start_matches('0').trim();
            let detail = if err.is_empty() {
                String::new()
            } else {
                format!(": {err}")
            };
            match out.status.code() {
                Some(0) => TxOutcome::Done {
                    reply: format!("`{}` exited 0", program.display()),
                    accepted: rcpts.to_vec(),
                    rejected: Vec::new(),
                    deferred: Vec::new(),
                },
                Some(75) => TxOutcome::Refused {
                    reply: format!("`{}` exited 75 (try later){detail}", program.display()),
                    permanent: false,
                    rejected: Vec::new(),
                },
                Some(c) => TxOutcome::Refused {
                    reply: format!("`{}` exited {c}{detail}", program.display()),
                    permanent: true,
                    rejected: Vec::new(),
                },
                None => {
                    TxOutcome::Unknown(format!("`{}` was killed by a signal", program.display()))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_never_an_option() {
        let a = args(
            "-oQ/x@x.org",
            &["-oQ/tmp@example.com".into(), "b@x.org".into()],
        );
        assert_eq!(
            a,
            [
                "-i",
                "-f-oQ/x@x.org",
                "--",
                "-oQ/tmp@example.com",
                "b@x.org"
            ]
        );
        assert_eq!(args("", &["a@x".into()])[1], "-f<>");
    }

    #[test]
    fn line_ends() {
        assert_eq!(local_line_ends(b"a\r\nb\r\n\r\n"), b"a\nb\n\n");
    }
}
