//! # mailspec
//!
//! A compiler from version-controlled YAML message specs to deterministic, standards-correct
//! MIME.
//!
//! The pipeline, one module per stage:
//!
//! 1. [`spec`] reads a spec file ([`spec::yaml`] keeps the position of every node), validates it
//!    against the JSON Schema in [`schema`] (derived from [`spec::model`]), and runs the checks
//!    the schema cannot express ([`spec::check`]): the result is a [`spec::CompiledSpec`], or
//!    located [`diag::Diagnostic`]s.
//! 2. [`data`] reads records (CSV, JSON, JSONL, YAML) as a stream and checks each against the
//!    spec's field declarations.
//! 3. [`render`] turns one record into a [`mime::Message`] with its SMTP envelope, using the
//!    template environments of [`template`] (strict, autoescaped for HTML, fuel-bounded), and
//!    [`mime::emit`] turns that into bytes.
//! 4. [`sink`] writes messages out: a directory of `.eml` files, an mbox, a Maildir.
//! 5. [`send`] delivers them over SMTP (or a local sendmail) with a journal that resumes after a
//!    crash and never silently sends a message twice; the only stage with a network and a clock.
//!
//! Everything up to the sink is pure: no clock, no hostname, no randomness, no environment
//! variables. The same spec, records and date give the same bytes on any machine.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod assets;
pub mod batch;
pub mod cid;
pub mod data;
pub mod diag;
pub mod error;
pub mod filters;
pub mod mime;
pub mod plan;
pub mod render;
pub mod review;
pub mod schema;
pub mod send;
pub mod sink;
pub mod spec;
pub mod template;
