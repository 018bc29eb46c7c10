//! Asset loaders: how `render` gets files whose path depends on the record
//! (`file: "invoices/{{ order_id }}.pdf"`).
//!
//! Rendering is a pure function of the plan and a record; the one thing it may need from
//! outside is such a file, and it asks an [`AssetLoader`] passed in by the caller. The CLI
//! passes a [`DirLoader`] confined to the spec's folder; a test or a preview server can pass a
//! [`MemoryLoader`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::template::{Confine, resolve_confined};

/// Why an asset could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssetError {
    /// No such file.
    #[error("file `{0}` not found")]
    NotFound(String),
    /// The path leaves the allowed folder (absolute, `..`, or a symlink out).
    #[error("{0}")]
    Escape(String),
    /// The file is larger than the limit.
    #[error("`{path}` is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The path as asked.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// It exists but cannot be read (a folder, permissions...).
    #[error("cannot read `{path}`: {reason}")]
    Unreadable {
        /// The path as asked.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Serves files by their path relative to the spec's folder.
pub trait AssetLoader: Sync {
    /// The bytes of `path`, at most `limit` of them.
    ///
    /// # Errors
    /// Not found, outside the allowed folder, too large, unreadable.
    fn load(&self, path: &str, limit: u64) -> Result<Arc<[u8]>, AssetError>;
}

/// Reads files under one folder, refusing paths that leave it (symlinks resolved).
#[derive(Debug, Clone)]
pub struct DirLoader {
    root: PathBuf,
}

impl DirLoader {
    /// A loader confined to `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirLoader { root: root.into() }
    }
}

impl AssetLoader for DirLoader {
    fn load(&self, path: &str, limit: u64) -> Result<Arc<[u8]>, AssetError> {
        let real = match resolve_confined(std::slice::from_ref(&self.root), path) {
            Ok(Some(p)) => p,
            Ok(None) => return Err(AssetError::NotFound(path.to_string())),
            Err(Confine(m)) => return Err(AssetError::Escape(m)),
        };
        let unreadable = |e: std::io::Error| AssetError::Unreadable {
            path: path.to_string(),
            reason: e.to_string(),
        };
        let meta = std::fs::metadata(&real).map_err(unreadable)?;
        if !meta.is_file() {
            return Err(AssetError::Unreadable {
                path: path.to_string(),
                reason: "not a file".into(),
            });
        }
        if meta.len() > limit {
            return Err(AssetError::TooLarge {
                path: path.to_string(),
                size: meta.len(),
                limit,
            });
        }
        let bytes = std::fs::read(&real).map_err(unreadable)?;
        // The file may have grown between the two calls.
        if bytes.len() as u64 > limit {
            return Err(AssetError::TooLarge {
                path: path.to_string(),
                size: bytes.len() as u64,
                limit,
            });
        }
        Ok(bytes.into())
    }
}

/// Serves files from memory (tests, previews of unsaved edits).
#[derive(Debug, Clone, Default)]
pub struct MemoryLoader {
    files: HashMap<String, Arc<[u8]>>,
}

impl MemoryLoader {
    /// An empty loader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file.
    pub fn insert(&mut self, path: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.files.insert(path.into(), bytes.into().into());
    }
}

impl AssetLoader for MemoryLoader {
    fn load(&self, path: &str, limit: u64) -> Result<Arc<[u8]>, AssetError> {
        let bytes = self
            .files
            .get(path)
            .ok_or_else(|| AssetError::NotFound(path.to_string()))?;
        if bytes.len() as u64 > limit {
            return Err(AssetError::TooLarge {
                path: path.to_string(),
                size: bytes.len() as u64,
                limit,
            });
        }
        Ok(bytes.clone())
    }
}
