//! `message.class`, `unsubscribe`, `list_id`, `feedback_id`, `inline_css`, `derive_text` and
//! `dkim`: what makes the message welcome in an inbox (see [`crate::deliver`]).

use super::Checker;
use crate::deliver::{dkim, list};
use crate::diag::{Code, Diagnostic};
use crate::plan::{DeliverPlan, DkimPlan, Text, UnsubscribePlan};
use crate::spec::model::{AddressItem, MessageClass, MessageSpec};
use crate::template::{Flavor, Templates};

/// A spec name as a DNS label and Feedback-ID field: lower case, letters, digits and hyphens.
fn label_of(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    if out.is_empty() {
        "mail".to_string()
    } else {
        out.chars().take(63).collect()
    }
}

/// `Description <id>` or a bare id.
fn split_list_id(s: &str) -> (Option<&str>, &str) {
    let s = s.trim();
    match (s.rfind('<'), s.strip_suffix('>')) {
        (Some(i), Some(_)) => {
            let d = s[..i].trim().trim_matches('"').trim();
            ((!d.is_empty()).then_some(d), &s[i + 1..s.len() - 1])
        }
        _ => (None, s),
    }
}

impl Checker<'_> {
    /// The domain of the first `From` address, when it is written literally.
    fn literal_from_domain(&self, m: &MessageSpec) -> Option<String> {
        let items = m.from.items("/message/from");
        let (_, first) = items.first()?;
        match first {
            AddressItem::Text(s) if !Templates::is_template(s) => {
                crate::mime::parse_mailbox_list(s, true)
                    .ok()?
                    .first()
                    .map(|mb| mb.addr.domain.to_ascii_lowercase())
            }
            AddressItem::Parts(p) if !Templates::is_template(&p.email) => {
                crate::mime::parse_addr_spec(&p.email, true)
                    .ok()
                    .map(|a| a.domain.to_ascii_lowercase())
            }
            _ => None,
        }
    }

    pub(super) fn deliver(&mut self, m: &MessageSpec) -> DeliverPlan {
        let bulk = m.class == Some(MessageClass::Bulk);
        let from_domain = self.literal_from_domain(m);
        let domain = from_domain
            .clone()
            .or_else(|| m.message_id.as_ref().map(|i| i.domain.to_ascii_lowercase()));
        let unsubscribe = self.unsubscribe(m, bulk);
        let list_id = self.list_id(m, bulk, domain.as_deref());
        let feedback_id = match &m.feedback_id {
            Some(f) => {
                let t = self.text("/message/feedback_id", f, Flavor::Text);
                if let Text::Literal(s) = &t.value
                    && let Err(e) = list::check_feedback_id(s)
                {
                    self.err_value(
                        Code::SpecListHeader,
                        "/message/feedback_id",
                        e.0,
                        "invalid Feedback-ID",
                    );
                }
                Some(t)
            }
            None if bulk => domain.as_deref().map(|d| crate::plan::Keyed {
                key: "message.feedback_id".into(),
                value: Text::Literal(format!("{}:{d}", label_of(&self.c.name))),
            }),
            None => None,
        };
        let dkim = self.dkim(from_domain.as_deref());
        DeliverPlan {
            class: m.class,
            unsubscribe,
            list_id,
            feedback_id,
            inline_css: m.inline_css.unwrap_or(true),
            derive_text: m.derive_text.unwrap_or(true),
            dkim,
        }
    }

    fn unsubscribe(&mut self, m: &MessageSpec, bulk: bool) -> Option<UnsubscribePlan> {
        let Some(u) = &m.unsubscribe else {
            if bulk {
                self.err_value(
                    Code::SpecUnsubscribe,
                    "/message/class",
                    "a bulk spec needs `message.unsubscribe`: Gmail and Yahoo require one-click \
                     unsubscribe of bulk senders (RFC 8058)"
                        .into(),
                    "bulk mail without unsubscribe",
                )
                .help
                .push("add `unsubscribe: { url: \"{{ unsubscribe_url }}\" }` with an https URL per recipient".into());
            }
            return None;
        };
        if !bulk {
            self.err_key(
                Code::SpecUnsubscribe,
                "/message/unsubscribe",
                "`unsubscribe` is for bulk mail: the spec does not say `class: bulk`".into(),
                "needs `class: bulk`",
            )
            .help
            .push("add `class: bulk` to `message`".into());
        }
        let url = self.text("/message/unsubscribe/url", &u.url, Flavor::Text);
        if let Text::Literal(s) = &url.value {
            if let Err(e) = list::check_https(s) {
                self.err_value(
                    Code::SpecUnsubscribe,
                    "/message/unsubscribe/url",
                    e.0,
                    "not a one-click URL",
                );
            } else {
                self.push(
                    Diagnostic::warning(
                        Code::SpecUnsubscribe,
                        "the unsubscribe URL is the same for every recipient",
                    )
                    .at(
                        self.c.file,
                        self.c.map.value_span("/message/unsubscribe/url"),
                    )
                    .label("no record field")
                    .help("one-click unsubscribe must identify the recipient (RFC 8058 §3.1): use a field such as `{{ unsubscribe_url }}`"),
                );
            }
        }
        let mailto = u.mailto.as_ref().map(|s| {
            let t = self.text("/message/unsubscribe/mailto", s, Flavor::Text);
            if let Text::Literal(s) = &t.value
                && let Err(e) = list::check_mailto(s)
            {
                self.err_value(
                    Code::SpecUnsubscribe,
                    "/message/unsubscribe/mailto",
                    e.0,
                    "not a mailto: URL",
                );
            }
            t
        });
        Some(UnsubscribePlan { url, mailto })
    }

    fn list_id(&mut self, m: &MessageSpec, bulk: bool, domain: Option<&str>) -> Option<String> {
        let Some(given) = &m.list_id else {
            if !bulk {
                return None;
            }
            let Some(domain) = domain else {
                self.err_value(
                    Code::SpecListHeader,
                    "/message/class",
                    "a bulk spec whose From is a template needs `message.list_id`".into(),
                    "no List-Id domain",
                )
                .help
                .push("add `list_id: \"Newsletter <newsletter.example.com>\"` on a domain you control".into());
                return None;
            };
            let id = format!("{}.{domain}", label_of(&self.c.name));
            return list::list_id(None, &id).ok();
        };
        if !bulk {
            self.err_key(
                Code::SpecUnsubscribe,
                "/message/list_id",
                "`list_id` is for bulk mail: the spec does not say `class: bulk`".into(),
                "needs `class: bulk`",
            );
        }
        let (description, id) = split_list_id(given);
        match list::list_id(description, id) {
            Ok(field) => Some(field),
            Err(e) => {
                self.err_value(
                    Code::SpecListHeader,
                    "/message/list_id",
                    e.0,
                    "invalid List-Id",
                );
                None
            }
        }
    }

    fn dkim(&mut self, from_domain: Option<&str>) -> Option<DkimPlan> {
        let d = self.c.spec.dkim.clone()?;
        let before = self.out.len();
        let domain = d.domain.trim_end_matches('.').to_ascii_lowercase();
        if !dkim::is_dns_name(&domain) || !domain.contains('.') {
            self.err_value(
                Code::SpecDkim,
                "/dkim/domain",
                format!(
                    "`{}` is not a domain name (write an IDN as its `xn--` form)",
                    d.domain
                ),
                "not a domain",
            );
        }
        if !dkim::is_dns_name(&d.selector) {
            self.err_value(
                Code::SpecDkim,
                "/dkim/selector",
                format!(
                    "`{}` is not a DKIM selector: letters, digits, hyphens and dots (RFC 6376 §3.1)",
                    d.selector
                ),
                "not a selector",
            );
        }
        let key = self.c.dir.join(&d.key);
        if self.out.len() == before {
            match dkim::read_key_file(&key) {
                Ok(pem) => {
                    if let Err(e) = dkim::Signer::new(&domain, &d.selector, &pem) {
                        self.err_value(Code::SpecDkim, "/dkim/key", e.to_string(), "no usable key");
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                    self.err_value(
                        Code::SpecDkim,
                        "/dkim/key",
                        format!("`{}` is {e}", d.key),
                        "not a key file",
                    );
                }
                // The key may live only on the machine that signs: not an error here.
                Err(_) => {
                    self.push(
                        Diagnostic::warning(
                            Code::SpecDkim,
                            format!("the DKIM key file `{}` is not here", d.key),
                        )
                        .at(self.c.file, self.c.map.value_span("/dkim/key"))
                        .label("not found")
                        .help("`render --dkim` needs it, or `--dkim-key FILE`"),
                    );
                }
            }
        }
        if let Some(from) = from_domain
            && !dkim::aligned(&domain, from)
        {
            self.push(
                Diagnostic::warning(
                    Code::SpecDkimAlignment,
                    format!(
                        "the DKIM domain `{domain}` does not align with the From domain `{from}`"
                    ),
                )
                .at(self.c.file, self.c.map.value_span("/dkim/domain"))
                .label("not the From domain")
                .help(format!(
                    "DMARC passes on DKIM only when `d=` is `{from}`, a parent or a sub-domain of it (relaxed alignment, RFC 7489 §3.1.1); Gmail and Yahoo require that of bulk senders"
                )),
            );
        }
        Some(DkimPlan {
            domain,
            selector: d.selector,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_list_ids() {
        assert_eq!(label_of("Order Confirmation!"), "order-confirmation");
        assert_eq!(label_of("--"), "mail");
        assert_eq!(
            split_list_id("Olivo newsletter <newsletter.olivo.example>"),
            (Some("Olivo newsletter"), "newsletter.olivo.example")
        );
        assert_eq!(
            split_list_id("\"Olivo\" <n.olivo.example>"),
            (Some("Olivo"), "n.olivo.example")
        );
        assert_eq!(split_list_id("n.olivo.example"), (None, "n.olivo.example"));
    }
}
