//! Specs: loading, validating and compiling a spec file.
//!
//! `compile_path` runs the stages in order: read → [`yaml::load`] (positions kept) →
//! [`crate::schema::validate`] (every violation at once) → serde into [`model::Spec`] →
//! [`check`] (what the schema cannot express: body shape, addresses, headers, files, templates,
//! variables, `cid:` references). Each stage reports located diagnostics; a later stage only runs
//! when the earlier one found no error, so one mistake is not reported three times.

pub mod check;
pub mod model;
pub mod yaml;

use std::path::{Path, PathBuf};

use crate::diag::{Code, Diagnostic, FileId, Sources};
use crate::plan::Plan;
use crate::template::Templates;
use model::Spec;
use yaml::SourceMap;

/// The spec language versions this build understands.
pub const SUPPORTED_VERSIONS: &[u32] = &[1];

/// A spec that passed every check: its message plan and its compiled templates.
#[derive(Debug)]
pub struct CompiledSpec {
    /// The spec file as given.
    pub path: PathBuf,
    /// The spec's directory (canonical): static files and templated paths stay inside it.
    pub dir: PathBuf,
    /// The spec's name (`name:` or the file stem).
    pub name: String,
    /// The parsed spec (its `data` section names the sample and fixture records).
    pub spec: Spec,
    /// What render reads: the typed message plan.
    pub plan: Plan,
    /// Compiled templates (sealed: rendering reads no template file).
    pub templates: Templates,
    /// Source texts for diagnostics (the spec, template files, data files).
    pub sources: Sources,
    /// The spec's file id in `sources`.
    pub file: FileId,
    /// Where each node of the spec is.
    pub map: SourceMap,
    /// Warnings found while compiling.
    pub warnings: Vec<Diagnostic>,
}

/// Reads, validates and compiles the spec at `path`.
///
/// # Errors
/// Every problem found, located; `sources` in the error tuple holds the texts to render them.
pub fn compile_path(path: &Path) -> Result<CompiledSpec, (Sources, Vec<Diagnostic>)> {
    let mut sources = Sources::default();
    let shown = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return Err((
                sources,
                vec![Diagnostic::error(
                    Code::IoRead,
                    format!("cannot read `{shown}`: {e}"),
                )],
            ));
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return Err((
                sources,
                vec![Diagnostic::error(
                    Code::IoRead,
                    format!(
                        "`{shown}` is not valid UTF-8 (byte {})",
                        e.utf8_error().valid_up_to()
                    ),
                )],
            ));
        }
    };
    let file = sources.add(shown, text);
    compile_source(path, sources, file)
}

/// Compiles a spec whose text is already in `sources`.
///
/// # Errors
/// As [`compile_path`].
pub fn compile_source(
    path: &Path,
    sources: Sources,
    file: FileId,
) -> Result<CompiledSpec, (Sources, Vec<Diagnostic>)> {
    let (spec, map) = match parse(&sources, file) {
        Ok(x) => x,
        Err(d) => return Err((sources, d)),
    };
    let dir = spec_dir(path);
    let name = spec.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "spec".into())
    });
    let roots = check::roots(&dir, &spec.templates);
    let mut unit = check::Compiling {
        path: path.to_path_buf(),
        dir,
        name,
        spec,
        templates: Templates::new(roots),
        sources,
        file,
        map,
    };
    let (plan, diagnostics) = check::check(&mut unit);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err((unit.sources, diagnostics));
    }
    unit.templates.seal();
    let check::Compiling {
        path,
        dir,
        name,
        spec,
        templates,
        sources,
        file,
        map,
    } = unit;
    Ok(CompiledSpec {
        path,
        dir,
        name,
        spec,
        plan,
        templates,
        sources,
        file,
        map,
        warnings: diagnostics,
    })
}

/// YAML (positions kept) → version → JSON Schema (every violation at once) → serde types.
fn parse(sources: &Sources, file: FileId) -> Result<(Spec, SourceMap), Vec<Diagnostic>> {
    let doc = yaml::load(sources, file)?;
    // The version decides which schema applies: check it first, alone.
    if let Some(v) = doc.value.get("mailspec")
        && !v
            .as_u64()
            .is_some_and(|v| SUPPORTED_VERSIONS.contains(&(v as u32)))
    {
        let d = Diagnostic::error(Code::SpecVersion, format!("unsupported spec version `{v}`"))
            .at(file, doc.map.value_span("/mailspec"))
            .label("this build reads version 1")
            .help("write `mailspec: 1`");
        return Err(vec![d]);
    }
    crate::schema::validate(&doc)?;
    match serde_json::from_value(doc.value) {
        Ok(spec) => Ok((spec, doc.map)),
        // The schema and the types agree, so this is rare; still report it, located at the top.
        Err(e) => Err(vec![
            Diagnostic::error(Code::SchemaType, format!("invalid spec: {e}")).at(file, 0..0),
        ]),
    }
}

/// The spec's folder, canonical (static files and templated paths must stay inside it).
fn spec_dir(path: &Path) -> PathBuf {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    parent.canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

impl CompiledSpec {
    /// Checks one record given as JSON values against the declared fields (types, required
    /// fields, defaults, the size limit of one value) and returns the typed record that
    /// [`crate::render::render`] takes.
    ///
    /// # Errors
    /// Every problem with the record, each naming its field.
    pub fn record(
        &self,
        values: serde_json::Map<String, serde_json::Value>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Vec<crate::error::Error>> {
        let raw = crate::data::RawRecord {
            index: 1,
            line: None,
            values,
            from_text: false,
        };
        let too_big = crate::data::check_limits(&raw, crate::data::MAX_FIELD_BYTES);
        if !too_big.is_empty() {
            return Err(too_big.into_iter().map(Into::into).collect());
        }
        crate::data::coerce(&self.plan.fields, &raw)
            .map_err(|e| e.into_iter().map(Into::into).collect())
    }

    /// Template roots, for confinement checks.
    pub fn roots(&self) -> Vec<PathBuf> {
        check::roots(&self.dir, &self.spec.templates)
    }
}

impl CompiledSpec {
    /// Opens a set of records declared in the spec (sample or fixture).
    ///
    /// # Errors
    /// When the file cannot be opened or parsed as a whole.
    pub fn open_records(
        &self,
        r: &model::Records,
    ) -> Result<Box<dyn Iterator<Item = crate::data::Item>>, crate::data::DataError> {
        match r {
            model::Records::Inline(items) => {
                let items: Vec<crate::data::Item> = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        Ok(crate::data::RawRecord {
                            index: i + 1,
                            line: None,
                            values: v.clone(),
                            from_text: false,
                        })
                    })
                    .collect();
                Ok(Box::new(items.into_iter()))
            }
            model::Records::File(rel) => {
                let path =
                    match crate::template::resolve_confined(std::slice::from_ref(&self.dir), rel) {
                        Ok(Some(p)) => p,
                        Ok(None) => {
                            return Err(crate::data::DataError {
                                code: Code::SpecFileNotFound,
                                field: None,
                                message: format!("data file `{rel}` not found"),
                            });
                        }
                        Err(crate::template::Confine(m)) => {
                            return Err(crate::data::DataError {
                                code: Code::SpecPathEscape,
                                field: None,
                                message: m,
                            });
                        }
                    };
                let format = crate::data::Format::from_path(&path).ok_or_else(|| crate::data::DataError {
                    code: Code::DataParse,
                    field: None,
                    message: format!("cannot tell the format of `{rel}` from its extension (.csv, .json, .jsonl, .yaml)"),
                })?;
                let f = std::fs::File::open(&path).map_err(|e| crate::data::DataError {
                    code: Code::IoRead,
                    field: None,
                    message: format!("cannot open `{rel}`: {e}"),
                })?;
                // The spec's own fields and key: dotted and `[]` columns, header checks.
                let opts = crate::data::ReadOptions {
                    fields: Some(&self.spec.data.fields),
                    key: self.spec.data.key.as_deref(),
                    delimiter: None,
                };
                crate::data::read_with(Box::new(std::io::BufReader::new(f)), format, &opts)
                    .map(|o| o.items)
                    .map_err(crate::data::join_errors)
            }
        }
    }
}
