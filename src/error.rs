//! The library's error for one record: a stable kind, the field and spec key concerned, and
//! a message. Callers branch on [`Error::kind`] (a [`Code`]), never on the message text.

use serde::Serialize;

use crate::diag::Code;

/// A problem with one record (or with a data source as a whole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Error {
    /// What went wrong, as a stable code (`data/missing-field`); serialised as `code`.
    #[serde(rename = "code")]
    pub kind: Code,
    /// The record field concerned, dotted for nested values (`items.2.qty`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The spec key concerned (`message.subject`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// What is wrong, lower case, values in backticks.
    pub message: String,
}

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: Code, message: impl Into<String>) -> Self {
        Error {
            kind,
            field: None,
            at: None,
            message: message.into(),
        }
    }

    /// Names the record field concerned.
    #[must_use]
    pub fn field(mut self, field: Option<String>) -> Self {
        self.field = field;
        self
    }

    /// Names the spec key concerned.
    #[must_use]
    pub fn at(mut self, at: impl Into<String>) -> Self {
        self.at = Some(at.into());
        self
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.kind, self.message)?;
        if let Some(field) = &self.field {
            write!(f, " (field `{field}`)")?;
        }
        if let Some(at) = &self.at {
            write!(f, " (in `{at}`)")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<crate::data::DataError> for Error {
    fn from(e: crate::data::DataError) -> Self {
        Error {
            kind: e.code,
            field: e.field,
            at: None,
            message: e.message,
        }
    }
}
