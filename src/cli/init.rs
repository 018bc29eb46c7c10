//! `mailspec init NAME`: a new spec that passes `check` and `test` from the first minute.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

#[derive(clap::Args)]
pub struct Args {
    /// The spec's name: letters, digits, `-` and `_` (e.g. `order-shipped`).
    name: String,
    /// Where the spec goes; its templates and data go in DIR/NAME/.
    #[arg(long, value_name = "DIR", default_value = "specs")]
    dir: PathBuf,
    /// The snapshot folder for the first fixture's snapshot.
    #[arg(long, value_name = "DIR", default_value = mailspec::review::SNAPSHOT_DIR)]
    snapshots: PathBuf,
}

/// The files of a new spec, relative to DIR, each with its text.
fn files(name: &str, dir: &Path) -> Vec<(String, String)> {
    let spec = format!(
        r#"# yaml-language-server: $schema=https://mailspec.dev/schema/mailspec.schema.json
# {name}: made by `mailspec init`. Edit the fields, templates and records, then run
#   mailspec check {dir_hint}{name}.yaml
#   mailspec test --accept {dir_hint}{name}.yaml   (after reading the diff)
mailspec: 1
name: {name}
description: What this message is for.
templates: [{name}]

data:
  key: id
  fields:
    id: {{ type: string, description: "Identifies the record: names the output file, seeds the Message-ID." }}
    email: {{ type: email }}
    first_name: {{ type: string, required: false }}
  sample: {name}/sample.csv
  fixtures:
    example: {name}/fixture.json

message:
  from: Your Shop <hello@shop.example>
  to: {{ name: "{{{{ first_name or '' }}}}", email: "{{{{ email }}}}" }}
  subject: "Hello{{{{ ' ' ~ first_name if first_name else '' }}}}"
  text: {{ template: {name}.txt.j2 }}
  html: {{ template: {name}.html.j2 }}
"#,
        dir_hint = format!("{}/", dir.display())
    );
    let text = "Hello{{ ' ' ~ first_name if first_name else '' }},\n\nthis is your new message.\n"
        .to_string();
    let html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Hello</title></head>\n<body>\n<p>Hello{{ ' ' ~ first_name if first_name else '' }},</p>\n<p>this is your new message.</p>\n</body>\n</html>\n".to_string();
    let sample = "id,email,first_name\n1,ana@example.com,Ana\n2,bob@example.org,\n".to_string();
    let fixture = "[\n  { \"id\": \"fixture-1\", \"email\": \"grace@example.net\", \"first_name\": \"Grace\" }\n]\n".to_string();
    vec![
        (format!("{name}.yaml"), spec),
        (format!("{name}/{name}.txt.j2"), text),
        (format!("{name}/{name}.html.j2"), html),
        (format!("{name}/sample.csv"), sample),
        (format!("{name}/fixture.json"), fixture),
    ]
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let name = &a.name;
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.starts_with('-');
    if !ok {
        bail!(
            "`{name}` is not a spec name: use letters, digits, `-` and `_` (e.g. `order-shipped`)"
        );
    }
    let files = files(name, &a.dir);
    // Nothing is overwritten: a name already in use stops before any file is written.
    for (rel, _) in &files {
        let p = a.dir.join(rel);
        if p.exists() {
            bail!("`{}` already exists: pick another name", p.display());
        }
    }
    for (rel, text) in &files {
        write(&a.dir.join(rel), text)?;
    }
    let spec = a.dir.join(format!("{name}.yaml"));
    // The first snapshot, written as `mailspec test --accept` would, so `mailspec test`
    // passes at once and shows a diff from the first edit on.
    let code = super::test::accept(&spec, &a.snapshots)?;
    eprintln!(
        "created {} ({}/ holds its templates and records); try `mailspec render {}`",
        spec.display(),
        a.dir.join(name).display(),
        spec.display()
    );
    Ok(code)
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))
}
