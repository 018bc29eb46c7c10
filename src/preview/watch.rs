//! File watching: any change under a spec's folders (spec, templates, data, assets) or in the
//! snapshot folder rebuilds the workspace and tells open pages.
//!
//! Folders are watched, not files: editors save by writing a new file and renaming it over the
//! old one, which a watch on the old file would miss. Events are debounced (one save is several
//! events); reads are not changes (the rebuild itself opens every file, and counting those
//! opens would rebuild forever).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, MetadataKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::Workspace;
use super::server::AppState;

/// How long events are gathered before a rebuild: one save makes several events within about
/// 100 ms.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// Whether an event can change what the preview shows.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        _ => true,
    }
}

/// Whether a path is an editor's temporary or backup file, or inside `.git`:
/// never read by a spec, and written on every keystroke by some editors.
fn is_noise(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.starts_with(".#")
        // Only `.git` among hidden folders: a spec may well live under one (tempfile's
        // `/tmp/.tmpXXXX`), so hidden is not enough.
        || path.components().any(|c| c.as_os_str() == ".git")
}

/// Which specs to rebuild.
#[derive(Debug, Clone)]
pub enum SpecList {
    /// The specs named on the command line, always the same.
    Given(Vec<PathBuf>),
    /// Every spec in this folder, listed again on each rebuild (so a new spec file appears
    /// and a deleted one goes), as [`crate::review::discover_specs`] finds them.
    Discover(PathBuf),
}

impl SpecList {
    /// The specs as of now (a folder that cannot be listed gives none: the index says so,
    /// and the next change lists it again).
    pub fn current(&self) -> Vec<PathBuf> {
        match self {
            SpecList::Given(v) => v.clone(),
            SpecList::Discover(dir) => crate::review::discover_specs(dir).unwrap_or_default(),
        }
    }
}

/// Starts the watcher thread: it owns the watcher and rebuilds `state` on changes until the
/// process ends. With [`SpecList::Discover`], the folder itself is watched too.
///
/// # Errors
/// When the platform's file watcher cannot be created.
pub fn spawn(state: AppState, specs: SpecList, snapshots: PathBuf) -> Result<(), notify::Error> {
    let (tx, rx) = mpsc::channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(DEBOUNCE, None, tx)?;
    let extra = match &specs {
        SpecList::Discover(dir) => dir.canonicalize().ok(),
        SpecList::Given(_) => None,
    };
    // The first watches are set before this returns, not on the thread: a change made as soon
    // as the server answers (a user's first save, or a test's) is never missed.
    let mut watched = BTreeSet::new();
    rewatch(
        &mut debouncer,
        &mut watched,
        &state.current(),
        &snapshots,
        extra.as_deref(),
    );
    std::thread::Builder::new()
        .name("mailspec-preview-watch".into())
        .spawn(move || run(debouncer, rx, state, specs, (snapshots, extra, watched)))
        .map_err(notify::Error::io)?;
    Ok(())
}

/// Watches what `ws` needs and stops watching what it no longer does.
fn rewatch(
    debouncer: &mut Debouncer<RecommendedWatcher, RecommendedCache>,
    watched: &mut BTreeSet<PathBuf>,
    ws: &Workspace,
    snapshots: &Path,
    extra: Option<&Path>,
) {
    let want = wanted(ws, snapshots, extra);
    for gone in watched.difference(&want) {
        let _ = debouncer.unwatch(gone);
    }
    for new in want.difference(watched) {
        if let Err(e) = debouncer.watch(new, RecursiveMode::Recursive) {
            eprintln!("warning: cannot watch {}: {e}", new.display());
        }
    }
    *watched = want;
}

/// The folders to watch: every spec's roots and the snapshot folder, without folders inside
/// another one (a recursive watch covers them).
fn wanted(ws: &Workspace, snapshots: &Path, extra: Option<&Path>) -> BTreeSet<PathBuf> {
    let mut all = ws.roots();
    all.extend(extra.map(Path::to_path_buf));
    if let Ok(s) = snapshots.canonicalize() {
        all.push(s);
    }
    all.sort();
    let mut out: BTreeSet<PathBuf> = BTreeSet::new();
    for p in all {
        if !out.iter().any(|kept| p.starts_with(kept)) && p.is_dir() {
            out.insert(p);
        }
    }
    out
}

fn run(
    mut debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    rx: mpsc::Receiver<DebounceEventResult>,
    state: AppState,
    specs: SpecList,
    (snapshots, extra, mut watched): (PathBuf, Option<PathBuf>, BTreeSet<PathBuf>),
) {
    while let Ok(first) = rx.recv() {
        let mut changed = relevant(&first);
        // Events that arrived while the last rebuild ran: one rebuild covers them all.
        while let Ok(more) = rx.try_recv() {
            changed |= relevant(&more);
        }
        if !changed {
            continue;
        }
        let generation = state.current().generation + 1;
        let ws = Workspace::build(&specs.current(), &snapshots, generation);
        // A template root added by the edit is watched from now on.
        rewatch(
            &mut debouncer,
            &mut watched,
            &ws,
            &snapshots,
            extra.as_deref(),
        );
        state.replace(ws);
    }
}

fn relevant(r: &DebounceEventResult) -> bool {
    match r {
        Ok(events) => events
            .iter()
            .any(|e| is_change(&e.kind) && e.paths.iter().any(|p| !is_noise(p))),
        // A watcher error (queue overflow) may have lost a change: rebuild to be sure.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_not_changes() {
        assert!(!is_change(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(is_change(&EventKind::Modify(ModifyKind::Any)));
        assert!(is_change(&EventKind::Remove(
            notify::event::RemoveKind::File
        )));
    }

    #[test]
    fn noise() {
        assert!(is_noise(Path::new("/s/templates/.a.html.swp")));
        assert!(is_noise(Path::new("/s/.git/index")));
        assert!(is_noise(Path::new("/s/a.html~")));
        assert!(!is_noise(Path::new("/s/templates/a.html.j2")));
        assert!(!is_noise(Path::new("/tmp/.tmpAb12/templates/a.html.j2")));
    }
}
