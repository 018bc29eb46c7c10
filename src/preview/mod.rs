//! Preview: every message of every spec as a person will see it, live while the spec is edited,
//! and static review pages of changed snapshots for pull requests.
//!
//! Input: spec paths, and the snapshot folder. Output: a [`Workspace`] — for each spec either
//! its located diagnostics (the same text `mailspec check` prints) or, for each record set (the
//! `data.sample` and each of `data.fixtures`), the [`EmittedMessage`]s and the per-record
//! problems, plus for fixtures the comparison with the committed snapshot.
//!
//! The pieces:
//! - [`Workspace::build`] compiles and renders (pure apart from reading the spec's files, the
//!   data files and the snapshot files), always with the fixture date, so a preview shows
//!   exactly what `mailspec test` compares;
//! - [`server`] serves pages over HTTP on loopback (axum on tokio), rebuilding on file changes
//!   ([`watch`]) and telling open pages over server-sent events;
//! - [`page`] writes the HTML; [`mail`] decodes a message for display (parts, `cid:` links,
//!   remote images);
//! - [`report`] writes the static before/after pages of `mailspec test --html`.
//!
//! Safety: message HTML is only ever shown inside a sandboxed iframe whose response carries a
//! Content-Security-Policy that allows no script and no remote load (remote images only after
//! the user asks); the server binds 127.0.0.1, answers only requests whose `Host` is local (DNS
//! rebinding), serves no file outside the spec roots, and has no route that sends mail.

pub mod mail;
pub mod page;
pub mod report;
pub mod server;
pub mod watch;

use std::path::{Path, PathBuf};

use crate::batch::{self, BatchOptions, Selection, Status};
use crate::render::{EmittedMessage, RenderOptions};
use crate::review;
use crate::sink::Sink;
use crate::spec::CompiledSpec;
use crate::spec::model::Records;

/// Most records of one set that the preview renders: a preview is for looking, and a sample of
/// a million rows must not stall every edit.
pub const MAX_RECORDS: usize = 200;

/// Everything the preview shows, rebuilt on every change.
#[derive(Debug, Default)]
pub struct Workspace {
    /// Counts rebuilds; pages carry it so that a page opened just before a rebuild still
    /// notices it.
    pub generation: u64,
    /// One entry per spec, in the order given.
    pub specs: Vec<SpecEntry>,
}

/// One spec: where it is and what came of it.
#[derive(Debug)]
pub struct SpecEntry {
    /// The path as given (shown to the user).
    pub shown: String,
    /// The path as given.
    pub path: PathBuf,
    /// Folders whose files this spec may read: its own folder and its template roots
    /// (canonical). Served files must be inside one of them; the watcher watches them.
    pub roots: Vec<PathBuf>,
    /// The compiled result.
    pub state: SpecState,
}

/// A spec that compiled, or the reason it did not.
#[derive(Debug)]
pub enum SpecState {
    /// The spec has errors: the rendered diagnostics (as `mailspec check` prints them).
    Failed {
        /// Located diagnostics, as text.
        diagnostics: String,
    },
    /// The spec compiled.
    Ready(Box<ReadySpec>),
}

/// A compiled spec and its rendered record sets.
#[derive(Debug)]
pub struct ReadySpec {
    /// The spec's name.
    pub name: String,
    /// The spec's description, if any.
    pub description: Option<String>,
    /// Warnings, rendered (empty when none).
    pub warnings: String,
    /// The sample first (when there is one), then the fixtures in spec order.
    pub sets: Vec<RecordSet>,
}

/// A named set of records and the messages they gave.
#[derive(Debug)]
pub struct RecordSet {
    /// URL segment: `sample` or `fixture-<name>`.
    pub id: String,
    /// For people: `sample` or `fixture <name>`.
    pub label: String,
    /// The fixture name, for fixtures.
    pub fixture: Option<String>,
    /// The records, or why the set could not be opened at all.
    pub records: Result<Vec<RecordResult>, String>,
    /// Records left out after [`MAX_RECORDS`].
    pub truncated: bool,
    /// For fixtures: the comparison with the committed snapshot.
    pub snapshot: Option<SnapshotStatus>,
}

/// One record: its message, or why it has none.
#[derive(Debug)]
pub struct RecordResult {
    /// 1-based position in the set.
    pub index: usize,
    /// The record id (key field or index), when known.
    pub key: Option<String>,
    /// The message, or one line per problem.
    pub message: Result<EmittedMessage, Vec<String>>,
}

/// How a fixture compares with its committed snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// Identical.
    Matches,
    /// No snapshot file (yet).
    Missing {
        /// The file looked for.
        file: String,
    },
    /// Different: a unified diff, committed → rendered.
    Differs {
        /// The file compared with.
        file: String,
        /// The unified diff.
        diff: String,
    },
    /// Some record failed, so there is no view to compare.
    NotRendered,
    /// The file could not be read or is not a snapshot file.
    Unreadable {
        /// What went wrong.
        reason: String,
    },
}

impl Workspace {
    /// Compiles every spec and renders every record set. Never fails: a spec that does not
    /// compile keeps its diagnostics, a record that does not render its problems.
    pub fn build(specs: &[PathBuf], snapshots: &Path, generation: u64) -> Workspace {
        let specs = specs.iter().map(|p| build_spec(p, snapshots)).collect();
        Workspace { generation, specs }
    }

    /// Every folder any spec may read (each spec's folder and template roots), for the watcher.
    pub fn roots(&self) -> Vec<PathBuf> {
        let mut all: Vec<PathBuf> = self
            .specs
            .iter()
            .flat_map(|s| s.roots.iter().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

/// A path as shown: `/` separators, no leading `./`.
pub fn shown_path(p: &Path) -> String {
    let s = p.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// The folder of a spec file (canonical when it exists), its fallback root when it does not
/// compile.
fn spec_folder(path: &Path) -> PathBuf {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parent
        .canonicalize()
        .unwrap_or_else(|_| parent.to_path_buf())
}

fn build_spec(path: &Path, snapshots: &Path) -> SpecEntry {
    let shown = shown_path(path);
    // A bug in a later stage must not take the server down: the page says what happened and
    // the next edit tries again.
    let compiled = std::panic::catch_unwind(|| crate::spec::compile_path(path));
    let c = match compiled {
        Ok(Ok(c)) => c,
        Ok(Err((sources, diags))) => {
            return SpecEntry {
                shown,
                path: path.to_path_buf(),
                roots: vec![spec_folder(path)],
                state: SpecState::Failed {
                    diagnostics: sources.render(&diags),
                },
            };
        }
        Err(_) => {
            return SpecEntry {
                shown,
                path: path.to_path_buf(),
                roots: vec![spec_folder(path)],
                state: SpecState::Failed {
                    diagnostics: "internal error: compiling this spec panicked (a bug in \
                                  mailspec; please report it)"
                        .into(),
                },
            };
        }
    };
    let mut roots = c.roots();
    roots.push(c.dir.clone());
    roots.sort();
    roots.dedup();
    let mut sets = Vec::new();
    if let Some(sample) = &c.spec.data.sample {
        sets.push(render_set(&c, "sample".into(), None, sample, snapshots));
    }
    for (name, records) in &c.spec.data.fixtures {
        sets.push(render_set(
            &c,
            format!("fixture-{name}"),
            Some(name.clone()),
            records,
            snapshots,
        ));
    }
    SpecEntry {
        shown,
        path: path.to_path_buf(),
        roots,
        state: SpecState::Ready(Box::new(ReadySpec {
            name: c.name.clone(),
            description: c.spec.description.clone(),
            warnings: if c.warnings.is_empty() {
                String::new()
            } else {
                c.sources.render(&c.warnings)
            },
            sets,
        })),
    }
}

/// Keeps every message with its 1-based record index.
struct Collect(Vec<(usize, EmittedMessage)>);

impl Sink for Collect {
    fn accept(&mut self, index: usize, m: &EmittedMessage) -> std::io::Result<String> {
        self.0.push((index, m.clone()));
        Ok(String::new())
    }
}

fn render_set(
    c: &CompiledSpec,
    id: String,
    fixture: Option<String>,
    records: &Records,
    snapshots: &Path,
) -> RecordSet {
    let label = match &fixture {
        Some(f) => format!("fixture {f}"),
        None => "sample".to_string(),
    };
    let source = match records {
        Records::File(f) => f.clone(),
        Records::Inline(_) => shown_path(&c.path),
    };
    let items = match c.open_records(records) {
        Ok(items) => items,
        Err(e) => {
            return RecordSet {
                id,
                label,
                fixture,
                records: Err(format!("error[{}]: {}", e.code, e.message)),
                truncated: false,
                snapshot: None,
            };
        }
    };
    let opts = BatchOptions {
        render: RenderOptions {
            // The fixture date for every set: what `mailspec test` renders, and a page that
            // does not change with the clock.
            date: review::fixture_date(),
            ..Default::default()
        },
        // One more than shown, to know whether some were left out.
        selection: Selection {
            limit: Some(MAX_RECORDS + 1),
            ..Default::default()
        },
        fail_fast: false,
        // A preview shows a few records; threads would only add start-up time.
        jobs: 1,
    };
    let mut sink = Collect(Vec::new());
    let mut results: Vec<RecordResult> = Vec::new();
    let assets = crate::assets::DirLoader::new(c.dir.clone());
    let run = batch::run(c, items, &opts, &assets, &mut sink, &mut |r| {
        results.push(RecordResult {
            index: r.index,
            key: r.key.clone(),
            message: if r.status == Status::Ok {
                // Filled from the sink below.
                Err(Vec::new())
            } else {
                Err(r.describe(&source))
            },
        });
    });
    if let Err(e) = run {
        return RecordSet {
            id,
            label,
            fixture,
            records: Err(format!("error: {e}")),
            truncated: false,
            snapshot: None,
        };
    }
    for (index, m) in sink.0 {
        if let Some(r) = results.iter_mut().find(|r| r.index == index) {
            r.message = Ok(m);
        }
    }
    let truncated = results.len() > MAX_RECORDS;
    results.truncate(MAX_RECORDS);
    let snapshot = fixture
        .as_ref()
        .map(|f| compare_snapshot(&c.name, f, &results, snapshots, truncated));
    RecordSet {
        id,
        label,
        fixture,
        records: Ok(results),
        truncated,
        snapshot,
    }
}

/// Compares a fixture's messages with `snapshots/<spec>@<fixture>.snap`, as `mailspec test`
/// does.
fn compare_snapshot(
    spec: &str,
    fixture: &str,
    results: &[RecordResult],
    snapshots: &Path,
    truncated: bool,
) -> SnapshotStatus {
    let messages: Option<Vec<EmittedMessage>> = results
        .iter()
        .map(|r| r.message.as_ref().ok().cloned())
        .collect();
    let Some(messages) = messages.filter(|_| !truncated) else {
        return SnapshotStatus::NotRendered;
    };
    let view = review::view(&messages);
    let file = snapshots.join(review::snapshot_file_name(spec, fixture));
    let file_shown = shown_path(&file);
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return SnapshotStatus::Missing { file: file_shown };
        }
        Err(e) => {
            return SnapshotStatus::Unreadable {
                reason: format!("cannot read {file_shown}: {e}"),
            };
        }
    };
    match review::parse_snapshot_file(&text) {
        Some(p) if p.contents == view => SnapshotStatus::Matches,
        Some(p) => {
            let old = format!("{}\n", p.contents);
            let new = format!("{view}\n");
            let diff = similar::TextDiff::from_lines(&old, &new)
                .unified_diff()
                .context_radius(3)
                .header(&format!("{file_shown} (committed)"), "rendered")
                .to_string();
            SnapshotStatus::Differs {
                file: file_shown,
                diff,
            }
        }
        None => SnapshotStatus::Unreadable {
            reason: format!("{file_shown} is not a snapshot file"),
        },
    }
}
