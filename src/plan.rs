//! The message plan: what `compile` makes of a spec, and the only thing `render` reads.
//!
//! A [`Plan`] is a typed tree. Every value that may depend on a record is a [`Text`], which is
//! either literal text or a handle to a template that `compile` already parsed and checked
//! ([`Tmpl`]); there is no lookup by key at render time, so a template can never be mistaken
//! for literal text. Files whose path is not a template were read (and checked) at compile time
//! and are shared by every message ([`Asset`]); files whose path depends on the record are
//! [`Source::File`] and go through an [`crate::assets::AssetLoader`] when rendering.

use std::sync::Arc;

use indexmap::IndexMap;

use crate::spec::model::{DispositionSpec, Field, MessageClass, TransferEncodingSpec};
use crate::template::Flavor;

/// A compiled template: its name in the environment of its [`Flavor`], and what it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmpl {
    /// How the output is escaped, which picks the environment.
    pub flavor: Flavor,
    /// The template's name in that environment (a file name, or the spec key of inline text).
    pub name: String,
    /// The top-level record fields it reads (its closure of layouts and includes included).
    pub variables: Vec<String>,
}

/// A value that is literal text, or a template to render per record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    /// Used as written.
    Literal(String),
    /// Rendered for each record.
    Template(Tmpl),
}

/// A plan value with the spec key it came from (`message.subject`), for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyed<T> {
    /// The dotted spec key, e.g. `message.attachments.0.filename`.
    pub key: String,
    /// The value.
    pub value: T,
}

/// One address item: a string (one or several mailboxes) or a name and an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressPlan {
    /// `Name <a@b>` or a comma-separated list; rendered with every inserted value marked as data.
    List(Keyed<Text>),
    /// A list written without templates: parsed once, at compile time, the same way.
    Fixed(Vec<crate::mime::Mailbox>),
    /// A display name and an address rendered separately.
    Parts {
        /// The display name.
        name: Option<Keyed<Text>>,
        /// The address.
        email: Keyed<Text>,
    },
    /// `"{{ admins }}"` where `admins` is a list field: one mailbox per element, an address
    /// (string) or an object with `email` and optionally `name`.
    FromList(Keyed<String>),
}

/// A message-id header value: text with ids, or a list field of ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdsPlan {
    /// One or more ids separated by white space, with or without `<>`.
    Text(Keyed<Text>),
    /// `"{{ refs }}"` where `refs` is a list field: one id per element.
    FromList(Keyed<String>),
}

/// Where a leaf's content comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A template (file or inline): rendered per record; its line ends become CRLF.
    Template(Keyed<Tmpl>),
    /// A template picked per record by the value of a field.
    Choice(Keyed<Choice>),
    /// Literal inline content.
    Literal(String),
    /// A file whose path is literal, read once at compile time.
    Asset(Arc<Asset>),
    /// A file whose path is a template: loaded per record through the asset loader.
    File(Keyed<Tmpl>),
}

/// Templates by the value of a field; every one compiled and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The field whose value picks.
    pub by: String,
    /// Value → template.
    pub cases: Vec<(String, Tmpl)>,
    /// For any other value.
    pub default: Option<Tmpl>,
}

/// A file read at compile time.
#[derive(Debug, Clone)]
pub struct Asset {
    /// The path as written in the spec, relative to the spec's folder.
    pub path: String,
    /// The content.
    pub bytes: Arc<[u8]>,
    /// Its transfer encoding, computed by the first message that needs it and shared by every
    /// other one (the same bytes always encode the same way).
    pub encoded: std::sync::OnceLock<Arc<crate::mime::Encoded>>,
}

impl Asset {
    /// A file's content.
    pub fn new(path: String, bytes: Arc<[u8]>) -> Self {
        Asset {
            path,
            bytes,
            encoded: std::sync::OnceLock::new(),
        }
    }

    /// The automatic transfer encoding of the content as a non-text part, computed once.
    pub fn encoded(&self) -> Arc<crate::mime::Encoded> {
        self.encoded
            .get_or_init(|| {
                let (encoding, bytes) = crate::mime::encode::auto_encode(&self.bytes, false);
                Arc::new(crate::mime::Encoded::new(encoding, bytes))
            })
            .clone()
    }

    /// The file's own name (the last path segment).
    pub fn file_name(&self) -> &str {
        file_name_of(&self.path)
    }
}

/// The last segment of a relative path.
pub fn file_name_of(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// How a leaf's media type is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaType {
    /// Written in the spec (or implied: `text/plain` for text without a file).
    Given(String),
    /// Guessed from the file name the recipient sees (the rendered `filename`, else the file's
    /// own name), per record.
    FromName,
}

/// A part with content.
#[derive(Debug, Clone)]
pub struct LeafPlan {
    /// The spec key of the part (`message.html`, `message.body.parts.1`).
    pub key: String,
    /// The same place as a JSON Pointer (`/message/body/parts/1`), to locate diagnostics.
    pub pointer: String,
    /// Its media type.
    pub media_type: MediaType,
    /// Extra Content-Type parameters.
    pub params: Vec<(String, Keyed<Text>)>,
    /// The content.
    pub source: Source,
    /// The declared charset, for text.
    pub charset: Option<String>,
    /// Inline or attachment.
    pub disposition: Option<DispositionSpec>,
    /// The file name the recipient sees.
    pub filename: Option<Keyed<Text>>,
    /// Without `filename`, the file's own name is offered (the part has a disposition).
    pub filename_from_file: bool,
    /// The `cid` name HTML references it by.
    pub cid: Option<String>,
    /// `Content-Description`.
    pub description: Option<Keyed<Text>>,
    /// A forced transfer encoding.
    pub transfer_encoding: Option<TransferEncodingSpec>,
    /// Repeated once per element of a list field.
    pub repeat: Option<Repeat>,
}

/// `for_each`: a part made once per element of a list field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeat {
    /// The list field.
    pub field: String,
    /// The element's name in the part's templates (`item`).
    pub var: String,
    /// The Content-ID name, per element (`product-{{ item.sku }}`).
    pub cid: Option<Keyed<Text>>,
}

/// A node of an explicit part tree.
#[derive(Debug, Clone)]
pub enum Node {
    /// `multipart/<subtype>`.
    Multipart {
        /// Lower-case subtype.
        subtype: String,
        /// Children, in order.
        parts: Vec<Node>,
    },
    /// A part with content.
    Leaf(Box<LeafPlan>),
}

/// The body: the shorthand (assembled per message, so unreferenced inline parts can be left
/// out) or an explicit tree.
#[derive(Debug, Clone)]
pub enum Body {
    /// `text`, `html`, `inline`, `attachments`.
    Shorthand {
        /// The plain-text alternative.
        text: Option<Box<LeafPlan>>,
        /// The HTML alternative.
        html: Option<Box<LeafPlan>>,
        /// Parts referenced from the HTML by `cid:`.
        inline: Vec<LeafPlan>,
        /// Attachments.
        attachments: Vec<LeafPlan>,
    },
    /// `body:`.
    Tree(Node),
}

/// The envelope overrides of the spec.
#[derive(Debug, Clone, Default)]
pub struct EnvelopePlan {
    /// MAIL FROM.
    pub from: Option<Keyed<Text>>,
    /// RCPT TO instead of To + Cc + Bcc.
    pub to: Option<Vec<AddressPlan>>,
}

/// Everything needed to render one message per record.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The spec's name: seeds Message-IDs, boundaries and Content-IDs.
    pub name: String,
    /// The record field that identifies a record.
    pub key_field: Option<String>,
    /// The declared record fields.
    pub fields: IndexMap<String, Field>,
    /// RFC 6531/6532: UTF-8 addresses and raw UTF-8 headers allowed.
    pub smtputf8: bool,
    /// From.
    pub from: Vec<AddressPlan>,
    /// Sender.
    pub sender: Vec<AddressPlan>,
    /// To.
    pub to: Vec<AddressPlan>,
    /// Cc.
    pub cc: Vec<AddressPlan>,
    /// Bcc (envelope only).
    pub bcc: Vec<AddressPlan>,
    /// Reply-To.
    pub reply_to: Vec<AddressPlan>,
    /// Subject.
    pub subject: Keyed<Text>,
    /// In-Reply-To ids.
    pub in_reply_to: Vec<IdsPlan>,
    /// References ids.
    pub references: Vec<IdsPlan>,
    /// Extra headers, in spec order.
    pub headers: Vec<(String, Keyed<Text>)>,
    /// The Date, when the spec takes it from the record.
    pub date: Option<Keyed<Text>>,
    /// The Message-ID domain, when given.
    pub message_id_domain: Option<String>,
    /// Envelope overrides.
    pub envelope: EnvelopePlan,
    /// The body.
    pub body: Body,
    /// Every `cid` name declared anywhere in the body.
    pub cids: Vec<String>,
    /// Message class, list headers, CSS inlining and DKIM.
    pub deliver: DeliverPlan,
}

/// What makes the message welcome in an inbox (see [`crate::deliver`]).
#[derive(Debug, Clone, Default)]
pub struct DeliverPlan {
    /// `transactional` or `bulk`, when the spec says.
    pub class: Option<MessageClass>,
    /// The one-click unsubscribe URL and its mailto alternative (bulk only).
    pub unsubscribe: Option<UnsubscribePlan>,
    /// The complete `List-Id` field (bulk only), checked at compile time.
    pub list_id: Option<String>,
    /// The `Feedback-ID` value.
    pub feedback_id: Option<Keyed<Text>>,
    /// Inline the CSS of HTML parts made by templates.
    pub inline_css: bool,
    /// Derive a text alternative for each HTML part that has none.
    pub derive_text: bool,
    /// DKIM signing settings, used when signing is asked for.
    pub dkim: Option<DkimPlan>,
}

/// `message.unsubscribe`.
#[derive(Debug, Clone)]
pub struct UnsubscribePlan {
    /// The https URL, per recipient.
    pub url: Keyed<Text>,
    /// The mailto URL.
    pub mailto: Option<Keyed<Text>>,
}

/// `dkim`: where the key is, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimPlan {
    /// `d=`.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// The key file: the spec's `dkim.key` resolved against the spec's folder.
    pub key: std::path::PathBuf,
}

/// The media type a file name implies (RFC 2046 §4.5.1: `application/octet-stream` when
/// unknown).
pub fn guess_type(name: &str) -> &'static str {
    mime_guess::from_path(name)
        .first_raw()
        .unwrap_or("application/octet-stream")
}

impl Body {
    /// Every leaf, in order.
    pub fn leaves(&self) -> Vec<&LeafPlan> {
        fn walk<'a>(n: &'a Node, out: &mut Vec<&'a LeafPlan>) {
            match n {
                Node::Leaf(l) => out.push(l),
                Node::Multipart { parts, .. } => parts.iter().for_each(|p| walk(p, out)),
            }
        }
        let mut out = Vec::new();
        match self {
            Body::Shorthand {
                text,
                html,
                inline,
                attachments,
            } => {
                out.extend(text.as_deref());
                out.extend(html.as_deref());
                out.extend(inline.iter().chain(attachments));
            }
            Body::Tree(n) => walk(n, &mut out),
        }
        out
    }
}

/// Every `cid` name declared in a body, in order.
pub fn declared_cids(body: &Body) -> Vec<String> {
    body.leaves().iter().filter_map(|l| l.cid.clone()).collect()
}

/// A spec key from a JSON Pointer: `/message/attachments/0` → `message.attachments.0`.
pub fn key_of(pointer: &str) -> String {
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

impl Text {
    /// The template, when the value is one.
    pub fn template(&self) -> Option<&Tmpl> {
        match self {
            Text::Template(t) => Some(t),
            Text::Literal(_) => None,
        }
    }
}
