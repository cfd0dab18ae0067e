//! Errors and diagnostics. Every problem names the spec file and the JSON
//! pointer inside it, so a user can find the offending node without guessing.

use std::fmt;
use std::path::PathBuf;

/// A node in the spec: the file (relative to the spec root, `/`-separated)
/// and a JSON pointer into it (RFC 6901, empty for the whole document).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub file: String,
    pub pointer: String,
}

impl Location {
    pub fn new(file: impl Into<String>, pointer: impl Into<String>) -> Self {
        Location {
            file: file.into(),
            pointer: pointer.into(),
        }
    }

    /// The location of a child node, escaping the key as RFC 6901 requires.
    pub fn child(&self, key: &str) -> Location {
        let escaped = key.replace('~', "~0").replace('/', "~1");
        Location {
            file: self.file.clone(),
            pointer: format!("{}/{}", self.pointer, escaped),
        }
    }

    pub fn index(&self, i: usize) -> Location {
        Location {
            file: self.file.clone(),
            pointer: format!("{}/{}", self.pointer, i),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.file, self.pointer)
    }
}

/// A fatal problem with the spec or its surroundings.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{location}: {message}")]
    Spec { location: Location, message: String },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn spec(location: &Location, message: impl Into<String>) -> Self {
        Error::Spec {
            location: location.clone(),
            message: message.into(),
        }
    }
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A spec construct the generator read but cannot express in Rust yet.
/// These are reported by `cargo xtask stats`, never dropped silently.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Unhandled {
    pub file: String,
    pub pointer: String,
    pub keyword: String,
    pub family: String,
}
