//! `send --rendered DIR`: the messages an earlier `render --out DIR` wrote, read back with
//! their envelopes (`KEY.envelope.json`), each checked against the SHA-256 recorded when it
//! was rendered. The batch a reviewer looked at is the batch that goes out: a `.eml` changed
//! since is refused, never sent.

use std::path::{Path, PathBuf};

use sha2::Digest;

use super::{Outcome, Outgoing, Status};
use crate::mime::address::parse_addr_spec;

/// The sidecar files in `dir`, sorted by name (so runs and workers go in the same order).
///
/// # Errors
/// The directory cannot be read.
pub fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".envelope.json"))
        {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Reads one message: `Ok` to send, or the refusal to report.
pub fn read(index: usize, sidecar: &Path) -> Result<Outgoing, Box<Outcome>> {
    let name = sidecar.display().to_string();
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
    let text = std::fs::read(sidecar).map_err(|e| refuse(None, None, format!("{name}: {e}")))?;
    let v: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| refuse(None, None, format!("{name}: not JSON: {e}")))?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let key = s("key");
    let message_id = s("message_id");
    let (Some(k), Some(mid), Some(sha)) = (key.clone(), message_id.clone(), s("sha256")) else {
        return Err(refuse(
            key,
            message_id,
            format!("{name}: needs `key`, `message_id` and `sha256`"),
        ));
    };
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
    let stem = name.trim_end_matches(".envelope.json");
    let eml = PathBuf::from(format!("{stem}.eml"));
    let bytes = std::fs::read(&eml).map_err(|e| {
        refuse(
            key.clone(),
            message_id.clone(),
            format!("{}: {e}", eml.display()),
        )
    })?;
    let actual: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
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
