//! DKIM signing (RFC 6376) of emitted messages, with mail-auth.
//!
//! Input: the wire bytes of one message (CRLF line ends, as [`crate::mime::emit`] writes them)
//! and a [`Signer`] (domain, selector, private key). Output: the same bytes with a
//! `DKIM-Signature` header field prepended. Nothing else in the message changes, so the
//! signature stays valid for exactly the bytes mailspec emitted.
//!
//! - Canonicalisation is `relaxed/relaxed` (RFC 6376 §3.4.2, §3.4.4): it survives the header
//!   refolding and trailing white space changes relays are known to make.
//! - Algorithms: `rsa-sha256` (RFC 6376 §3.3.1; RSA keys of at least 1024 bits, RFC 8301 §3.2)
//!   and `ed25519-sha256` (RFC 8463). `rsa-sha1` is never used (RFC 8301 §3.1).
//! - The signed header list ([`SIGNED_HEADERS`]) always names From, To, Subject, Date,
//!   Message-ID, MIME-Version, Content-Type and the List-Unsubscribe pair. A listed header that
//!   the message does not have is still named once in `h=`, which signs its absence (RFC 6376
//!   §5.4.2, §8.15): nobody can add a `List-Unsubscribe` to a transactional message, or a second
//!   `From`, without breaking the signature.
//! - `t=` is the signing time (mail-auth reads the clock); no `l=` (a body length limit would
//!   let anyone append content, RFC 6376 §8.2) and no `x=`.

use std::fmt;
use std::sync::Arc;

use mail_auth::common::crypto::{DkimKey, Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::mime::header::Folder;

/// The header fields named in every signature, in this order (mail-auth signs every instance
/// present, bottom-up, then names the absent ones once). RFC 6376 §5.4.1 lists the fields that
/// should be signed; RFC 8058 §4 requires the List-Unsubscribe pair to be signed.
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
    "Feedback-ID",
    "Precedence",
    "Auto-Submitted",
];

/// Smallest RSA modulus accepted, in bits (RFC 8301 §3.2: signers MUST use at least 1024 bits
/// and SHOULD use 2048).
pub const MIN_RSA_BITS: usize = 1024;

/// A signing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// `rsa-sha256` (RFC 6376 §3.3.1).
    RsaSha256,
    /// `ed25519-sha256` (RFC 8463).
    Ed25519Sha256,
}

impl Algorithm {
    /// The `a=` tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa-sha256",
            Algorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    /// The `k=` tag of the DNS key record (RFC 6376 §3.6.1, RFC 8463 §4).
    pub fn key_type(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa",
            Algorithm::Ed25519Sha256 => "ed25519",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a key could not be loaded or a message could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DkimError {
    /// The key file holds no PEM private key, or one of an unsupported kind.
    #[error("{0}")]
    Key(String),
    /// The domain or selector is not a valid DNS name.
    #[error("{0}")]
    Name(String),
    /// mail-auth could not sign the message (it has no header, say).
    #[error("signing failed: {0}")]
    Sign(String),
}

/// Signs messages for one domain and selector. Cheap to clone (the key is shared).
#[derive(Clone)]
pub struct Signer {
    domain: String,
    selector: String,
    algorithm: Algorithm,
    inner: Arc<DkimSigner<DkimKey, Done>>,
}

impl fmt::Debug for Signer {
    // Never print the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Whether `s` is a DNS name of letters, digits, hyphens and dots (RFC 6376 §3.1: the
/// selector is a sub-domain; §3.5 `d=` is a domain name; internationalised names go as
/// A-labels, RFC 8616 §4).
pub fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn load_key(pem: &[u8]) -> Result<(DkimKey, Algorithm), DkimError> {
    let der = PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        DkimError::Key(format!(
            "no PEM private key found ({e}); expected `-----BEGIN PRIVATE KEY-----` or `-----BEGIN RSA PRIVATE KEY-----`"
        ))
    })?;
    match der {
        PrivateKeyDer::Pkcs1(_) => RsaKey::<Sha256>::from_key_der(der)
            .map(|k| (DkimKey::Rsa(k), Algorithm::RsaSha256))
            .map_err(|e| DkimError::Key(format!("not a usable RSA key: {e}"))),
        PrivateKeyDer::Pkcs8(ref p) => {
            if let Ok(k) = Ed25519Key::from_pkcs8_der(p.secret_pkcs8_der()) {
                return Ok((DkimKey::Ed25519(k), Algorithm::Ed25519Sha256));
            }
            RsaKey::<Sha256>::from_key_der(der)
                .map(|k| (DkimKey::Rsa(k), Algorithm::RsaSha256))
                .map_err(|_| {
                    DkimError::Key(
                        "the PKCS #8 key is neither RSA nor Ed25519, the two key types DKIM \
                         signs with (RFC 6376 §3.3, RFC 8463)"
                            .into(),
                    )
                })
        }
        PrivateKeyDer::Sec1(_) => Err(DkimError::Key(
            "an EC (SEC1) key: DKIM signs with RSA or Ed25519 only (RFC 6376 §3.3, RFC 8463)"
                .into(),
        )),
        _ => Err(DkimError::Key("an unsupported private key format".into())),
    }
}

impl Signer {
    /// A signer for `domain` (`d=`) and `selector` (`s=`) with the private key in `pem` (PKCS #1
    /// or PKCS #8 RSA, or PKCS #8 Ed25519; text before the `-----BEGIN` line is ignored).
    ///
    /// # Errors
    /// [`DkimError::Name`] for a domain or selector that is not a DNS name, [`DkimError::Key`]
    /// for a missing, unsupported or too short key.
    pub fn new(domain: &str, selector: &str, pem: &[u8]) -> Result<Self, DkimError> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        if !is_dns_name(&domain) || !domain.contains('.') {
            return Err(DkimError::Name(format!(
                "`{domain}` is not a domain name (write an IDN as its `xn--` form)"
            )));
        }
        if !is_dns_name(selector) {
            return Err(DkimError::Name(format!(
                "`{selector}` is not a selector: letters, digits, hyphens and dots (RFC 6376 §3.1)"
            )));
        }
        let (key, algorithm) = load_key(pem)?;
        let inner = DkimSigner::from_key(key)
            .domain(domain.clone())
            .selector(selector)
            .headers(SIGNED_HEADERS.iter().copied())
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed);
        let signer = Signer {
            domain,
            selector: selector.to_owned(),
            algorithm,
            inner: Arc::new(inner),
        };
        if algorithm == Algorithm::RsaSha256 {
            // The signature is as long as the modulus: measure it on a tiny message.
            let probe = signer
                .inner
                .sign(b"From: a@example.com\r\n\r\n")
                .map_err(|e| DkimError::Key(format!("the key cannot sign: {e}")))?;
            let bits = probe.b.len() * 8;
            if bits < MIN_RSA_BITS {
                return Err(DkimError::Key(format!(
                    "a {bits}-bit RSA key: DKIM needs at least {MIN_RSA_BITS} bits (RFC 8301 §3.2); use 2048"
                )));
            }
        }
        Ok(signer)
    }

    /// The signing domain (`d=`), lower case.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The selector (`s=`).
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// The algorithm the key implies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The DNS name of the key record: `{selector}._domainkey.{domain}` (RFC 6376 §3.6.2.1).
    pub fn record_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The `DKIM-Signature` header field for `message`, folded, ending in CRLF.
    ///
    /// # Errors
    /// [`DkimError::Sign`] when mail-auth cannot sign (a message without header fields).
    pub fn signature_header(&self, message: &[u8]) -> Result<String, DkimError> {
        let sig = self
            .inner
            .sign(message)
            .map_err(|e| DkimError::Sign(e.to_string()))?;
        refold(&sig.to_header())
    }

    /// `message` with a `DKIM-Signature` header field prepended (RFC 6376 §5.6: the signature is
    /// inserted before the existing header fields).
    ///
    /// # Errors
    /// See [`Signer::signature_header`].
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, DkimError> {
        let header = self.signature_header(message)?;
        let mut out = Vec::with_capacity(header.len() + message.len());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(message);
        Ok(out)
    }
}

/// Refolds mail-auth's `DKIM-Signature` field so that no line passes 78 characters (its
/// first line can: `v=1; a=...; s=...; d=...; c=...;` is never folded). Lines are only broken
/// where the field already has white space, so the relaxed canonical form that was signed
/// (RFC 6376 §3.4.2: unfold, then every run of white space becomes one space) is unchanged.
fn refold(field: &str) -> Result<String, DkimError> {
    let (name, value) = field
        .split_once(':')
        .ok_or_else(|| DkimError::Sign("mail-auth wrote no header field name".into()))?;
    let mut f = Folder::new(name);
    for token in value
        .split([' ', '\t', '\r', '\n'])
        .filter(|t| !t.is_empty())
    {
        f.word(" ", token);
    }
    f.finish().map_err(|e| DkimError::Sign(e.to_string()))
}

/// Largest key file read: a PEM RSA 4096-bit key is about 3.3 KB.
pub const MAX_KEY_FILE: u64 = 64 * 1024;

/// Reads a key file: a regular file of at most [`MAX_KEY_FILE`] bytes (never a device or a
/// FIFO, which could block or never end).
///
/// # Errors
/// I/O errors, and [`std::io::ErrorKind::InvalidInput`] for anything but a small regular file.
pub fn read_key_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("larger than {MAX_KEY_FILE} bytes: not a key file"),
        ));
    }
    let mut out = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_KEY_FILE)
        .read_to_end(&mut out)?;
    Ok(out)
}

/// Whether a DKIM signing domain aligns with the From domain under DMARC's relaxed alignment
/// (RFC 7489 §3.1.1): the same organizational domain. Without the Public Suffix List this is
/// approximated as "equal, or one is a sub-domain of the other", which never calls a
/// misaligned pair aligned except across a public suffix (`a.co.uk` and `co.uk`), a signing
/// domain nobody can hold a key for.
pub fn aligned(dkim_domain: &str, from_domain: &str) -> bool {
    let d = dkim_domain.trim_end_matches('.').to_ascii_lowercase();
    let f = from_domain.trim_end_matches('.').to_ascii_lowercase();
    d == f || f.ends_with(&format!(".{d}")) || d.ends_with(&format!(".{f}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA: &str = include_str!("../../specs/shop/dkim/test-only-rsa2048.pem");
    const ED25519: &str = include_str!("../../specs/shop/dkim/test-only-ed25519.pem");

    const MSG: &[u8] = b"From: Olivo <hola@olivo.example>\r\nTo: ana@example.com\r\n\
Subject: Hola\r\nDate: Mon, 3 Jun 2024 10:00:00 +0000\r\nMessage-ID: <1@olivo.example>\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHola\r\n";

    fn tags(header: &str) -> Vec<(String, String)> {
        let unfolded: String = header
            .trim_start_matches("DKIM-Signature:")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        unfolded
            .split(';')
            .filter(|t| !t.is_empty())
            .filter_map(|t| t.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn tag(header: &str, name: &str) -> Option<String> {
        tags(header)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    #[test]
    fn loads_both_key_types_and_ignores_the_warning_text() {
        let rsa = Signer::new("olivo.example", "s2024", RSA.as_bytes()).unwrap();
        assert_eq!(rsa.algorithm(), Algorithm::RsaSha256);
        let ed = Signer::new("Olivo.Example.", "ed", ED25519.as_bytes()).unwrap();
        assert_eq!(ed.algorithm(), Algorithm::Ed25519Sha256);
        assert_eq!(ed.domain(), "olivo.example");
        assert_eq!(ed.record_name(), "ed._domainkey.olivo.example");
        // The key never shows in Debug output.
        let shown = format!("{rsa:?}");
        assert!(!shown.contains("MII") && shown.contains("s2024"), "{shown}");
    }

    #[test]
    fn rejects_bad_keys_and_names() {
        for (domain, selector, pem, want) in [
            ("olivo.example", "s1", "", "no PEM private key"),
            (
                "olivo.example",
                "s1",
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "no PEM private key",
            ),
            ("olivo", "s1", RSA, "not a domain name"),
            ("olivo .example", "s1", RSA, "not a domain name"),
            ("olivo.example", "s 1", RSA, "not a selector"),
            ("olivo.example", "", RSA, "not a selector"),
        ] {
            let e = Signer::new(domain, selector, pem.as_bytes()).unwrap_err();
            assert!(e.to_string().contains(want), "{domain} {selector}: {e}");
        }
    }

    #[test]
    fn signature_is_relaxed_and_names_the_required_headers() {
        for (pem, alg) in [(RSA, "rsa-sha256"), (ED25519, "ed25519-sha256")] {
            let s = Signer::new("olivo.example", "s1", pem.as_bytes()).unwrap();
            let signed = s.sign(MSG).unwrap();
            assert!(signed.ends_with(MSG), "the message itself is unchanged");
            let text = String::from_utf8(signed).unwrap();
            let header_end = text.find("\r\nFrom:").unwrap();
            let header = &text[..header_end];
            assert!(header.starts_with("DKIM-Signature: v=1;"), "{header}");
            for line in header.split("\r\n") {
                assert!(line.len() <= 78, "line too long: {line}");
            }
            assert_eq!(tag(header, "a").as_deref(), Some(alg));
            assert_eq!(tag(header, "c").as_deref(), Some("relaxed/relaxed"));
            assert_eq!(tag(header, "d").as_deref(), Some("olivo.example"));
            assert_eq!(tag(header, "s").as_deref(), Some("s1"));
            assert!(tag(header, "l").is_none() && tag(header, "x").is_none());
            let h = tag(header, "h").unwrap().to_ascii_lowercase();
            let names: Vec<&str> = h.split(':').collect();
            for required in [
                "from",
                "to",
                "subject",
                "date",
                "message-id",
                "mime-version",
                "content-type",
                "list-unsubscribe",
                "list-unsubscribe-post",
            ] {
                assert!(names.contains(&required), "{required} not in h={h}");
            }
        }
    }

    #[test]
    fn key_files_are_small_regular_files() {
        let dir = std::env::temp_dir();
        assert!(read_key_file(std::path::Path::new("/dev/zero")).is_err());
        assert!(read_key_file(&dir).is_err());
        let big = dir.join(format!("mailspec-big-key-{}", std::process::id()));
        std::fs::write(&big, vec![b'A'; MAX_KEY_FILE as usize + 1]).unwrap();
        let e = read_key_file(&big).unwrap_err();
        let _ = std::fs::remove_file(&big);
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    }

    #[test]
    fn alignment_is_relaxed() {
        assert!(aligned("olivo.example", "olivo.example"));
        assert!(aligned("olivo.example", "news.olivo.example"));
        assert!(aligned("mail.olivo.example", "olivo.example"));
        assert!(aligned("OLIVO.example.", "olivo.EXAMPLE"));
        assert!(!aligned("esp.example", "olivo.example"));
        assert!(!aligned("livo.example", "olivo.example"));
    }
}
