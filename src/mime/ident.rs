//! Deterministic identifiers: the stable hash, Message-IDs, MIME boundaries and Content-IDs.
//!
//! **Input:** an opaque `seed` (the caller passes the spec digest and the record key) plus the
//! position or name of the thing being named. **Output:** ASCII identifiers.
//!
//! **Invariants**
//! - Every identifier is a pure function of its arguments: no clock, no randomness, no
//!   hostname, and no `std::hash::DefaultHasher` (whose algorithm std leaves unspecified
//!   across releases). The hash is SHA-256.
//! - Each kind of identifier hashes a distinct domain-separation tag, so a Message-ID and a
//!   boundary derived from the same seed never share bits by construction.
//! - Boundaries all have the same length, so two different boundaries can never be prefixes
//!   of one another (RFC 2046 §5.1.1 asks that no boundary appear inside the content of an
//!   enclosed part, and a prefix would match as a delimiter line).

use sha2::{Digest, Sha256};

/// The RFC 4648 base32 alphabet in lower case: letters and digits only, which are legal in a
/// dot-atom (Message-ID, Content-ID) and in a boundary.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Number of base32 characters taken from a hash: 26 × 5 = 130 bits, more than the 128 bits
/// usually considered collision-safe for random identifiers.
const ID_CHARS: usize = 26;

/// Hashes a sequence of byte strings with SHA-256.
///
/// Each part is preceded by its length as a big-endian `u64`, so the encoding is injective:
/// `["ab", "c"]` and `["a", "bc"]` hash differently, as do `[]` and `[""]`.
pub fn stable_hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        // usize → u64 is lossless on every platform Rust supports (≤ 64-bit pointers).
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// Encodes the first `n` base32 characters of `bytes` (most significant bits first); only
/// whole 5-bit groups are encoded, so the result is shorter when `bytes` runs out.
fn base32_prefix(bytes: &[u8], n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let idx = ((acc >> bits) & 0x1f) as usize;
            out.push(char::from(BASE32[idx]));
            if out.len() == n {
                return out;
            }
        }
        // Keep only the bits not yet consumed so `acc` never overflows.
        acc &= (1 << bits) - 1;
    }
    out
}

/// Returns a deterministic Message-ID `local@domain` (without angle brackets).
///
/// The local part is 26 base32 characters of `stable_hash(["mailspec/message-id", seed])`.
/// `domain` is used verbatim: pass an ASCII (punycode) domain such as
/// [`AddrSpec::domain`](super::AddrSpec::domain).
///
/// # Example
/// ```
/// # use mailspec::mime::ident::message_id;
/// let id = message_id(b"spec-digest/record-1", "example.com");
/// assert!(id.ends_with("@example.com"));
/// assert_eq!(id, message_id(b"spec-digest/record-1", "example.com"));
/// ```
pub fn message_id(seed: &[u8], domain: &str) -> String {
    let hash = stable_hash(&[b"mailspec/message-id", seed]);
    format!("{}@{domain}", base32_prefix(&hash, ID_CHARS))
}

/// Returns the MIME boundary for the multipart at `path` (child indices from the root; the
/// root multipart has the empty path), for the given collision `attempt`.
///
/// The result is `=_` followed by 26 base32 characters (28 characters in total). The `=_`
/// prefix can never occur in quoted-printable output (a literal `=` is always written `=3D`
/// there) nor in base64 output (`_` is not in its alphabet), so only 7bit/8bit content can
/// collide; the emitter checks for that and retries with `attempt + 1`. The fixed length
/// guarantees that no boundary is a prefix of another one.
pub fn boundary(seed: &[u8], path: &[usize], attempt: u32) -> String {
    let mut path_bytes = Vec::with_capacity(path.len() * 8);
    for &index in path {
        path_bytes.extend_from_slice(&(index as u64).to_be_bytes());
    }
    let hash = stable_hash(&[
        b"mailspec/boundary",
        seed,
        &path_bytes,
        &attempt.to_be_bytes(),
    ]);
    format!("=_{}", base32_prefix(&hash, ID_CHARS))
}

/// Returns a deterministic Content-ID `local@domain` (without angle brackets) for the inline
/// resource called `name` (for example the file name an HTML body refers to as `cid:`).
pub fn content_id(seed: &[u8], name: &str, domain: &str) -> String {
    let hash = stable_hash(&[b"mailspec/content-id", seed, name.as_bytes()]);
    format!("{}@{domain}", base32_prefix(&hash, ID_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_length_prefixed() {
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
        assert_ne!(stable_hash(&[]), stable_hash(&[b""]));
        assert_eq!(stable_hash(&[b"x"]), stable_hash(&[b"x"]));
    }

    #[test]
    fn hash_is_sha256_of_the_framing() {
        // Pin the exact construction: a change here would change every snapshot.
        let mut framed = Vec::new();
        framed.extend_from_slice(&1u64.to_be_bytes());
        framed.extend_from_slice(b"a");
        let expected: [u8; 32] = Sha256::digest(&framed).into();
        assert_eq!(stable_hash(&[b"a"]), expected);
    }

    #[test]
    fn base32_matches_rfc4648() {
        // RFC 4648 §10 test vector "foobar" → "MZXW6YTBOI======" (lower-cased). Only whole
        // 5-bit groups are emitted, so the tenth character (3 bits + padding) is not.
        assert_eq!(base32_prefix(b"foobar", 10), "mzxw6ytbo");
        assert_eq!(base32_prefix(b"fooba", 8), "mzxw6ytb");
        assert_eq!(base32_prefix(b"f", 1), "m");
    }

    #[test]
    fn message_id_shape() {
        let id = message_id(b"seed", "example.com");
        let (local, domain) = id.split_once('@').unwrap_or_default();
        assert_eq!(local.len(), 26);
        assert!(local.bytes().all(|b| BASE32.contains(&b)));
        assert_eq!(domain, "example.com");
        assert_ne!(id, message_id(b"seed2", "example.com"));
    }

    #[test]
    fn boundaries_are_distinct_fixed_length_and_bchars() {
        let seeds: [&[u8]; 2] = [b"s1", b"s2"];
        let paths: [&[usize]; 4] = [&[], &[0], &[1], &[0, 1]];
        let mut all = Vec::new();
        for seed in seeds {
            for path in paths {
                for attempt in 0..3 {
                    all.push(boundary(seed, path, attempt));
                }
            }
        }
        for b in &all {
            assert_eq!(b.len(), 28);
            assert!(b.starts_with("=_"));
            assert!(b[2..].bytes().all(|c| BASE32.contains(&c)));
        }
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len());
    }

    #[test]
    fn path_encoding_is_injective() {
        // [1, 0] vs [256]: fixed-width index encoding keeps them apart.
        assert_ne!(boundary(b"s", &[1, 0], 0), boundary(b"s", &[256], 0));
        assert_ne!(boundary(b"s", &[], 0), boundary(b"s", &[0], 0));
    }

    #[test]
    fn content_id_depends_on_name() {
        let a = content_id(b"s", "logo.png", "example.com");
        let b = content_id(b"s", "logo2.png", "example.com");
        assert_ne!(a, b);
        assert!(a.ends_with("@example.com"));
    }
}
