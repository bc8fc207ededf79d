//! The scenario module's edge that touches the disk: reading a scenario file and writing one
//! atomically. Like the runner and xtask, and unlike the rest of the library, this reads and
//! writes files (DESIGN.md §4).

use std::io::Write as _;
use std::path::Path;

use super::compile::Scenario;
use super::error::{ErrorKind, ScenarioError};

/// Largest scenario file read: scenarios are written by people (or the exporter); a larger
/// file is a mistake, not a scenario.
pub const FILE_BYTES_MAX: u64 = 1 << 20;

/// Reads and parses a scenario file. `display` is how errors name it.
pub fn load(path: &Path, display: &str) -> Result<Scenario, ScenarioError> {
    let text = read_bounded(path, FILE_BYTES_MAX).map_err(|e| {
        let kind = match e {
            BoundedReadError::TooLarge { size, limit } => ErrorKind::TooLarge { size, limit },
            other => ErrorKind::Io(other.to_string()),
        };
        ScenarioError::new(display, 0, 0, kind)
    })?;
    super::parse(display, &text)
}

/// Why [`read_bounded`] refused a file.
#[derive(Debug, thiserror::Error)]
pub enum BoundedReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not a regular file (a FIFO, device or directory would block or never end)")]
    NotRegular,
    #[error("file is at least {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("the file is not UTF-8 text")]
    NotUtf8,
}

/// Reads a regular file of at most `limit` bytes as text. The size is checked on what is
/// read, not on the file's metadata (which `/proc` files and growing files misstate), and
/// FIFOs and devices are refused before any read (`/dev/zero` never ends, a FIFO blocks).
pub fn read_bounded(path: &Path, limit: u64) -> Result<String, BoundedReadError> {
    use std::io::Read as _;
    // Checked before opening too: opening a FIFO blocks until a writer comes.
    if !std::fs::metadata(path)?.file_type().is_file() {
        return Err(BoundedReadError::NotRegular);
    }
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.file_type().is_file() {
        return Err(BoundedReadError::NotRegular);
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(BoundedReadError::TooLarge { size: bytes.len() as u64, limit });
    }
    String::from_utf8(bytes).map_err(|_| BoundedReadError::NotUtf8)
}

/// Writes `contents` to `path` so that a reader sees either the old file or the whole new
/// one, never half of it: write a temporary file in the same directory, flush it to disk,
/// then rename it over `path`.
pub fn write_atomic(path: &Path, contents: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the target path has no file name"))?;
    let tmp = dir.join(format!(".{}.tmp-{}", file_name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // Best effort: a failed write must not leave a stray temporary file behind.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Every `.yaml` file under `dir`, recursively, sorted by path: the scenario library.
pub fn yaml_files(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
        let mut entries = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<Vec<_>>>()?;
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    Ok(out)
}

/// Removes the temporary files [`write_atomic`] left in `dir` when a process was killed
/// mid-write (`.NAME.tmp-PID` whose process is gone), so a killed campaign leaves no stray
/// `.tmp` behind once the next one starts. Where process ids cannot be checked (no `/proc`),
/// only this process's own leftovers are removed. A missing `dir` has nothing to clean.
pub fn remove_stale_temporaries(dir: &Path) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let proc_fs = Path::new("/proc/self").exists();
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        let Some((_, pid)) = name.strip_prefix('.').and_then(|n| n.rsplit_once(".tmp-")) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        let gone = if pid == std::process::id() {
            true
        } else {
            proc_fs && !Path::new("/proc").join(pid.to_string()).exists()
        };
        if gone {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}
