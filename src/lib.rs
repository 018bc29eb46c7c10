//! # mailspec
//!
//! A compiler from version-controlled YAML message specs to deterministic, standards-correct
//! MIME.
//!
//! ```
//! use mailspec::{MemoryLoader, RenderOptions, compile_path, render};
//!
//! let dir = tempfile::tempdir()?;
//! let spec_path = dir.path().join("hello.yaml");
//! std::fs::write(&spec_path, r#"
//! mailspec: 1
//! data:
//!   key: id
//!   fields: { id: { type: string }, email: { type: email }, name: { type: string } }
//! message:
//!   from: Tienda <hola@tienda.example>
//!   to: "{{ name }} <{{ email }}>"
//!   bcc: auditoria@tienda.example
//!   subject: "Hola {{ name }}"
//!   text: { content: "Hola {{ name }}, gracias por tu pedido." }
//! "#)?;
//! // Compile once: every problem is reported at once, located (`file:line:col`).
//! let spec = compile_path(&spec_path).map_err(|(sources, d)| sources.render(&d))?;
//!
//! // Render per record: a pure function of the plan, the typed record and an asset loader.
//! let values = serde_json::json!({ "id": "A-1", "email": "ana@example.com", "name": "Ana" });
//! let record = spec.record(values.as_object().cloned().unwrap_or_default())
//!     .map_err(|e| format!("{e:?}"))?;
//! let opts = RenderOptions {
//!     date: chrono::DateTime::parse_from_rfc3339("2024-06-15T10:00:00+02:00").ok(),
//!     ..Default::default()
//! };
//! let msg = render(&spec, &record, 1, &MemoryLoader::new(), &opts)
//!     .map_err(|e| format!("{e:?}"))?;
//!
//! assert_eq!(msg.key, "A-1"); // the record id
//! let rcpt: Vec<String> = msg.envelope.to.iter().map(|a| a.to_string()).collect();
//! assert_eq!(rcpt, ["ana@example.com", "auditoria@tienda.example"]);
//! let text = String::from_utf8(msg.bytes)?;
//! assert!(text.starts_with("Date: Sat, 15 Jun 2024 10:00:00 +0200\r\n"));
//! assert!(!text.contains("auditoria")); // Bcc lives in the envelope only
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The stages, one module each, each a function from one type to the next (the README's
//! "Architecture" section has the whole picture):
//!
//! 1. [`spec`]: a spec file → [`CompiledSpec`]: YAML with positions ([`spec::yaml`]), the
//!    JSON Schema, then the checks that build the typed [`plan::Plan`]; or located
//!    [`Diagnostic`]s.
//! 2. [`data`]: records (CSV, JSON, JSONL, YAML) streamed and checked against the fields.
//! 3. [`render`]: plan + one typed record + an [`AssetLoader`] → an [`EmittedMessage`] (record
//!    id, envelope, bytes), through the emitter [`mime::emit`]. Pure: no file system, clock or
//!    environment.
//! 4. [`sink`]: where messages go: a directory (with each envelope beside its message), an
//!    mbox, a Maildir. [`batch`] drives records through render into a sink with one report per
//!    record.
//! 5. [`send`]: delivers over SMTP (or a local sendmail) with a journal that resumes after a
//!    crash and never silently sends a message twice; the only stage with a network and a clock.
//!
//! Around the pipeline: [`review`] turns fixtures into readable snapshot views, and [`preview`]
//! serves every message on loopback while a spec is edited (and writes the static review pages
//! of `mailspec test --html`).
//!
//! Modules hidden from these docs are internal: public only so the fuzz targets and tests can
//! reach them, with no stability promise.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod assets;
pub mod batch;
#[doc(hidden)]
pub mod cid;
pub mod data;
pub mod deliver;
pub mod diag;
pub mod error;
#[doc(hidden)]
pub mod filters;
pub mod mime;
pub mod plan;
pub mod preview;
pub mod render;
pub mod review;
#[doc(hidden)]
pub mod schema;
pub mod send;
pub mod sink;
pub mod spec;
#[doc(hidden)]
pub mod template;

pub use assets::{AssetLoader, DirLoader, MemoryLoader};
pub use batch::{BatchOptions, RecordReport, Status};
pub use diag::{Code, Diagnostic, Sources};
pub use error::Error;
pub use render::{EmittedMessage, Envelope, RenderOptions, render};
pub use sink::{DirSink, MaildirSink, MboxSink, Sink, WriterSink};
pub use spec::{CompiledSpec, compile_path};
