//! Deliverability: what turns correct MIME into mail that inboxes accept.
//!
//! Each step runs at a fixed place in the pipeline, so none of them can see (or mangle) template
//! syntax, and the signature covers the final bytes:
//!
//! 1. templates are expanded per record ([`crate::render`]);
//! 2. [`css::inline`] moves the CSS of `<style>` blocks into `style` attributes of the rendered
//!    HTML (many clients drop `<style>`), keeping the at-rules (`@media`) in a `<style>` block;
//! 3. [`text::from_html`] derives the plain-text part from the rendered HTML when the spec gives
//!    none: links as numbered footnotes, tables readable, no HTML entities left;
//! 4. MIME is assembled and emitted ([`crate::mime::emit`]);
//! 5. [`dkim::Signer::sign`] prepends a `DKIM-Signature` (RFC 6376) over the emitted bytes.
//!
//! [`inspect`] reads an emitted message for what `check --strict` warns about.
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
pub mod text;
