//! The message as a whole: header fields, date, ids, the envelope, then the emitter.

use chrono::{DateTime, FixedOffset};

use super::{EmittedMessage, Envelope, Renderer};
use crate::diag::Code;
use crate::error::Error;
use crate::mime::{self, AddrSpec, Mailbox};
use crate::plan::{IdsPlan, Keyed, Text};

/// The addresses of a message, rendered.
struct People {
    from: Vec<Mailbox>,
    sender: Vec<Mailbox>,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    bcc: Vec<Mailbox>,
    reply_to: Vec<Mailbox>,
}

impl Renderer<'_> {
    pub(super) fn build(&mut self, key: &str) -> Option<EmittedMessage> {
        let p = self.plan;
        let people = People {
            from: self.mailboxes(&p.from),
            sender: self.mailboxes(&p.sender),
            to: self.mailboxes(&p.to),
            cc: self.mailboxes(&p.cc),
            bcc: self.mailboxes(&p.bcc),
            reply_to: self.mailboxes(&p.reply_to),
        };
        self.authors(&people);
        let subject = self.eval(&p.subject, true);
        let in_reply_to = self.ids(&p.in_reply_to);
        let references = self.ids(&p.references);
        let mut extra = Vec::new();
        for (name, value) in &p.headers {
            if let Some(v) = self.eval(value, true) {
                extra.push((name.clone(), v));
            }
        }
        let date = self.date();
        let domain = match &p.message_id_domain {
            Some(d) => d.clone(),
            None => people
                .from
                .first()
                .map(|f| f.addr.domain.clone())
                .unwrap_or_else(|| "localhost".into()),
        };
        let seed = mime::ident::stable_hash(&[b"mailspec/1", p.name.as_bytes(), key.as_bytes()]);
        let message_id = mime::ident::message_id(&seed, &domain);
        self.cids = p
            .cids
            .iter()
            .map(|name| (name.clone(), mime::ident::content_id(&seed, name, &domain)))
            .collect();
        self.repeated_cids(&seed, &domain);
        let list_headers = self.list_headers();
        let body = self.body();
        let envelope = self.envelope(&people);
        if !self.errors.is_empty() {
            return None;
        }
        let msg = mime::Message {
            from: people.from,
            sender: people.sender.into_iter().next(),
            to: people.to,
            cc: people.cc,
            reply_to: people.reply_to,
            subject,
            date: date?,
            message_id,
            in_reply_to,
            references,
            extra_headers: extra,
            list_headers,
            smtputf8: p.smtputf8,
            body: body?,
        };
        self.emit(key, msg, envelope?, &seed)
    }

    /// RFC 5322 §3.6.2: at least one author; several need one Sender.
    fn authors(&mut self, people: &People) {
        if people.from.is_empty() && self.errors.is_empty() {
            self.fail(
                Error::new(Code::DataAddress, "`from` rendered to no address").at("message.from"),
            );
        }
        if people.from.len() > 1 && people.sender.is_empty() {
            self.fail(
                Error::new(
                    Code::DataAddress,
                    "several `from` addresses need a `sender`",
                )
                .at("message.from"),
            );
        }
        if people.sender.len() > 1 {
            self.fail(
                Error::new(Code::DataAddress, "`sender` must be one address").at("message.sender"),
            );
        }
    }

    /// Message ids for In-Reply-To / References, with or without `<>`, several per value.
    fn ids(&mut self, values: &[IdsPlan]) -> Vec<String> {
        let mut out = Vec::new();
        for v in values {
            let (items, key, field): (Vec<(String, Option<String>)>, &str, _) = match v {
                IdsPlan::Text(t) => {
                    let Some(r) = self.eval(t, true) else {
                        continue;
                    };
                    let items = r
                        .split_whitespace()
                        .map(|s| (s.to_string(), None))
                        .collect();
                    (items, &t.key, Self::field_of(t))
                }
                IdsPlan::FromList(f) => (self.list_items(f), &f.key, None),
            };
            for (id, path) in items {
                let id = id.trim().trim_start_matches('<').trim_end_matches('>');
                if id.is_empty() {
                    continue;
                }
                if mime::parse_addr_spec(id, false).is_err() {
                    self.fail(
                        Error::new(Code::DataType, format!("`{id}` is not a valid message id"))
                            .field(path.or_else(|| field.clone()))
                            .at(key),
                    );
                } else {
                    out.push(id.to_string());
                }
            }
        }
        out
    }

    /// The string elements of a list field, each with its dotted path (`refs.2`).
    fn list_items(&mut self, f: &Keyed<String>) -> Vec<(String, Option<String>)> {
        let items = match self.record.get(&f.value) {
            Some(serde_json::Value::Array(a)) => a,
            _ => return Vec::new(),
        };
        let mut out = Vec::new();
        for (i, v) in items.iter().enumerate() {
            let path = format!("{}.{i}", f.value);
            match v.as_str() {
                Some(s) => out.push((s.to_string(), Some(path))),
                None => self.fail(
                    Error::new(Code::DataType, format!("`{path}` is not text"))
                        .field(Some(path))
                        .at(&f.key),
                ),
            }
        }
        out
    }

    fn date(&mut self) -> Option<DateTime<FixedOffset>> {
        let Some(d) = &self.plan.date else {
            if self.opts.date.is_none() {
                self.fail(Error::new(Code::DataType, "no date: the spec has no `date` and none was given (`--date` or `SOURCE_DATE_EPOCH`)").at("message.date"));
            }
            return self.opts.date;
        };
        let s = self.eval(d, true)?;
        match DateTime::parse_from_rfc3339(s.trim()) {
            Ok(d) => Some(d),
            Err(_) => {
                self.fail(
                    Error::new(
                        Code::DataType,
                        format!("`{s}` is not an RFC 3339 date and time"),
                    )
                    .field(Self::field_of(d))
                    .at(&d.key),
                );
                None
            }
        }
    }

    /// RFC 5321 §4.1.1.2 reverse-path and §4.1.1.3 forward-paths: `envelope.from`, else the
    /// Sender, else the first From; `envelope.to`, else To + Cc + Bcc, without duplicates.
    fn envelope(&mut self, people: &People) -> Option<(Option<AddrSpec>, Vec<AddrSpec>)> {
        let env = &self.plan.envelope;
        let from = match &env.from {
            Some(f) => self.return_path(f)?,
            None => people
                .sender
                .first()
                .or(people.from.first())
                .map(|m| m.addr.clone()),
        };
        let rcpt: Vec<AddrSpec> = match &env.to {
            Some(list) => self.mailboxes(list).into_iter().map(|m| m.addr).collect(),
            None => people
                .to
                .iter()
                .chain(&people.cc)
                .chain(&people.bcc)
                .map(|m| m.addr.clone())
                .collect(),
        };
        let mut unique: Vec<AddrSpec> = Vec::new();
        for a in rcpt {
            if !unique
                .iter()
                .any(|b| b.to_string().eq_ignore_ascii_case(&a.to_string()))
            {
                unique.push(a);
            }
        }
        if unique.is_empty() && self.errors.is_empty() {
            self.fail(
                Error::new(Code::DataAddress, "the message has no recipients").at("message.to"),
            );
        }
        Some((from, unique))
    }

    /// `envelope.from` rendered: an address, or empty for the null reverse-path `<>`.
    fn return_path(&mut self, f: &Keyed<Text>) -> Option<Option<AddrSpec>> {
        let s = self.eval(f, true)?;
        let s = s.trim().trim_start_matches('<').trim_end_matches('>');
        if s.is_empty() {
            return Some(None);
        }
        match mime::parse_addr_spec(s, self.plan.smtputf8) {
            Ok(a) => Some(Some(a)),
            Err(e) => {
                self.fail(
                    Error::new(
                        Code::DataAddress,
                        format!("`{s}` is not a valid return path: {e}"),
                    )
                    .field(Self::field_of(f))
                    .at(&f.key),
                );
                None
            }
        }
    }

    fn emit(
        &mut self,
        key: &str,
        msg: mime::Message,
        (from, to): (Option<AddrSpec>, Vec<AddrSpec>),
        seed: &[u8],
    ) -> Option<EmittedMessage> {
        let mime::Emitted { bytes, shared } = match mime::emit_shared(&msg, seed) {
            Ok(e) => e,
            Err(e) => {
                self.fail(Error::new(Code::MimeEmit, e.to_string()));
                return None;
            }
        };
        if bytes.len() as u64 > self.opts.max_message {
            self.fail(Error::new(
                Code::DataLimit,
                format!(
                    "the message is {} bytes, more than the limit of {}",
                    bytes.len(),
                    self.opts.max_message
                ),
            ));
            return None;
        }
        Some(EmittedMessage {
            key: key.to_string(),
            message_id: msg.message_id,
            envelope: Envelope {
                from,
                to,
                smtputf8: msg.smtputf8 && !bytes.is_ascii(),
            },
            date: msg.date,
            bytes,
            shared,
        })
    }
}
