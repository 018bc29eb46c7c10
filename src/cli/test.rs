//! `mailspec test [SPEC...] [--accept]`: snapshot review for spec authors.
//!
//! Input: specs (default: every spec under `specs/`) and the snapshot folder (default
//! `snapshots/`, relative to the current directory). For each fixture of each spec
//! (`data.fixtures`), renders the records with the fixture date, builds the decoded view
//! ([`mailspec::review::view`]) and compares it with `snapshots/<spec>@<fixture>.snap`, the file
//! the insta tests of this repository check too. Output: one status line per fixture, a unified
//! diff for each difference, and a final `N passed, M failed` line on stdout; diagnostics on
//! stderr. Exit 0 when everything matches, 1 when a snapshot differs, is missing or stale, or a
//! spec or record fails, 2 on usage or I/O errors.
//!
//! With `--accept`, new and changed snapshots are written and stale ones (of the specs tested)
//! deleted; files whose contents already match are left alone, so a header written by insta
//! is not rewritten for nothing.
//!
//! With `--html DIR`, every new or changed snapshot also gets a static review page in DIR
//! (committed and rendered versions side by side, as rendered HTML and as a diff) and
//! `DIR/index.html` lists them: what CI publishes for a reviewer ([`mailspec::preview::report`]).

use std::collections::{HashMap, HashSet};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use mailspec::preview::report;
use mailspec::render::EmittedMessage;
use mailspec::review::{self, FixtureError};
use mailspec::spec::model::Records;

const AFTER_HELP: &str = "\
Each fixture (a named record set under `data.fixtures`) has one snapshot file,
SNAPSHOTS/<spec name>@<fixture name>.snap: a readable view of the rendered messages
(envelope, decoded headers, MIME structure, decoded text and HTML, attachments as
name, type, size and SHA-256) and a SHA-256 of each message's exact bytes. Messages
whose spec has no `message.date` are dated 2024-01-01T00:00:00Z.

Run from the repository root: `specs/` and `snapshots/` are found in the current
directory. Commit the snapshot files; `cargo test` checks the same files.

Exit status: 0 all snapshots match, 1 a snapshot differs, is missing or stale, or a
spec or record fails, 2 usage or I/O error.";

#[derive(clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Specs to test. Default: every spec under `specs/` (each .yaml file with a top-level
    /// `mailspec:` key), except `specs/invalid/`.
    specs: Vec<PathBuf>,
    /// Write new and changed snapshots and delete stale ones instead of failing.
    #[arg(long)]
    accept: bool,
    /// The snapshot folder (a relative path is relative to the current directory).
    #[arg(long, value_name = "DIR", default_value = review::SNAPSHOT_DIR)]
    snapshots: PathBuf,
    /// Also write a static review page for every new or changed snapshot into DIR (committed
    /// and rendered versions side by side, rendered and as a diff) and DIR/index.html listing
    /// them; open it in a browser or publish it from CI.
    #[arg(long, value_name = "DIR")]
    html: Option<PathBuf>,
}

/// `mailspec test --accept SPEC`: writes the spec's snapshots (used by `mailspec init`).
///
/// # Errors
/// As [`run`].
pub fn accept(spec: &std::path::Path, snapshots: &std::path::Path) -> anyhow::Result<ExitCode> {
    run(Args {
        specs: vec![spec.to_path_buf()],
        accept: true,
        snapshots: snapshots.to_path_buf(),
        html: None,
    })
}

/// Counts, and whether an I/O error happened (exit 2 wins over exit 1).
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    written: usize,
    deleted: usize,
    io_error: bool,
    /// `--html`: one index line per new, changed or failed fixture.
    pages: Vec<report::IndexEntry>,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let specs = if a.specs.is_empty() {
        let dir = Path::new("specs");
        if !dir.is_dir() {
            bail!(
                "no spec given and no `specs/` folder in the current directory: run from the \
                 repository root, or name the specs"
            );
        }
        review::discover_specs(dir).context("cannot list `specs/`")?
    } else {
        a.specs.clone()
    };
    let mut t = Tally::default();
    // Snapshot file → the spec that writes it: two specs with the same name would overwrite
    // each other's snapshots.
    let mut claimed: HashMap<String, PathBuf> = HashMap::new();
    if let Some(dir) = &a.html {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", shown(dir)))?;
    }
    for spec in &specs {
        test_spec(&a, spec, &mut t, &mut claimed);
    }
    if let Some(dir) = &a.html {
        let path = dir.join("index.html");
        let changed = t.pages.iter().filter(|p| p.page.is_some()).count();
        std::fs::write(
            &path,
            report::index_page(&t.pages, t.passed.saturating_sub(changed)),
        )
        .with_context(|| format!("cannot write `{}`", shown(&path)))?;
        println!(
            "review pages: {} ({changed} changed snapshot(s))",
            shown(&path)
        );
    }
    if t.written > 0 || t.deleted > 0 {
        println!("{} snapshot(s) written, {} deleted", t.written, t.deleted);
    }
    println!("{} passed, {} failed", t.passed, t.failed);
    Ok(if t.io_error {
        ExitCode::from(2)
    } else if t.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A path as shown to the user and written in headers: `/` separators, no leading `./`.
fn shown(p: &Path) -> String {
    let s = p.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

fn test_spec(a: &Args, spec: &Path, t: &mut Tally, claimed: &mut HashMap<String, PathBuf>) {
    let spec_shown = shown(spec);
    let c = match mailspec::spec::compile_path(spec) {
        Ok(c) => c,
        Err((sources, diags)) => {
            eprint!("{}", sources.render(&diags));
            if diags.iter().any(|d| d.code == mailspec::diag::Code::IoRead) {
                t.io_error = true;
            }
            println!("FAILED  {spec_shown}: the spec has errors");
            t.pages.push(report::IndexEntry {
                label: spec_shown.clone(),
                page: None,
                status: "the spec has errors (see the test output)".into(),
            });
            t.failed += 1;
            return;
        }
    };
    eprint!("{}", c.sources.render(&c.warnings));
    if c.spec.data.fixtures.is_empty() {
        println!("note: {spec_shown} has no `data.fixtures`: skipped");
    }
    let mut current = HashSet::new();
    for (fixture, records) in &c.spec.data.fixtures {
        let file_name = review::snapshot_file_name(&c.name, fixture);
        let label = review::snapshot_name(&c.name, fixture);
        current.insert(file_name.clone());
        if let Some(other) = claimed.insert(file_name.clone(), spec.to_path_buf())
            && other != spec
        {
            println!(
                "FAILED  {label}: {} and {spec_shown} both write {file_name}: give one of them \
                 another `name:`",
                shown(&other)
            );
            t.failed += 1;
            continue;
        }
        let messages = match review::render_fixture(&c, records) {
            Ok(m) => m,
            Err(e) => {
                t.pages.push(report::IndexEntry {
                    label: label.clone(),
                    page: None,
                    status: "a record failed (see the test output)".into(),
                });
                report_render_failure(&label, &spec_shown, records, e, t);
                continue;
            }
        };
        let view = review::view(&messages);
        let path = a.snapshots.join(&file_name);
        let desc = review::description(&c.name, fixture);
        let fx = Fixture {
            spec: &c.name,
            fixture,
            messages: &messages,
        };
        compare(a, &path, &label, &spec_shown, &desc, &view, &fx, t);
    }
    stale(a, &c.name, &current, t);
}

fn report_render_failure(
    label: &str,
    spec_shown: &str,
    records: &Records,
    e: FixtureError,
    t: &mut Tally,
) {
    let source = match records {
        Records::File(f) => f.clone(),
        Records::Inline(_) => spec_shown.to_string(),
    };
    match e {
        FixtureError::Open(e) => {
            println!("FAILED  {label}: error[{}]: {}", e.code, e.message);
        }
        FixtureError::Records(reports) => {
            println!("FAILED  {label}: {} record(s) failed", reports.len());
            for r in reports {
                for line in r.describe(&source) {
                    println!("  {line}");
                }
            }
        }
        FixtureError::Io(e) => {
            println!("FAILED  {label}: {e}");
            t.io_error = true;
        }
    }
    t.failed += 1;
}

/// A rendered fixture, for its `--html` page.
struct Fixture<'a> {
    spec: &'a str,
    fixture: &'a str,
    messages: &'a [EmittedMessage],
}

/// Writes the `--html` page of a new or changed snapshot and lists it for the index.
fn review_page(
    a: &Args,
    fx: &Fixture<'_>,
    file: &str,
    before: Option<&str>,
    view: &str,
    t: &mut Tally,
) {
    let Some(dir) = &a.html else {
        return;
    };
    let name = report::page_file_name(fx.spec, fx.fixture);
    let page = report::changed_page(&report::Changed {
        spec: fx.spec,
        fixture: fx.fixture,
        file,
        before,
        after_view: view,
        after: fx.messages,
    });
    let path = dir.join(&name);
    let status = if before.is_some() { "changed" } else { "new" };
    match std::fs::write(&path, page) {
        Ok(()) => t.pages.push(report::IndexEntry {
            label: review::snapshot_name(fx.spec, fx.fixture),
            page: Some(name),
            status: status.into(),
        }),
        Err(e) => {
            println!("FAILED  cannot write {}: {e}", shown(&path));
            t.io_error = true;
        }
    }
}

/// Compares a view with its snapshot file; with `--accept`, writes the file when it differs.
#[allow(clippy::too_many_arguments)]
fn compare(
    a: &Args,
    path: &Path,
    label: &str,
    spec_shown: &str,
    desc: &str,
    view: &str,
    fx: &Fixture<'_>,
    t: &mut Tally,
) {
    let path_shown = shown(path);
    let committed = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => {
            println!("FAILED  {label}: cannot read {path_shown}: {e}");
            t.failed += 1;
            t.io_error = true;
            return;
        }
    };
    let parsed = committed.as_deref().map(review::parse_snapshot_file);
    let problem = match &parsed {
        Some(Some(p)) if p.contents == view => {
            println!("ok      {label}");
            t.passed += 1;
            return;
        }
        Some(Some(p)) => {
            review_page(a, fx, &path_shown, Some(&p.contents), view, t);
            if !a.accept {
                let old = format!("{}\n", p.contents);
                let new = format!("{view}\n");
                let diff = similar::TextDiff::from_lines(&old, &new);
                println!("FAILED  {label}: {path_shown} differs");
                print!(
                    "{}",
                    diff.unified_diff()
                        .context_radius(3)
                        .header(&format!("{path_shown} (committed)"), "rendered")
                );
            }
            "changed"
        }
        Some(None) => {
            review_page(a, fx, &path_shown, None, view, t);
            if !a.accept {
                println!(
                    "FAILED  {label}: {path_shown} is not a snapshot file (no closing `---` \
                     header line); `mailspec test --accept` rewrites it"
                );
            }
            "replaces a file that was not a snapshot"
        }
        None => {
            review_page(a, fx, &path_shown, None, view, t);
            if !a.accept {
                println!(
                    "FAILED  {label}: no snapshot {path_shown}; run `mailspec test --accept` to \
                     write it, then review and commit it"
                );
            }
            "new"
        }
    };
    if !a.accept {
        t.failed += 1;
        return;
    }
    let text = review::snapshot_file(spec_shown, desc, view);
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(path, text));
    match written {
        Ok(()) => {
            println!("written {label}: {path_shown} ({problem})");
            t.passed += 1;
            t.written += 1;
        }
        Err(e) => {
            println!("FAILED  {label}: cannot write {path_shown}: {e}");
            t.failed += 1;
            t.io_error = true;
        }
    }
}

/// Snapshot files of this spec whose fixture is gone. Only files whose header says they belong
/// to this spec count, so snapshots of other kinds that happen to share the prefix are safe.
fn stale(a: &Args, spec_name: &str, current: &HashSet<String>, t: &mut Tally) {
    let entries = match std::fs::read_dir(&a.snapshots) {
        Ok(e) => e,
        // No folder: no snapshot at all, so none is stale.
        Err(e) if e.kind() == ErrorKind::NotFound => return,
        Err(e) => {
            println!("FAILED  cannot list {}: {e}", shown(&a.snapshots));
            t.failed += 1;
            t.io_error = true;
            return;
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| review::fixture_of_file_name(spec_name, n).is_some() && !current.contains(n))
        .collect();
    names.sort();
    let ours = format!("spec {spec_name}, fixture ");
    for name in names {
        let path = a.snapshots.join(&name);
        let belongs = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| review::parse_snapshot_file(&text)?.description)
            .is_some_and(|d| d.starts_with(&ours));
        if !belongs {
            continue;
        }
        let path_shown = shown(&path);
        if a.accept {
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    println!("deleted {path_shown}: spec {spec_name} has no such fixture");
                    t.deleted += 1;
                }
                Err(e) => {
                    println!("FAILED  cannot delete {path_shown}: {e}");
                    t.failed += 1;
                    t.io_error = true;
                }
            }
        } else {
            println!(
                "FAILED  stale snapshot {path_shown}: spec {spec_name} has no such fixture; \
                 `mailspec test --accept` deletes it"
            );
            t.failed += 1;
        }
    }
}
