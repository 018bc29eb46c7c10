//! `send --rendered DIR`: the messages an earlier `render --out DIR` wrote, read back with
//! their envelopes (one line each in the folder's `envelopes.jsonl`, [`crate::sink::INDEX`]),
//! each checked against the SHA-256 recorded when it was rendered. The batch a reviewer looked
//! at is the batch that goes out: a `.eml` changed since is refused, never sent.

use std::path::Path;

use super::{Outcome, Outgoing, Status};
use crate::mime::address::parse_addr_spec;
use crate::sink::{INDEX, sha256_hex};

/// One line of the index, with where it came from (for messages).
#[derive(Debug, Clone)]
pub struct Listed {
    /// `DIR/envelopes.jsonl:LINE`.
    pub origin: String,
    /// The line's text.
    pub line: String,
}

/// The index lines of `dir`, in record order (so runs and workers go in the same order).
///
/// # Errors
/// The index cannot be read (a folder no render wrote has none).
pub fn list(dir: &Path) -> std::io::Result<Vec<Listed>> {
    let path = dir.join(INDEX);
    let text = std::fs::read_to_string(&path)?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| Listed {
            origin: format!("{}:{}", path.display(), i + 1),
            line: l.to_string(),
        })
        .collect())
}

/// Reads one message of `dir`: `Ok` to send, or the refusal to report.
pub fn read(index: usize, dir: &Path, listed: &Listed) -> Result<Outgoing, Box<Outcome>> {
    let name = &listed.origin;
    let refuse = |key: Option<String>, message_id: Option<String>, why: String| {
        Box::new(Outcome {
            index,
            key,
            message_id,
            status: Status::Error,
            reason: Some(why),
            ..Outcome::default()
        })
    };
    let v: serde_json::Value = serde_json::from_str(&listed.line)
        .map_err(|e| refuse(None, None, format!("{name}: not JSON: {e}")))?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let key = s("key");
    let message_id = s("message_id");
    let (Some(k), Some(mid), Some(sha), Some(file)) =
        (key.clone(), message_id.clone(), s("sha256"), s("file"))
    else {
        return Err(refuse(
            key,
            message_id,
            format!("{name}: needs `file`, `key`, `message_id` and `sha256`"),
        ));
    };
    // A plain file name in the folder: the index is data, not a place to trust paths.
    if file.contains(['/', '\\']) || file.starts_with('.') || !file.ends_with(".eml") {
        return Err(refuse(
            key,
            message_id,
            format!("{name}: `file` must be a `.eml` name in the folder, not `{file}`"),
        ));
    }
    let smtputf8 = v.get("smtputf8").and_then(|x| x.as_bool()).unwrap_or(false);
    // The envelope is not covered by the digest, so it is parsed again as strictly as the
    // renderer parses addresses: nothing that is not an addr-spec reaches a command line.
    let addr = |a: &str| {
        parse_addr_spec(a, smtputf8)
            .map(|a| a.to_string())
            .map_err(|e| format!("{name}: envelope address `{a}`: {e}"))
    };
    let mail_from = match s("mail_from").as_deref() {
        None | Some("") => String::new(),
        Some(a) => addr(a).map_err(|e| refuse(key.clone(), message_id.clone(), e))?,
    };
    let mut rcpt_to = Vec::new();
    for r in v
        .get("rcpt_to")
        .and_then(|x| x.as_array())
        .into_iter()
        .flatten()
    {
        let a = r.as_str().ok_or_else(|| {
            refuse(
                key.clone(),
                message_id.clone(),
                format!("{name}: `rcpt_to` holds a non-string"),
            )
        })?;
        rcpt_to.push(addr(a).map_err(|e| refuse(key.clone(), message_id.clone(), e))?);
    }
    if rcpt_to.is_empty() {
        return Err(refuse(key, message_id, format!("{name}: no recipient")));
    }
    let eml = dir.join(&file);
    let bytes = std::fs::read(&eml).map_err(|e| {
        refuse(
            key.clone(),
            message_id.clone(),
            format!("{}: {e}", eml.display()),
        )
    })?;
    let actual = sha256_hex(&bytes);
    if !actual.eq_ignore_ascii_case(&sha) {
        return Err(refuse(
            key,
            message_id,
            format!(
                "{}: changed since it was rendered (sha256 {actual}, rendered {sha}); render again to send it",
                eml.display()
            ),
        ));
    }
    Ok(Outgoing {
        index,
        key: k,
        message_id: mid,
        mail_from,
        rcpt_to,
        smtputf8,
        bytes,
    })
}
