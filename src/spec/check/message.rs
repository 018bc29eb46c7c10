//! `message`: addresses, headers, ids, date, envelope; then the body (see `parts`).

use super::{Checker, escape};
use crate::diag::{Code, Diagnostic};
use crate::mime::EmitError;
use crate::plan::{AddressPlan, EnvelopePlan, IdsPlan, Keyed, Plan, Text, key_of};
use crate::spec::model::{
    AddressItem, Addresses, EnvelopeSpec, Field, FieldType, MessageIdSpec, MessageSpec,
    StringOrList,
};
use crate::template::{Flavor, Templates};

impl Checker<'_> {
    pub(super) fn message(&mut self) -> Plan {
        let m = self.c.spec.message.clone();
        let smtputf8 = m.smtputf8;
        let from = self.addresses("/message/from", &m.from, smtputf8);
        let optional = |this: &mut Self, key: &str, v: &Option<Addresses>| match v {
            Some(v) => this.addresses(&format!("/message/{key}"), v, smtputf8),
            None => Vec::new(),
        };
        let sender = optional(self, "sender", &m.sender);
        let to = optional(self, "to", &m.to);
        let cc = optional(self, "cc", &m.cc);
        let bcc = optional(self, "bcc", &m.bcc);
        let reply_to = optional(self, "reply_to", &m.reply_to);
        self.recipients_present(&m);
        let subject = self.text("/message/subject", &m.subject, Flavor::Text);
        let in_reply_to = self.ids("in_reply_to", m.in_reply_to.as_ref());
        let references = self.ids("references", m.references.as_ref());
        let headers = self.headers(&m);
        let date = m.date.as_deref().map(|d| self.date(d));
        if let Some(mid) = &m.message_id {
            self.message_id(mid);
        }
        let envelope = match &m.envelope {
            Some(e) => self.envelope(e, smtputf8),
            None => EnvelopePlan::default(),
        };
        let body = self.body(&m);
        let cids = crate::plan::declared_cids(&body);
        let deliver = self.deliver(&m);
        Plan {
            name: self.c.name.clone(),
            key_field: self.c.spec.data.key.clone(),
            fields: self.c.spec.data.fields.clone(),
            smtputf8,
            from,
            sender,
            to,
            cc,
            bcc,
            reply_to,
            subject,
            in_reply_to,
            references,
            headers,
            date,
            message_id_domain: m.message_id.as_ref().map(|m| m.domain.clone()),
            envelope,
            body,
            cids,
            deliver,
        }
    }

    fn recipients_present(&mut self, m: &MessageSpec) {
        if m.to.is_none()
            && m.cc.is_none()
            && m.bcc.is_none()
            && m.envelope.as_ref().and_then(|e| e.to.as_ref()).is_none()
        {
            let d = Diagnostic::error(Code::SchemaMissingKey, "the message has no recipients")
                .at(self.c.file, self.c.map.key_span("/message"))
                .label("add `to`, `cc`, `bcc` or `envelope.to`");
            self.push(d);
        }
    }

    fn addresses(&mut self, ptr: &str, a: &Addresses, smtputf8: bool) -> Vec<AddressPlan> {
        let mut out = Vec::new();
        for (p, item) in a.items(ptr) {
            match item {
                AddressItem::Text(s) if self.list_field(s).is_some() => {
                    out.extend(self.address_list_field(&p, s));
                }
                AddressItem::Text(s) => {
                    let literal = !Templates::is_template(s);
                    let fixed = literal
                        .then(|| crate::render::parse_marked(s, smtputf8).ok())
                        .flatten();
                    out.push(match fixed {
                        Some(list) => AddressPlan::Fixed(list),
                        None => AddressPlan::List(self.text(&p, s, Flavor::Address)),
                    });
                    if literal && let Err(e) = crate::mime::parse_mailbox_list(s, smtputf8) {
                        let fixed = matches!(e, crate::mime::AddressError::UnquotedComma(_))
                            .then(|| crate::mime::address::quote_display_name(s))
                            .flatten();
                        let d = self.err_value(
                            Code::SpecAddress,
                            &p,
                            format!("invalid address `{s}`: {e}"),
                            "invalid address",
                        );
                        if let Some(f) = fixed {
                            d.help.push(format!("quote the name: `{f}`"));
                        }
                    }
                }
                AddressItem::Parts(parts) => {
                    let name = parts
                        .name
                        .as_ref()
                        .map(|n| self.text(&format!("{p}/name"), n, Flavor::Text));
                    let email = self.text(&format!("{p}/email"), &parts.email, Flavor::Text);
                    if !Templates::is_template(&parts.email)
                        && let Err(e) = crate::mime::parse_addr_spec(&parts.email, smtputf8)
                    {
                        self.err_value(
                            Code::SpecAddress,
                            &format!("{p}/email"),
                            format!("invalid address `{}`: {e}", parts.email),
                            "invalid address",
                        );
                    }
                    out.push(AddressPlan::Parts { name, email });
                }
            }
        }
        out
    }

    /// The declared list field a value names exactly (`"{{ admins }}"`), if any.
    fn list_field(&self, s: &str) -> Option<(String, Field)> {
        let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
        let f = self.c.spec.data.fields.get(inner)?;
        (f.kind == FieldType::List).then(|| (inner.to_string(), f.clone()))
    }

    /// `"{{ admins }}"`: a list field whose elements are addresses (`email` or `string`
    /// items) or objects with `email` (and optionally `name`).
    fn address_list_field(&mut self, ptr: &str, s: &str) -> Option<AddressPlan> {
        let (name, f) = self.list_field(s)?;
        let items = f.items.as_deref();
        let ok = match items.map(|i| i.kind) {
            Some(FieldType::Email | FieldType::String) => true,
            Some(FieldType::Object) => items.and_then(|i| i.fields.as_ref()).is_some_and(|fs| {
                fs.get("email")
                    .is_some_and(|e| matches!(e.kind, FieldType::Email | FieldType::String))
                    && fs.get("name").is_none_or(|n| n.kind == FieldType::String)
            }),
            _ => false,
        };
        if !ok {
            self.err_value(
                Code::SpecAddress,
                ptr,
                format!("list field `{name}` cannot give addresses"),
                "needs `items` of type `email`, or objects with `email` (and `name`)",
            );
            return None;
        }
        Some(AddressPlan::FromList(Keyed {
            key: key_of(ptr),
            value: name,
        }))
    }

    /// `in_reply_to` / `references`: one template or a list of them, or a list field.
    fn ids(&mut self, key: &str, v: Option<&StringOrList>) -> Vec<IdsPlan> {
        let Some(v) = v else { return Vec::new() };
        let single = matches!(v, StringOrList::One(_));
        v.items()
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let p = if single {
                    format!("/message/{key}")
                } else {
                    format!("/message/{key}/{i}")
                };
                match self.list_field(s) {
                    Some((name, _)) => IdsPlan::FromList(Keyed {
                        key: key_of(&p),
                        value: name,
                    }),
                    None => IdsPlan::Text(self.text(&p, s, Flavor::Text)),
                }
            })
            .collect()
    }

    /// Custom headers. The rules are the emitter's own ([`crate::mime::header::check_custom_name`]),
    /// so a header accepted here is never refused when a message is written.
    fn headers(&mut self, m: &MessageSpec) -> Vec<(String, Keyed<Text>)> {
        let mut out = Vec::new();
        for (name, value) in &m.headers {
            let p = format!("/message/headers/{}", escape(name));
            match crate::mime::header::check_custom_name(name) {
                Err(EmitError::ReservedHeader(_)) => {
                    let hint = crate::mime::header::reserved_header(name).unwrap_or_default();
                    self.err_key(
                        Code::SpecHeader,
                        &p,
                        format!("header `{name}` cannot be set in `headers`"),
                        "reserved",
                    )
                    .help
                    .push(hint.to_string());
                }
                Err(_) => {
                    self.err_key(
                        Code::SpecHeader,
                        &p,
                        format!("`{name}` is not a valid header name"),
                        "1 to 76 printable ASCII characters without `:` or spaces (RFC 5322 §2.2)",
                    );
                }
                Ok(()) => {}
            }
            let v = self.text(&p, value, Flavor::Text);
            out.push((name.clone(), v));
        }
        out
    }

    fn date(&mut self, d: &str) -> Keyed<Text> {
        let t = self.text("/message/date", d, Flavor::Text);
        if !Templates::is_template(d) && chrono::DateTime::parse_from_rfc3339(d).is_err() {
            self.err_value(
                Code::SchemaValue,
                "/message/date",
                format!("`{d}` is not an RFC 3339 date and time"),
                "expected e.g. `2024-06-15T13:15:07+01:00` or `{{ order_date }}`",
            );
        }
        t
    }

    fn message_id(&mut self, mid: &MessageIdSpec) {
        if crate::mime::parse_addr_spec(&format!("x@{}", mid.domain), false).is_err() {
            self.err_value(
                Code::SpecAddress,
                "/message/message_id/domain",
                format!("`{}` is not a valid domain", mid.domain),
                "invalid domain",
            );
        }
    }

    fn envelope(&mut self, env: &EnvelopeSpec, smtputf8: bool) -> EnvelopePlan {
        let from = env.from.as_ref().map(|f| {
            let t = self.text("/message/envelope/from", f, Flavor::Text);
            if !Templates::is_template(f)
                && !f.is_empty()
                && let Err(e) = crate::mime::parse_addr_spec(f, smtputf8)
            {
                self.err_value(
                    Code::SpecAddress,
                    "/message/envelope/from",
                    format!("invalid return path `{f}`: {e}"),
                    "invalid address",
                );
            }
            t
        });
        let to = env
            .to
            .as_ref()
            .map(|to| self.addresses("/message/envelope/to", to, smtputf8));
        EnvelopePlan { from, to }
    }
}
