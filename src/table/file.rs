//! Reading and writing compiled table files (`portico compile` / `serve --table`).
//!
//! The file is JSON with a format name and version, so a table from another Portico version is
//! refused with a clear message instead of being misread.

use std::path::Path;

use super::{FORMAT_NAME, FORMAT_VERSION, Table};

#[derive(Debug, thiserror::Error)]
pub enum TableFileError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("{path} is not a Portico table: {source}")]
    Parse { path: String, source: serde_json::Error },
    #[error(
        "{path} is a table of format `{format}` version {version}; this Portico reads `{FORMAT_NAME}` version {FORMAT_VERSION}: compile the config again"
    )]
    Version { path: String, format: String, version: u32 },
}

pub fn write(table: &Table, path: &Path) -> Result<(), TableFileError> {
    let text = serde_json::to_vec_pretty(table)
        .map_err(|e| TableFileError::Write { path: path.display().to_string(), source: std::io::Error::other(e) })?;
    // Write then rename, so a fleet agent never loads a half-written table.
    let tmp = path.with_extension("tmp");
    let io = |source| TableFileError::Write { path: path.display().to_string(), source };
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

pub fn read(path: &Path) -> Result<Table, TableFileError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| TableFileError::Read { path: shown.clone(), source })?;
    #[derive(serde::Deserialize)]
    struct Header {
        format: String,
        version: u32,
    }
    let header: Header =
        serde_json::from_slice(&bytes).map_err(|source| TableFileError::Parse { path: shown.clone(), source })?;
    if header.format != FORMAT_NAME || header.version != FORMAT_VERSION {
        return Err(TableFileError::Version { path: shown, format: header.format, version: header.version });
    }
    serde_json::from_slice(&bytes).map_err(|source| TableFileError::Parse { path: shown, source })
}
