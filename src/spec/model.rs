//! The spec language as serde types.
//!
//! These types are the single source of truth: the JSON Schema in
//! `schema/mailspec.schema.json` is derived from them with `schemars`, and a
//! test fails when the checked-in file drifts. Doc comments become the schema's
//! descriptions, which editors show on hover, so they are written for spec
//! authors.
//!
//! Every struct denies unknown fields (`additionalProperties: false`), so a
//! misspelled key is always caught.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A mailspec message spec: one kind of email, its data bindings and its sample data.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mailspec message spec")]
pub struct Spec {
    /// Version of the spec language. Only `1` exists today.
    pub mailspec: u32,
    /// Short machine-friendly name of the message (defaults to the file name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What this message is for, for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Directories (relative to the spec) where templates, includes and layouts are looked up.
    /// Defaults to the spec's own directory. A template can never be read from outside these roots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<String>,
    /// The record fields this spec uses, their types, and sample data.
    #[serde(default)]
    pub data: DataSpec,
    /// The message: headers, envelope and body.
    pub message: MessageSpec,
    /// DKIM signing (RFC 6376): the signing domain, the selector and the path of the private
    /// key file, never the key itself. Messages are signed by `render --dkim` and by `send`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dkim: Option<DkimSpec>,
}

/// DKIM signing settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DkimSpec {
    /// The signing domain (`d=`); it should be the From domain or a parent of it (DMARC
    /// alignment), or check warns.
    pub domain: String,
    /// The selector (`s=`): the public key is published at `SELECTOR._domainkey.DOMAIN`.
    pub selector: String,
    /// The private key file (PEM: RSA, or Ed25519 for `ed25519-sha256`), relative to the spec's
    /// folder or absolute. Never the key itself.
    pub key: String,
}

/// What kind of mail a spec sends; it decides the headers that tell receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageClass {
    /// One message caused by something the recipient did (a receipt, a password reset):
    /// `Auto-Submitted: auto-generated` (RFC 3834 §5).
    Transactional,
    /// The same message to many (a newsletter, a promotion): needs `unsubscribe`; gets
    /// `List-Unsubscribe`, `List-Unsubscribe-Post` (RFC 8058), `List-Id` (RFC 2919),
    /// `Feedback-ID`, `Precedence: bulk` and `Auto-Submitted: auto-generated`.
    Bulk,
}

/// How a recipient unsubscribes (RFC 2369, RFC 8058).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsubscribeSpec {
    /// The one-click unsubscribe URL, per recipient: `https`, and it must accept a POST of
    /// `List-Unsubscribe=One-Click` (RFC 8058). A template.
    pub url: String,
    /// A `mailto:` alternative for clients without one-click. A template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailto: Option<String>,
}

/// Data bindings: which record fields the spec needs and of which type.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// The field that identifies a record. It names output files and seeds the Message-ID.
    /// When absent, records are identified by their 1-based position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The fields, by name, in the order they are documented.
    #[serde(default)]
    pub fields: IndexMap<String, Field>,
    /// Records used when no data file is given: a path to a CSV, JSON, JSONL or YAML file
    /// (relative to the spec), or a list of records written inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<Records>,
    /// Named sets of records that `mailspec test` renders and compares with snapshots.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub fixtures: IndexMap<String, Records>,
}

/// Records given either as a file path or inline.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Records {
    /// A path, relative to the spec, to a `.csv`, `.json`, `.jsonl` or `.yaml` file.
    File(String),
    /// Records written inline, one mapping each.
    Inline(Vec<serde_json::Map<String, serde_json::Value>>),
}

/// The type of a record field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Any text.
    String,
    /// One email address (`user@example.com`), checked strictly.
    Email,
    /// A whole number.
    Integer,
    /// A decimal number such as a price (`1234.56`); kept exact, never a float.
    Decimal,
    /// `true` or `false` (CSV also accepts `yes`/`no`, `1`/`0`).
    Boolean,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// An instant, RFC 3339 (`2024-06-15T13:15:07+01:00`).
    Datetime,
    /// An absolute `http` or `https` URL.
    Url,
    /// A list of values, each described by `items`.
    List,
    /// A nested record, described by `fields`.
    Object,
}

impl FieldType {
    /// The type's name as written in a spec (`string`, `list`...).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Email => "email",
            FieldType::Integer => "integer",
            FieldType::Decimal => "decimal",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
            FieldType::Url => "url",
            FieldType::List => "list",
            FieldType::Object => "object",
        }
    }
}

/// One record field.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// The field's type.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Whether a record must have this field. Defaults to `true` unless a `default` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// The value used when the record has no such field (makes the field optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// What the field holds, for humans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// For `list`: the type of each element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<Field>>,
    /// For `object`: its fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<IndexMap<String, Field>>,
    /// Largest accepted size: characters for text, elements for a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
}

/// One or more addresses: a string (`Name <user@example.com>`, or several separated by commas),
/// a mapping with `name` and `email`, or a list of either.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
//
// `Many` comes first: serde's untagged matching takes the first variant that fits, and a struct
// (`AddressParts`) also deserialises from a sequence, so `[a@x, b@x]` tried as `One` would
// become the name `a@x` of the address `b@x`.
#[serde(untagged)]
pub enum Addresses {
    /// Several addresses.
    Many(Vec<AddressItem>),
    /// One or more addresses in one string; may be a template.
    One(AddressItem),
}

impl Addresses {
    /// Each item with its JSON Pointer, given the pointer of the whole value.
    pub fn items(&self, ptr: &str) -> Vec<(String, &AddressItem)> {
        match self {
            Addresses::One(i) => vec![(ptr.to_string(), i)],
            Addresses::Many(v) => v
                .iter()
                .enumerate()
                .map(|(n, i)| (format!("{ptr}/{n}"), i))
                .collect(),
        }
    }
}

/// One address (or a comma-separated list in a string).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum AddressItem {
    /// `Name <user@example.com>` or `user@example.com`; may be a template. Values inserted by
    /// `{{ }}` are data: they can never add an address or change the structure.
    Text(String),
    /// A display name and an address, each a template.
    Parts(AddressParts),
}

/// A display name and an address given separately.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressParts {
    /// The display name (any text; encoded as needed). May be a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The address (`user@example.com`). May be a template.
    pub email: String,
}

/// The message: headers, envelope and body.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    /// Author (`From`). Required.
    pub from: Addresses,
    /// `Sender`, when the sender is not the author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Addresses>,
    /// Primary recipients (`To`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Addresses>,
    /// Copy recipients (`Cc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cc: Option<Addresses>,
    /// Blind copy recipients: added to the envelope only, never written into the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bcc: Option<Addresses>,
    /// Where replies go (`Reply-To`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Addresses>,
    /// The subject, a template.
    pub subject: String,
    /// Message-IDs this message replies to (`In-Reply-To`), each a template, with or without `<>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<StringOrList>,
    /// Message-IDs of the thread (`References`), each a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<StringOrList>,
    /// Extra header fields, written in the order given. Values are templates.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// How the Message-ID is made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageIdSpec>,
    /// Where the `Date` comes from: a template that renders an RFC 3339 instant, usually a
    /// `datetime` field (`"{{ order_date }}"`). When absent, `--date` or `SOURCE_DATE_EPOCH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The SMTP envelope. By default MAIL FROM is the `Sender` or first `From` address and
    /// RCPT TO is every To, Cc and Bcc address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<EnvelopeSpec>,
    /// Allow UTF-8 in addresses and headers (RFC 6531/6532). Off by default: non-ASCII local
    /// parts are then an error and non-ASCII text is encoded (RFC 2047).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub smtputf8: bool,
    /// Shorthand body: the plain-text part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Content>,
    /// Shorthand body: the HTML part (always autoescaped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<Content>,
    /// Shorthand body: images and other parts referenced from the HTML by `cid:`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inline: Vec<Part>,
    /// Shorthand body: attachments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Part>,
    /// Explicit part tree, for full control. Cannot be combined with `text`, `html`,
    /// `inline` or `attachments`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Part>,
    /// `transactional` or `bulk`: decides `Auto-Submitted`, `Precedence` and the list headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<MessageClass>,
    /// One-click unsubscribe (required for `class: bulk`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe: Option<UnsubscribeSpec>,
    /// The `List-Id` of a bulk spec (RFC 2919): `Description <label.domain>` or just
    /// `label.domain`. Default: the spec name under the From domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_id: Option<String>,
    /// `Feedback-ID` for Gmail's feedback loop: up to four `:`-separated fields, the sender
    /// last (`campaign:customer:type:sender`). A template. Default for bulk specs: the spec
    /// name and the From domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_id: Option<String>,
    /// Copy the CSS of `<style>` blocks into `style` attributes of HTML parts, keeping
    /// `@media` rules in a `<style>` block. Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_css: Option<bool>,
    /// Derive a `text/plain` alternative from each HTML part that has none: in the shorthand
    /// (`html` without `text`) and in a `body` tree. Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derive_text: Option<bool>,
}

/// A string or a list of strings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StringOrList {
    /// One value.
    One(String),
    /// Several values.
    Many(Vec<String>),
}

impl StringOrList {
    /// The values as a slice-like list.
    pub fn items(&self) -> Vec<&str> {
        match self {
            StringOrList::One(s) => vec![s.as_str()],
            StringOrList::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// How the Message-ID is made: `<hash(spec, record key)@domain>`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageIdSpec {
    /// The domain after `@`. Defaults to the domain of the first `From` address.
    pub domain: String,
}

/// The SMTP envelope.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSpec {
    /// The return path (MAIL FROM), a template rendering one address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The recipients (RCPT TO), replacing the default To + Cc + Bcc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Addresses>,
}

/// Where a text or HTML body comes from. Give exactly one of `template`, `content` or `file`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Content {
    /// A template file, relative to a template root; or a choice of templates by the value of
    /// a field (`{ by: locale, cases: { es-ES: news.es.html.j2 }, default: news.en.html.j2 }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateRef>,
    /// An inline template (use a YAML block scalar `|`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// A file sent as is (not a template), relative to the spec. The path may be a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The charset declared for the text. Only `utf-8` (the default) and `us-ascii` are written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
    /// Force a transfer encoding instead of choosing from the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_encoding: Option<TransferEncodingSpec>,
}

/// A MIME part: a multipart container (`multipart` + `parts`) or a leaf (`type` + one content source).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Part {
    /// Makes this part a container: `mixed`, `alternative`, `related`, or any multipart subtype.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<String>,
    /// The children of a multipart container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
    /// The media type of a leaf (`text/plain`, `image/png`, `message/rfc822`, ...).
    /// Defaults from the file name's extension.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Extra Content-Type parameters (`method: REQUEST` for `text/calendar`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub params: IndexMap<String, String>,
    /// A template file, relative to a template root, or a choice by the value of a field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateRef>,
    /// An inline template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// A file sent as is, relative to the spec. The path may be a template
    /// (`invoices/{{ order_id }}.pdf`); it may not leave the spec's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The charset of a text part (default `utf-8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
    /// `inline` or `attachment`. Defaults to `attachment` in `attachments`, `inline` in `inline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<DispositionSpec>,
    /// The file name the recipient sees; a template. Defaults to the file's own name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// The Content-ID, referenced from HTML as `cid:<this>`. With `for_each`, a template
    /// (`product-{{ item.sku }}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    /// Repeats this part once per element of a list field (one image per product, one
    /// label per package); the element is `item` (or the name in `as`) in this part's
    /// templates, with `loop.index` counting from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<String>,
    /// The name of the element in a `for_each` part's templates (default `item`).
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub as_name: Option<String>,
    /// A short description (`Content-Description`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Force a transfer encoding instead of choosing from the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_encoding: Option<TransferEncodingSpec>,
}

/// A template file, or a choice of template files by the value of a field.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TemplateRef {
    /// A template file, relative to a template root.
    Path(String),
    /// One template per value of a field.
    Choice(TemplateChoice),
}

impl TemplateRef {
    /// Every template path it names.
    pub fn paths(&self) -> Vec<&str> {
        match self {
            TemplateRef::Path(p) => vec![p.as_str()],
            TemplateRef::Choice(c) => c
                .cases
                .values()
                .chain(c.default.as_ref())
                .map(String::as_str)
                .collect(),
        }
    }
}

/// A template chosen per record by the value of a field. `check` compiles every case.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateChoice {
    /// The field whose value picks the template (a declared scalar field). `by: locale`
    pub by: String,
    /// Template file per value. `cases: { es-ES: news.es.txt.j2, en-GB: news.en.txt.j2 }`
    pub cases: IndexMap<String, String>,
    /// The template for any other value; without it, another value refuses the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// Content-Disposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DispositionSpec {
    /// Shown in the body (images referenced by `cid:`).
    Inline,
    /// Offered as a file.
    Attachment,
}

/// A transfer encoding to force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TransferEncodingSpec {
    /// 7-bit ASCII lines (fails if the content is not).
    #[serde(rename = "7bit")]
    SevenBit,
    /// 8-bit lines (needs 8BITMIME at the server).
    #[serde(rename = "8bit")]
    EightBit,
    /// Quoted-printable.
    #[serde(rename = "quoted-printable")]
    QuotedPrintable,
    /// Base64.
    #[serde(rename = "base64")]
    Base64,
}
