//! Deliverability: what turns correct MIME into mail that inboxes accept.
//!
//! Each step runs at a fixed place in the pipeline, so none of them can see (or mangle) template
//! syntax, and the signature covers the final bytes:
//!
//! 1. templates are expanded per record ([`crate::render`]);
//! 2. [`css::inline`] moves the CSS of `<style>` blocks into `style` attributes of the rendered
//!    HTML (many clients drop `<style>`), keeping the at-rules (`@media`) in a `<style>` block;
//! 3. [`text::from_html`] derives a plain-text alternative from each rendered HTML part that has
//!    none, in the shorthand and in a `body` tree (where it goes: `Renderer::with_text` in
//!    `render/deliver.rs`): links as numbered footnotes, tables readable, no HTML entities left;
//! 4. MIME is assembled and emitted ([`crate::mime::emit`]);
//! 5. [`dkim::Signer::sign`] prepends a `DKIM-Signature` (RFC 6376) over the emitted bytes.
//!
//! [`inspect`] reads an emitted message for what `check --strict` warns about.
//! [`strict`] runs those checks over a spec's sample records.
//! [`list`] writes the header fields of bulk mail: `List-Unsubscribe` and `List-Unsubscribe-Post`
//! (RFC 2369, RFC 8058), `List-Id` (RFC 2919) and `Feedback-ID`.
//!
//! Everything here is a pure function of its input except the DKIM signature, whose `t=` tag
//! is the signing time (mail-auth reads the clock): a signed message is never byte-stable, and
//! snapshots leave the signature out.

pub mod css;
pub mod dkim;
pub mod inspect;
pub mod list;
pub mod strict;
pub mod text;

use std::path::Path;

use crate::plan::DkimPlan;

/// DKIM settings given on the command line, each replacing the spec's.
#[derive(Debug, Clone, Default)]
pub struct DkimOverrides<'a> {
    /// `--dkim-domain`.
    pub domain: Option<&'a str>,
    /// `--dkim-selector`.
    pub selector: Option<&'a str>,
    /// `--dkim-key`.
    pub key: Option<&'a Path>,
}

/// The signer for a spec: its `dkim` settings, each replaced by the command line's when
/// given; reads the key file.
///
/// # Errors
/// A setting given nowhere, a key file that cannot be read, or a key that cannot sign. The
/// message names the file, never its content.
pub fn signer(spec: Option<&DkimPlan>, cli: &DkimOverrides<'_>) -> Result<dkim::Signer, String> {
    let missing = |what: &str, flag: &str| {
        format!("DKIM signing needs a {what}: set `dkim.{what}` in the spec or pass --dkim-{flag}")
    };
    let domain = cli
        .domain
        .or(spec.map(|d| d.domain.as_str()))
        .ok_or_else(|| missing("domain", "domain"))?;
    let selector = cli
        .selector
        .or(spec.map(|d| d.selector.as_str()))
        .ok_or_else(|| missing("selector", "selector"))?;
    let key = cli
        .key
        .or(spec.map(|d| d.key.as_path()))
        .ok_or_else(|| missing("key", "key"))?;
    let pem = dkim::read_key_file(key)
        .map_err(|e| format!("cannot read the DKIM key file {}: {e}", key.display()))?;
    dkim::Signer::new(domain, selector, &pem)
        .map_err(|e| format!("DKIM key file {}: {e}", key.display()))
}
