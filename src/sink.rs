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
    /// The part of storing a message that needs no other message, for the rendering threads
    /// to do as they go (see [`Stager`]); `None` when there is none worth moving.
    fn stager(&self) -> Option<Box<dyn Stager>> {
        None
    }
    /// Stores a message that this sink's [`Stager`] prepared; `staged` is what it returned.
    ///
    /// # Errors
    /// I/O errors.
    fn accept_staged(
        &mut self,
        index: usize,
        message: &EmittedMessage,
        staged: Staged,
    ) -> io::Result<String> {
        let _ = staged;
        self.accept(index, message)
    }
    /// A staged message that will not be stored (its id was already used, or the batch
    /// stopped first).
    fn discard_staged(&mut self, index: usize, staged: Staged) {
        let _ = (index, staged);
    }
    /// Flushes and closes.
    ///
    /// # Errors
    /// I/O errors.
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Per-message work of a sink that depends on no other message: run on the rendering threads,
/// in any order, so that the one thread that writes in record order does little more than
/// append and rename. For the mbox, the quoted entry with local line ends; for a directory, the
/// file itself under a temporary name and its index line with the SHA-256.
pub trait Stager: Send + Sync {
    /// Prepares message `index` (the record's index, unique in a batch).
    ///
    /// # Errors
    /// I/O errors (a directory's temporary file could not be written).
    fn stage(&self, index: usize, message: &EmittedMessage) -> io::Result<Staged>;
}

/// What a [`Stager`] made of one message, for the sink's ordered end.
#[derive(Debug, Default)]
pub struct Staged {
    /// Bytes to append in record order: an mbox entry, a folder's index line.
    pub bytes: Vec<u8>,
    /// The message's file, written but not yet given its name (see [`DirSink`]); `None` when
    /// it was written under a temporary name instead, or the sink writes no file per message.
    pub file: Option<StagedFile>,
}

/// A message's file as a folder's stager wrote it, before the ordered end names it.
#[derive(Debug)]
pub struct StagedFile(
    #[cfg(target_os = "linux")] unnamed::Written,
    #[cfg(not(target_os = "linux"))] std::convert::Infallible,
);

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

/// Writes `<dir>/<slug(key)>.eml`, and one line per message to `<dir>/`[`INDEX`].
#[derive(Debug)]
pub struct DirSink {
    dir: PathBuf,
    index: BufWriter<File>,
    stager: DirStager,
    /// 64-bit digests of the file names this batch wrote (8 bytes a message, not the names):
    /// what the previous batch listed and this one did not write is removed at the end. A
    /// collision would only leave one old file in place, listed as ours for the next run.
    written: std::collections::HashSet<u64>,
}

/// The index of the batch a render replaces, kept until the render ends (see [`DirSink::open`]).
pub const PREVIOUS: &str = ".mailspec-previous.jsonl";

/// Removes `name` from `dir` if it is a plain file name (an index is ours, but a folder is not
/// a place to trust paths); a file already gone is fine.
fn remove_listed(dir: &Path, name: &str) -> io::Result<()> {
    if name.contains(['/', '\\']) || name.starts_with('.') {
        return Ok(());
    }
    match fs::remove_file(dir.join(name)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The file a message gets in a folder: `<slug(key)>.eml`.
fn eml_name(m: &EmittedMessage) -> String {
    format!("{}.eml", slug(&m.key))
}

fn name_digest(name: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    // `DefaultHasher::new()` has fixed keys: the same name gives the same digest in a run.
    let mut h = std::hash::DefaultHasher::new();
    name.hash(&mut h);
    h.finish()
}

/// How the temporary name of a message being written starts (`.mailspec-tmp-<index>`): in the
/// folder itself, so the rename into place stays in one directory (atomic, and on ext4 here
/// cheaper than from a fresh sub-folder, whose first entries each cost a new block). A crash
/// may leave some; the next render into the folder removes them.
pub const STAGING: &str = ".mailspec-tmp-";

/// The temporary name of message `index` in its folder.
fn tmp_name(index: usize) -> String {
    format!("{STAGING}{index}")
}

/// Writes each message's file (the expensive part: making a file and writing it) and returns
/// its index line. The file is unnamed where the folder allows it ([`unnamed`]), otherwise
/// `<dir>/.mailspec-tmp-<index>`.
#[derive(Debug, Clone)]
struct DirStager {
    dir: PathBuf,
    #[cfg(target_os = "linux")]
    unnamed: Option<std::sync::Arc<unnamed::Folder>>,
}

impl DirStager {
    fn new(dir: &Path) -> Self {
        DirStager {
            dir: dir.to_path_buf(),
            #[cfg(target_os = "linux")]
            unnamed: unnamed::Folder::open(dir).map(std::sync::Arc::new),
        }
    }

    fn tmp(&self, index: usize) -> PathBuf {
        self.dir.join(tmp_name(index))
    }

    /// The message's file, written: over a spare file when there is one, else unnamed when it
    /// can be, or else under its temporary name.
    fn write(&self, index: usize, bytes: &[u8]) -> io::Result<Option<StagedFile>> {
        #[cfg(target_os = "linux")]
        if let Some(folder) = &self.unnamed
            && let Some(written) = folder.write(bytes)?
        {
            return Ok(Some(StagedFile(written)));
        }
        File::create(self.tmp(index))?.write_all(bytes)?;
        Ok(None)
    }

    /// Gives message `index` its `name`. Either way the name appears with the whole message
    /// behind it, and a name that exists (a message rendered again) is replaced in one step,
    /// never absent meanwhile.
    fn place(&self, index: usize, file: Option<StagedFile>, name: &str) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if let Some(folder) = &self.unnamed {
            return match file {
                Some(StagedFile(written)) => folder.place(written, name, || tmp_name(index)),
                None => folder.swap_in(tmp_name(index), name),
            };
        }
        #[cfg(not(target_os = "linux"))]
        if let Some(StagedFile(never)) = file {
            match never {}
        }
        fs::rename(self.tmp(index), self.dir.join(name))
    }

    /// Undoes [`DirStager::write`] for a message that will not be stored.
    fn discard(&self, index: usize, file: Option<StagedFile>) {
        match file {
            #[cfg(target_os = "linux")]
            Some(StagedFile(written)) => {
                if let Some(folder) = &self.unnamed {
                    folder.discard(written);
                }
            }
            #[cfg(not(target_os = "linux"))]
            Some(StagedFile(never)) => match never {},
            // Best effort: the next render into the folder removes what is left.
            None => {
                let _ = fs::remove_file(self.tmp(index));
            }
        }
    }

    /// Removes the spare files left when the batch ends.
    fn finish(&self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if let Some(folder) = &self.unnamed {
            return folder.drop_spares();
        }
        Ok(())
    }
}

impl Stager for DirStager {
    fn stage(&self, index: usize, m: &EmittedMessage) -> io::Result<Staged> {
        let file = self.write(index, &m.bytes)?;
        Ok(Staged {
            bytes: envelope_json(&eml_name(m), m),
            file,
        })
    }
}

/// Linux `O_TMPFILE` (open(2)): a file made in a folder with no name, written, then named with
/// one `linkat`. Like a temporary file renamed into place it appears whole or not at all, but
/// it adds one directory entry instead of adding one and moving it, and making it does not
/// lock the folder. On ext4 a named create holds the folder's lock while the inode is
/// allocated, which is slow after many deletions (it skips recently freed inodes), and two
/// rendering threads creating files in one folder spent a third of the run spinning on that
/// lock (perf, benches/order, N = 10,000).
///
/// A message rendered again trades places with its old file (`renameat2` with
/// `RENAME_EXCHANGE`, rename(2)): the name holds the whole new file at once, and the old file,
/// now under a temporary name, is a spare that a later message is written over. A re-render
/// then frees no inode and allocates none. Without a journal, ext4 (this machine's) makes each
/// allocation skip every inode freed in the last minute, reading its inode table; a re-render of
/// 2,000 messages spent 70 % of its time there (perf, benches/order). A spare is reused only if
/// nothing else shares it and it looks as a new file would: a regular file with one link, the
/// owner, group and permissions a new file gets. Otherwise it is removed, as a rename over it
/// would have freed it.
#[cfg(target_os = "linux")]
mod unnamed {
    use std::fs::File;
    use std::io::{self, Write};
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::fs::FileExt;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, RenameFlags};
    use rustix::io::Errno;

    /// At most this many spares wait at once; more are removed. A spare is made each time a
    /// message replaces a file and used by the next message written, so few ever wait.
    const MOST_SPARES: usize = 64;

    /// A message's file, written and not yet named.
    #[derive(Debug)]
    pub enum Written {
        /// Made with `O_TMPFILE`.
        Unnamed(File),
        /// Written over a spare.
        Spare(Spare),
    }

    /// An earlier file moved aside under a temporary name, to be written over. One that is
    /// dropped unused (a batch stopped by an error) removes its name.
    #[derive(Debug)]
    pub struct Spare {
        file: File,
        name: String,
        len: u64,
        dir: Arc<OwnedFd>,
    }

    impl Drop for Spare {
        fn drop(&mut self) {
            if !self.name.is_empty() {
                let _ = rustix::fs::unlinkat(&*self.dir, self.name.as_str(), AtFlags::empty());
            }
        }
    }

    impl Spare {
        /// The spare holding exactly `bytes`.
        fn fill(&mut self, bytes: &[u8]) -> io::Result<()> {
            self.file.write_all_at(bytes, 0)?;
            let len = bytes.len() as u64;
            if len < self.len {
                self.file.set_len(len)?;
            }
            self.len = len;
            Ok(())
        }
    }

    #[derive(Debug)]
    pub struct Folder {
        fd: Arc<OwnedFd>,
        /// Files open now (unnamed ones written and not yet linked, and spares) and how many
        /// may be: each holds a file descriptor, so at most half the process's limit, leaving
        /// the rest for everything else. Past it a message is written under a temporary name,
        /// which needs a descriptor only while it is written.
        open: AtomicUsize,
        most: usize,
        /// The owner, group and permission bits a new file gets here.
        fresh: (u32, u32, u32),
        spares: Mutex<Vec<Spare>>,
        /// Cleared when the file system cannot exchange two names.
        exchange: AtomicBool,
    }

    impl Folder {
        /// The folder, when unnamed files can be made in it and linked through `/proc/self/fd`
        /// (the link that needs no privilege, open(2)): a probe file is made, linked as
        /// [`super::STAGING`]`probe` and removed. `None`, and temporary names are used, when
        /// the file system or the kernel lacks either.
        pub fn open(dir: &Path) -> Option<Folder> {
            let fd = rustix::fs::open(
                dir,
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .ok()?;
            let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
            let most = limit.map_or(usize::MAX, |n| usize::try_from(n / 2).unwrap_or(usize::MAX));
            let mut folder = Folder {
                fd: Arc::new(fd),
                open: AtomicUsize::new(0),
                most,
                fresh: (u32::MAX, u32::MAX, u32::MAX),
                spares: Mutex::new(Vec::new()),
                exchange: AtomicBool::new(true),
            };
            let probe = folder.create()?;
            let st = rustix::fs::fstat(&probe).ok()?;
            folder.fresh = (st.st_uid, st.st_gid, st.st_mode & 0o7777);
            let name = format!("{}probe", super::STAGING);
            let _ = rustix::fs::unlinkat(&*folder.fd, name.as_str(), AtFlags::empty());
            let linked = folder.link(probe, &name).is_ok();
            rustix::fs::unlinkat(&*folder.fd, name.as_str(), AtFlags::empty()).ok()?;
            linked.then_some(folder)
        }

        /// One more file may be held open.
        fn hold(&self) -> bool {
            if self.open.fetch_add(1, Ordering::Relaxed) >= self.most {
                self.open.fetch_sub(1, Ordering::Relaxed);
                return false;
            }
            true
        }

        /// A new unnamed file, mode 0666 less the umask as `File::create` makes it; `None`
        /// when as many are open as may be, or the kernel refuses one (the caller then writes
        /// a named file).
        pub fn create(&self) -> Option<File> {
            if !self.hold() {
                return None;
            }
            let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
            match rustix::fs::openat(&*self.fd, ".", flags, Mode::from_raw_mode(0o666)) {
                Ok(fd) => Some(File::from(fd)),
                Err(_) => {
                    self.open.fetch_sub(1, Ordering::Relaxed);
                    None
                }
            }
        }

        /// `bytes` written to a spare if one waits, else to a new unnamed file; `None` when
        /// neither can be had (the caller then writes a named file).
        pub fn write(&self, bytes: &[u8]) -> io::Result<Option<Written>> {
            let spare = self.spares.lock().ok().and_then(|mut s| s.pop());
            if let Some(mut spare) = spare {
                return match spare.fill(bytes) {
                    Ok(()) => Ok(Some(Written::Spare(spare))),
                    Err(e) => {
                        self.forget(spare);
                        Err(e)
                    }
                };
            }
            let Some(mut file) = self.create() else {
                return Ok(None);
            };
            if let Err(e) = file.write_all(bytes) {
                self.forget(file);
                return Err(e);
            }
            Ok(Some(Written::Unnamed(file)))
        }

        /// Names a written file `name`; `tmp` gives the temporary name an unnamed file is
        /// linked under first when `name` exists.
        pub fn place(
            &self,
            written: Written,
            name: &str,
            tmp: impl FnOnce() -> String,
        ) -> io::Result<()> {
            match written {
                Written::Spare(mut spare) => {
                    let from = std::mem::take(&mut spare.name);
                    self.forget(spare);
                    self.swap_in(from, name)
                }
                Written::Unnamed(file) => match self.link(file, name) {
                    Ok(()) => Ok(()),
                    Err((e, file)) if e.kind() == io::ErrorKind::AlreadyExists => {
                        let from = tmp();
                        self.link(file, &from).map_err(|(e, f)| {
                            self.forget(f);
                            e
                        })?;
                        self.swap_in(from, name)
                    }
                    Err((e, file)) => {
                        self.forget(file);
                        Err(e)
                    }
                },
            }
        }

        /// Moves the file named `from` to `to` in one step. A file that `to` names is
        /// exchanged with it and kept as a spare, or else replaced as by rename(2).
        pub fn swap_in(&self, from: String, to: &str) -> io::Result<()> {
            if self.exchange.load(Ordering::Relaxed) {
                let both = RenameFlags::EXCHANGE;
                match rustix::fs::renameat_with(&*self.fd, from.as_str(), &*self.fd, to, both) {
                    Ok(()) => return self.keep_spare(from, to),
                    // Nothing to exchange with: a plain rename (which reports a missing `from`).
                    Err(Errno::NOENT) => {}
                    Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                        self.exchange.store(false, Ordering::Relaxed);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            rustix::fs::renameat(&*self.fd, from.as_str(), &*self.fd, to).map_err(Into::into)
        }

        /// `name` holds the file that `to` named until an exchange: kept as a spare when it
        /// can be written over unseen, else removed. The message is in place already, so only
        /// a folder where it went is an error (the exchange is undone); a name this fails to
        /// remove is removed by the next render into the folder.
        fn keep_spare(&self, name: String, to: &str) -> io::Result<()> {
            let Ok(st) = rustix::fs::statat(&*self.fd, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
            else {
                return Ok(());
            };
            let kind = FileType::from_raw_mode(st.st_mode);
            if kind == FileType::Directory {
                // rename(2) never puts a file in place of a folder: undone, and said so.
                let both = RenameFlags::EXCHANGE;
                rustix::fs::renameat_with(&*self.fd, name.as_str(), &*self.fd, to, both)?;
                let _ = rustix::fs::unlinkat(&*self.fd, name.as_str(), AtFlags::empty());
                return Err(Errno::ISDIR.into());
            }
            let alone_and_fresh = kind == FileType::RegularFile
                && st.st_nlink == 1
                && (st.st_uid, st.st_gid, st.st_mode & 0o7777) == self.fresh;
            if alone_and_fresh && self.hold() {
                let flags = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                match rustix::fs::openat(&*self.fd, name.as_str(), flags, Mode::empty()) {
                    Ok(fd) => {
                        let spare = Spare {
                            file: File::from(fd),
                            name,
                            len: st.st_size.unsigned_abs(),
                            dir: Arc::clone(&self.fd),
                        };
                        self.put_back(spare);
                        return Ok(());
                    }
                    Err(_) => {
                        self.open.fetch_sub(1, Ordering::Relaxed);
                    }
                }
            }
            let _ = rustix::fs::unlinkat(&*self.fd, name.as_str(), AtFlags::empty());
            Ok(())
        }

        /// A spare waits for the next message, or is removed if enough wait already.
        fn put_back(&self, spare: Spare) {
            match self.spares.lock() {
                Ok(mut spares) if spares.len() < MOST_SPARES => spares.push(spare),
                _ => self.forget(spare),
            }
        }

        /// Undoes [`Folder::write`] for a message that will not be stored.
        pub fn discard(&self, written: Written) {
            match written {
                Written::Unnamed(file) => self.forget(file),
                Written::Spare(spare) => self.put_back(spare),
            }
        }

        /// Removes the spares still waiting (the batch is over).
        pub fn drop_spares(&self) -> io::Result<()> {
            let spares = match self.spares.lock() {
                Ok(mut s) => std::mem::take(&mut *s),
                Err(_) => return Ok(()),
            };
            let mut result = Ok(());
            for mut spare in spares {
                let name = std::mem::take(&mut spare.name);
                let gone = rustix::fs::unlinkat(&*self.fd, name.as_str(), AtFlags::empty());
                if let (Err(e), Ok(())) = (gone, &result) {
                    result = Err(e.into());
                }
                self.forget(spare);
            }
            result
        }

        /// Closes a file this folder counted as open (an unnamed file's inode is freed with
        /// it; a spare's name is removed unless it was taken, best effort: the next render
        /// into the folder removes a temporary name left behind).
        pub fn forget<F>(&self, file: F) {
            drop(file);
            self.open.fetch_sub(1, Ordering::Relaxed);
        }

        /// Names `file` (made by [`Folder::create`]) `name`, a name in the folder, and closes
        /// it; on an error the file is given back.
        pub fn link(&self, file: File, name: &str) -> Result<(), (io::Error, File)> {
            let source = format!("/proc/self/fd/{}", file.as_raw_fd());
            match rustix::fs::linkat(
                CWD,
                source.as_str(),
                &*self.fd,
                name,
                AtFlags::SYMLINK_FOLLOW,
            ) {
                Ok(()) => {
                    self.forget(file);
                    Ok(())
                }
                Err(e) => Err((e.into(), file)),
            }
        }
    }

    /// A batch that stops on an error leaves no spare behind either.
    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = self.drop_spares();
        }
    }
}

/// The folder's index, JSON lines in record order: for each message the `.eml` file name and
/// its envelope (see [`envelope_json`]). One file for the whole batch rather than a small file
/// beside every message: creating a file costs the kernel far more than appending a line, and
/// on this project's benchmark a second file per message doubled the render's system time.
///
/// It is also the manifest: when the next render into the same folder ends, the files it
/// listed and that render did not write again are removed, so no message of an earlier run is
/// left beside the new ones, and nothing else is touched.
pub const INDEX: &str = "envelopes.jsonl";

impl DirSink {
    /// Creates the directory if needed. What the previous render into it wrote (listed in its
    /// [`INDEX`]) stays until [`Sink::finish`], which removes what this batch did not write
    /// again. Refuses a folder holding `.eml` files that no index lists (another tool's, or an
    /// older run's) unless `replace` is set, which removes every `.eml` file there first.
    ///
    /// # Errors
    /// When the folder cannot be created or cleaned, or holds messages this sink did not write.
    pub fn open(dir: &Path, replace: bool) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let listed = listed_files(dir)?;
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
        drop(listed);
        for name in &foreign {
            remove_listed(dir, name)?;
        }
        // The previous batch's files stay until this one is written: a message rendered again
        // replaces its file in one rename (never absent, never half there), and what this batch
        // does not write is removed when it ends. Its index is kept aside until then (added to
        // what a crashed run kept aside, so nothing ours is ever forgotten).
        match fs::read(dir.join(INDEX)) {
            Ok(old) => {
                fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join(PREVIOUS))?
                    .write_all(&old)?;
                fs::remove_file(dir.join(INDEX))?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }

        let index = BufWriter::new(File::create(dir.join(INDEX))?);
        Ok(DirSink {
            dir: dir.to_path_buf(),
            index,
            stager: DirStager::new(dir),
            written: std::collections::HashSet::new(),
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

/// The file names the folder's [`INDEX`] lists. A line that is not a JSON object with a `file`
/// (the last one, cut short by a crash) lists nothing: its message, if written, is then
/// foreign and needs `--force`.
fn listed_files(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for file in [INDEX, PREVIOUS] {
        let text = match fs::read_to_string(dir.join(file)) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        names.extend(text.lines().filter_map(file_of_line));
    }
    Ok(names)
}

/// The `file` of an index line.
fn file_of_line(line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v.get("file")?.as_str().map(str::to_string)
}

/// `.eml` files in `dir` that `listed` does not name. Temporary files a crashed render left
/// are removed on the way.
fn foreign_messages(dir: &Path, listed: &[String]) -> io::Result<Vec<String>> {
    let listed: std::collections::HashSet<&str> = listed.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let name = e?.file_name().to_string_lossy().into_owned();
        if name.starts_with(STAGING) {
            fs::remove_file(dir.join(&name))?;
        } else if name.ends_with(".eml") && !listed.contains(name.as_str()) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

impl Sink for DirSink {
    fn accept(&mut self, index: usize, m: &EmittedMessage) -> io::Result<String> {
        let staged = self.stager.stage(index, m)?;
        self.accept_staged(index, m, staged)
    }

    fn stager(&self) -> Option<Box<dyn Stager>> {
        Some(Box::new(self.stager.clone()))
    }

    /// The stager wrote the message's file (unnamed, or under a temporary name); here it is
    /// listed, then given its name, so a reader never sees half a message and an interrupted
    /// run is cleaned up by the next one (a listed file that was never named is simply not
    /// there to remove; an unnamed one vanishes with the process). No fsync per file: a
    /// rendered directory is reproducible output, not a mail queue, and a sync per message
    /// would cost more than rendering it. After a power loss a
    /// file may be empty or short; the SHA-256 in the index is what `send --rendered` checks,
    /// so such a file is refused, never sent.
    fn accept_staged(
        &mut self,
        index: usize,
        m: &EmittedMessage,
        staged: Staged,
    ) -> io::Result<String> {
        self.index.write_all(&staged.bytes)?;
        self.index.flush()?;
        let file = eml_name(m);
        self.written.insert(name_digest(&file));
        self.stager.place(index, staged.file, &file)?;
        Ok(self.dir.join(file).display().to_string())
    }

    fn discard_staged(&mut self, index: usize, staged: Staged) {
        self.stager.discard(index, staged.file);
    }

    fn finish(&mut self) -> io::Result<()> {
        self.index.flush()?;
        self.stager.finish()?;
        // The previous batch's messages that this one did not write again.
        let previous = self.dir.join(PREVIOUS);
        let old = match File::open(&previous) {
            Ok(f) => io::BufReader::new(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for line in io::BufRead::lines(old) {
            if let Some(name) = file_of_line(&line?)
                && !self.written.contains(&name_digest(&name))
            {
                remove_listed(&self.dir, &name)?;
            }
        }
        fs::remove_file(previous)
    }
}

/// One line of a folder's [`INDEX`]: a JSON object with the `.eml` `file` name, the record id
/// (`key`), the Message-ID, `mail_from` (empty for the null reverse-path), `rcpt_to` (Bcc
/// included), `smtputf8`, and the SHA-256 of the `.eml` bytes (so a sender can refuse a file
/// changed since it was rendered), ending in a line feed.
pub fn envelope_json(file: &str, m: &EmittedMessage) -> Vec<u8> {
    let sha = sha256_hex(&m.bytes);
    let v = serde_json::json!({
        "file": file,
        "key": m.key,
        "message_id": m.message_id,
        "mail_from": m.envelope.from.as_ref().map(ToString::to_string).unwrap_or_default(),
        "rcpt_to": m.envelope.to.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "smtputf8": m.envelope.smtputf8,
        "sha256": sha,
    });
    let mut out = serde_json::to_vec(&v).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The SHA-256 of `bytes` in lower-case hex, as the index records it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    use std::fmt::Write as _;
    let mut out = String::with_capacity(64);
    for b in sha2::Sha256::digest(bytes) {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Appends messages to an mboxrd file (every `>*From ` line gets one more `>`).
#[derive(Debug)]
pub struct MboxSink {
    out: File,
    path: PathBuf,
    /// Entries not yet written, and their total size: written together with one `writev`
    /// once they reach [`MboxSink::BATCH`] bytes (or entries). Copying each entry into a
    /// buffer first cost a copy of every message.
    pending: Vec<Vec<u8>>,
    pending_len: usize,
}

impl MboxSink {
    /// Bytes, or entries, held before a write.
    const BATCH: usize = 1 << 20;
    const BATCH_ENTRIES: usize = 64;

    /// Creates (truncates) the file.
    ///
    /// # Errors
    /// When it cannot be created.
    pub fn new(path: &Path) -> io::Result<Self> {
        Ok(MboxSink {
            out: File::create(path)?,
            path: path.to_path_buf(),
            pending: Vec::new(),
            pending_len: 0,
        })
    }

    fn append(&mut self, entry: Vec<u8>) -> io::Result<String> {
        self.pending_len += entry.len();
        self.pending.push(entry);
        if self.pending_len >= Self::BATCH || self.pending.len() >= Self::BATCH_ENTRIES {
            self.write_pending()?;
        }
        Ok(self.path.display().to_string())
    }

    fn write_pending(&mut self) -> io::Result<()> {
        let mut slices: Vec<io::IoSlice<'_>> =
            self.pending.iter().map(|e| io::IoSlice::new(e)).collect();
        let mut left = &mut slices[..];
        while !left.is_empty() {
            match self.out.write_vectored(left) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => io::IoSlice::advance_slices(&mut left, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pending.clear();
        self.pending_len = 0;
        Ok(())
    }
}

/// One message in mboxrd form: a `From ` separator line, the message with local (LF) line ends
/// and `>*From ` lines quoted, and a blank line. A body shared by every message (a static
/// attachment) is converted once and its lines copied from then on.
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
    for span in &m.shared {
        let body = &span.content.bytes;
        // The lines of a body are the same wherever it sits if it starts a line. The span is
        // checked, not trusted: one that does not hold is left to the general way below.
        let holds = span.at >= start
            && span
                .at
                .checked_add(body.len())
                .and_then(|end| text.get(span.at..end))
                == Some(body.as_slice())
            && (span.at == 0 || text[span.at - 1] == b'\n');
        if !holds {
            continue;
        }
        start += mboxrd_lines(&mut out, &text[start..span.at]);
        debug_assert_eq!(start, span.at);
        out.extend_from_slice(span.content.derived(|b| {
            let mut lines = Vec::with_capacity(b.len());
            mboxrd_lines(&mut lines, b);
            lines
        }));
        // Only the complete lines were taken: the last one may go on after the body.
        start = span.at + memchr::memrchr(b'\n', body).map_or(0, |i| i + 1);
    }
    let rest = &text[start..];
    let taken = mboxrd_lines(&mut out, rest);
    // The last line: after the final CRLF it is the empty one, the entry's blank separator.
    mboxrd_line(&mut out, &rest[taken..]);
    out
}

/// Every complete line of `text` (up to its last LF) in mboxrd form; returns the length taken.
fn mboxrd_lines(out: &mut Vec<u8>, text: &[u8]) -> usize {
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', text) {
        mboxrd_line(out, &text[start..end]);
        start = end + 1;
    }
    start
}

/// One line, given without its LF: the CR before the LF dropped, LF written, and one more `>`
/// before a `From ` that starts the line after any number of `>`.
fn mboxrd_line(out: &mut Vec<u8>, line: &[u8]) {
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
}

/// An mbox entry is made on the rendering threads; only the append is ordered.
struct MboxStager;

impl Stager for MboxStager {
    fn stage(&self, _index: usize, m: &EmittedMessage) -> io::Result<Staged> {
        Ok(Staged {
            bytes: mboxrd_entry(m),
            file: None,
        })
    }
}

impl Sink for MboxSink {
    fn accept(&mut self, _index: usize, m: &EmittedMessage) -> io::Result<String> {
        self.append(mboxrd_entry(m))
    }
    fn stager(&self) -> Option<Box<dyn Stager>> {
        Some(Box::new(MboxStager))
    }
    fn accept_staged(
        &mut self,
        _index: usize,
        _m: &EmittedMessage,
        entry: Staged,
    ) -> io::Result<String> {
        self.append(entry.bytes)
    }
    /// Writes what is held. No fsync, as for a folder (see [`DirSink`]): the file can be made
    /// again, and a sync waits for the disk.
    fn finish(&mut self) -> io::Result<()> {
        self.write_pending()
    }
}

/// Entries already reported as written are written even when the batch ends without
/// [`Sink::finish`] (an error elsewhere), as a buffered writer's drop would.
impl Drop for MboxSink {
    fn drop(&mut self) {
        let _ = self.write_pending();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::{Encoded, SharedSpan, TransferEncoding};
    use proptest::prelude::*;
    use std::sync::Arc;

    fn message(bytes: Vec<u8>, shared: Vec<SharedSpan>) -> EmittedMessage {
        EmittedMessage {
            key: "k".into(),
            message_id: "id@example.com".into(),
            envelope: crate::render::Envelope {
                from: None,
                to: Vec::new(),
                smtputf8: false,
            },
            date: chrono::DateTime::from_timestamp(0, 0)
                .map(|d| d.fixed_offset())
                .unwrap_or_default(),
            bytes,
            shared,
        }
    }

    /// Lines and pieces of lines that mboxrd treats differently.
    const PIECES: &[&[u8]] = &[
        b"From x", b">From y", b">>From ", b"F", b"Fro", b"m ", b">", b"abc", b"\r\n", b"\n", b"\r",
    ];

    proptest! {
        /// An entry with shared bodies taken from their converted-once form is the entry
        /// written line by line: wherever a body sits (a line start or not), whatever it
        /// holds (`From ` lines, CR, a last line that goes on after it), used twice in one
        /// message, or with a span that is wrong.
        #[test]
        fn shared_bodies_give_the_entry_written_line_by_line(
            bodies in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(PIECES), 0..12), 1..4),
            layout in proptest::collection::vec((0..8usize, proptest::sample::select(PIECES)), 0..10),
            wrong in proptest::option::of(0..400usize),
        ) {
            let bodies: Vec<Arc<Encoded>> = bodies
                .iter()
                .map(|b| Arc::new(Encoded::new(TransferEncoding::Base64, b.concat())))
                .collect();
            let (mut bytes, mut shared) = (b"Subject: x\r\n\r\n".to_vec(), Vec::new());
            for (pick, text) in &layout {
                match bodies.get(*pick) {
                    Some(body) => {
                        shared.push(SharedSpan { at: bytes.len(), content: Arc::clone(body) });
                        bytes.extend_from_slice(&body.bytes);
                    }
                    None => bytes.extend_from_slice(text),
                }
            }
            bytes.extend_from_slice(b"\r\n");
            if let Some(at) = wrong {
                shared.push(SharedSpan { at, content: Arc::clone(&bodies[0]) });
            }
            let want = mboxrd_entry(&message(bytes.clone(), Vec::new()));
            // Twice: the second time every body's converted form is already made.
            for _ in 0..2 {
                let got = mboxrd_entry(&message(bytes.clone(), shared.clone()));
                prop_assert_eq!(&got, &want);
            }
        }
    }

    #[test]
    fn a_line_starting_from_is_quoted_once_more() {
        let entry = mboxrd_entry(&message(
            b"Subject: x\r\n\r\nFrom here\r\n>From there\r\nFrom\r\n".to_vec(),
            Vec::new(),
        ));
        assert_eq!(
            entry,
            b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\nSubject: x\n\n>From here\n>>From there\nFrom\n\n"
        );
    }
}
