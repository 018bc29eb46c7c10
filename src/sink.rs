//! Sinks: where emitted messages go. The only stage that writes files.
//!
//! Input: [`EmittedMessage`]s in record order. Output: a directory of `.eml` files (one per
//! record, named from its key), an mboxrd file, or a Maildir. Every sink writes the message
//! bytes exactly as emitted, except the mbox, whose format is defined with local line ends.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::render::EmittedMessage;

/// Receives messages, in record order.
pub trait Sink {
    /// Stores one message; returns where it went (a path, or a description).
    ///
    /// # Errors
    /// I/O errors.
    fn accept(&mut self, index: usize, message: &EmittedMessage) -> io::Result<String>;
    /// Flushes and closes.
    ///
    /// # Errors
    /// I/O errors.
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A file-name-safe form of a record id, different for different ids: ASCII letters, digits
/// and `_`, `-`, `@`, `+`, `.` are kept, every other byte is written `%XX` (so `a/b` and `a_b`
/// never share a file), a leading `.` too (no hidden files, no `..`). An id whose form would be
/// over 100 characters is cut and ends in a hash of the whole id.
///
/// File systems that ignore case (macOS, Windows defaults) still see `A` and `a` as one name.
pub fn slug(key: &str) -> String {
    let mut s = String::with_capacity(key.len());
    for (i, b) in key.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || b"_-@+".contains(&b) || (b == b'.' && i > 0);
        if keep {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    if s.is_empty() {
        s.push_str("%00");
    }
    if s.len() > 100 {
        let digest = crate::mime::ident::stable_hash(&[key.as_bytes()]);
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        // Every character is ASCII, so any cut is a character boundary; the hash keeps ids
        // that share a long prefix apart.
        s.truncate(83);
        s.push('~');
        s.push_str(&hex);
    }
    s
}

/// Writes `<dir>/<slug(key)>.eml`.
#[derive(Debug)]
pub struct DirSink {
    dir: PathBuf,
    manifest: BufWriter<File>,
}

/// The list of files a directory render wrote, one name a line, kept in the folder: the next
/// render into the same folder removes exactly those files first, so no message of an earlier
/// run is left beside the new ones, and nothing else is touched.
pub const MANIFEST: &str = ".mailspec-manifest";

impl DirSink {
    /// Creates the directory if needed and removes what the previous render into it wrote
    /// (listed in its [`MANIFEST`]). Refuses a folder holding `.eml` files that no manifest
    /// lists (another tool's, or an older run's) unless `replace` is set, which removes every
    /// `.eml` and `.envelope.json` file there first.
    ///
    /// # Errors
    /// When the folder cannot be created or cleaned, or holds messages this sink did not write.
    pub fn open(dir: &Path, replace: bool) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let listed: Vec<String> = match fs::read_to_string(dir.join(MANIFEST)) {
            Ok(text) => text.lines().map(str::to_string).collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let foreign = foreign_messages(dir, &listed)?;
        if !foreign.is_empty() && !replace {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "`{}` already holds {} message(s) this render did not write (e.g. `{}`): choose an empty folder, or pass --force to remove them",
                    dir.display(),
                    foreign.len(),
                    foreign[0]
                ),
            ));
        }
        for name in listed.iter().chain(&foreign) {
            // Plain names only: a manifest is ours, but a folder is not a place to trust paths.
            if !name.contains(['/', '\\']) && !name.starts_with('.') {
                match fs::remove_file(dir.join(name)) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
        }
        let manifest = BufWriter::new(File::create(dir.join(MANIFEST))?);
        Ok(DirSink {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// [`DirSink::open`] without `--force`.
    ///
    /// # Errors
    /// As [`DirSink::open`].
    pub fn new(dir: &Path) -> io::Result<Self> {
        Self::open(dir, false)
    }
}

/// `.eml` and `.envelope.json` files in `dir` that `listed` does not name.
fn foreign_messages(dir: &Path, listed: &[String]) -> io::Result<Vec<String>> {
    let listed: std::collections::HashSet<&str> = listed.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let name = e?.file_name().to_string_lossy().into_owned();
        if (name.ends_with(".eml") || name.ends_with(".envelope.json"))
            && !listed.contains(name.as_str())
        {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Writes through a temporary file and a rename, so a reader never sees half a message. No
/// fsync per file: a rendered directory is reproducible output, not a mail queue, and a sync per
/// message would cost more than rendering it (the send stage is where durability matters).
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
    }
    fs::rename(&tmp, path)
}

impl Sink for DirSink {
    fn accept(&mut self, _index: usize, m: &EmittedMessage) -> io::Result<String> {
        let name = slug(&m.key);
        let path = self.dir.join(format!("{name}.eml"));
        write_atomically(&path, &m.bytes)?;
        let sidecar = self.dir.join(format!("{name}.envelope.json"));
        write_atomically(&sidecar, &envelope_json(m))?;
        // Listed as soon as written, so even an interrupted run is cleaned up by the next one.
        writeln!(self.manifest, "{name}.eml\n{name}.envelope.json")?;
        self.manifest.flush()?;
        Ok(path.display().to_string())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.manifest.flush()
    }
}

/// The envelope beside a `.eml`: one JSON object with the record id, the Message-ID,
/// `mail_from` (empty for the null reverse-path), `rcpt_to` (Bcc included), `smtputf8`, and the
/// SHA-256 of the `.eml` bytes (so a sender can refuse a file changed since it was rendered).
pub fn envelope_json(m: &EmittedMessage) -> Vec<u8> {
    use sha2::Digest;
    let sha: String = sha2::Sha256::digest(&m.bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let v = serde_json::json!({
        "key": m.key,
        "message_id": m.message_id,
        "mail_from": m.envelope.from.as_ref().map(ToString::to_string).unwrap_or_default(),
        "rcpt_to": m.envelope.to.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "smtputf8": m.envelope.smtputf8,
        "sha256": sha,
    });
    let mut out = serde_json::to_vec_pretty(&v).unwrap_or_default();
    out.push(b'\n');
    out
}

/// Appends messages to an mboxrd file (every `>*From ` line gets one more `>`).
#[derive(Debug)]
pub struct MboxSink {
    out: BufWriter<File>,
    path: PathBuf,
}

impl MboxSink {
    /// Creates (truncates) the file.
    ///
    /// # Errors
    /// When it cannot be created.
    pub fn new(path: &Path) -> io::Result<Self> {
        Ok(MboxSink {
            out: BufWriter::new(File::create(path)?),
            path: path.to_path_buf(),
        })
    }
}

/// One message in mboxrd form: a `From ` separator line, the message with local (LF) line ends
/// and `>*From ` lines quoted, and a blank line.
pub fn mboxrd_entry(m: &EmittedMessage) -> Vec<u8> {
    let sender = m
        .envelope
        .from
        .as_ref()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "MAILER-DAEMON".into());
    let when = m
        .date
        .with_timezone(&chrono::Utc)
        .format("%a %b %e %H:%M:%S %Y");
    let mut out = format!("From {sender} {when}\n").into_bytes();
    out.reserve(m.bytes.len() + 16);
    let text = &m.bytes;
    let mut start = 0;
    // Every line, the empty one after the final CRLF included (it is the blank separator).
    for end in memchr::memchr_iter(b'\n', text).chain(std::iter::once(text.len())) {
        let line = &text[start..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let quoted = matches!(line.first(), Some(b'>' | b'F'))
            && line
                .iter()
                .position(|&b| b != b'>')
                .is_some_and(|i| line[i..].starts_with(b"From "));
        if quoted {
            out.push(b'>');
        }
        out.extend_from_slice(line);
        out.push(b'\n');
        start = end + 1;
    }
    out
}

impl Sink for MboxSink {
    fn accept(&mut self, _index: usize, m: &EmittedMessage) -> io::Result<String> {
        self.out.write_all(&mboxrd_entry(m))?;
        Ok(self.path.display().to_string())
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()?;
        // Only a regular file can be synced (`--mbox /dev/null` is a fine way to measure).
        if self.out.get_ref().metadata()?.is_file() {
            self.out.get_ref().sync_data()?;
        }
        Ok(())
    }
}

/// Delivers into a Maildir: written to `tmp/`, then renamed into `new/` (the Maildir protocol,
/// so a reader never sees a partial file).
#[derive(Debug)]
pub struct MaildirSink {
    dir: PathBuf,
    stamp: String,
}

impl MaildirSink {
    /// Creates `tmp/`, `new/` and `cur/` as needed. `stamp` makes names unique across runs
    /// (the CLI passes the time and process id; tests pass a constant).
    ///
    /// # Errors
    /// When the folders cannot be created.
    pub fn new(dir: &Path, stamp: &str) -> io::Result<Self> {
        for sub in ["tmp", "new", "cur"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        Ok(MaildirSink {
            dir: dir.to_path_buf(),
            stamp: slug(stamp),
        })
    }
}

impl Sink for MaildirSink {
    fn accept(&mut self, index: usize, m: &EmittedMessage) -> io::Result<String> {
        let name = format!("{}.{index}_{}.mailspec", self.stamp, slug(&m.key));
        let tmp = self.dir.join("tmp").join(&name);
        {
            let mut f = File::create(&tmp)?;
            f.write_all(&m.bytes)?;
            f.sync_data()?;
        }
        let dest = self.dir.join("new").join(&name);
        fs::rename(&tmp, &dest)?;
        Ok(dest.display().to_string())
    }
}

/// Keeps nothing: for checking records without writing messages.
#[derive(Debug, Default)]
pub struct NullSink;

impl Sink for NullSink {
    fn accept(&mut self, _index: usize, _m: &EmittedMessage) -> io::Result<String> {
        Ok(String::new())
    }
}

/// Writes one message's bytes to a writer (stdout).
pub struct WriterSink<W: Write> {
    out: W,
}

impl<W: Write> WriterSink<W> {
    /// Wraps a writer.
    pub fn new(out: W) -> Self {
        WriterSink { out }
    }
}

impl<W: Write> Sink for WriterSink<W> {
    fn accept(&mut self, _index: usize, m: &EmittedMessage) -> io::Result<String> {
        self.out.write_all(&m.bytes)?;
        Ok("-".into())
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
