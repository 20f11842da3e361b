//! Reading a dictionary directory: the `*.txt` files directly inside it, in
//! file-name order.
//!
//! Hidden entries are skipped, which is what makes a Kubernetes ConfigMap
//! mount work: its files are symlinks into a `..data` directory that is
//! swapped atomically, and `..data` and the timestamped directories start
//! with a dot. Symlinks to files are followed.

use std::fs;
use std::path::Path;

use crate::engine::{DictionaryError, DictionarySource, Engine};

/// Reads every dictionary file in `dir`, sorted by file name, with the
/// problems met on the way (unreadable files, bad UTF-8). Files that could
/// be read are returned even when others could not, so one run reports
/// every problem.
///
/// A file listed but gone by the time it is read means the directory
/// changed while it was being read (an editor's rename, a ConfigMap swap
/// deleting the previous version): the whole directory is read again, a few
/// times at most, so what is returned is one consistent state of it rather
/// than a set missing a category.
pub fn load(dir: &Path) -> (Vec<DictionarySource>, Vec<DictionaryError>) {
    let mut attempt = 1;
    loop {
        let (sources, errors, vanished) = load_once(dir);
        if !vanished || attempt == READ_ATTEMPTS {
            return (sources, errors);
        }
        attempt += 1;
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// How often [`load`] reads a directory that keeps changing under it before
/// it reports the missing file.
const READ_ATTEMPTS: u32 = 4;

fn load_once(dir: &Path) -> (Vec<DictionarySource>, Vec<DictionaryError>, bool) {
    let shown = dir.display().to_string();
    let listing = match fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(err) => {
            return (
                Vec::new(),
                vec![DictionaryError::new(&shown, 0, format!("cannot read directory: {err}"))],
                false,
            )
        }
    };
    let mut paths = Vec::new();
    let mut errors = Vec::new();
    for entry in listing {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                errors.push(DictionaryError::new(&shown, 0, format!("cannot list directory: {err}")));
                continue;
            }
        };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || !name.ends_with(".txt") {
            continue;
        }
        let path = entry.path();
        // `metadata` follows symlinks: a ConfigMap's `x.txt -> ..data/x.txt`
        // counts as a file.
        if path.metadata().is_ok_and(|meta| meta.is_file()) {
            paths.push((name.to_string(), path));
        }
    }
    paths.sort();
    let mut sources = Vec::with_capacity(paths.len());
    let mut vanished = false;
    for (_, path) in paths {
        let shown = path.display().to_string();
        match fs::read(&path) {
            Ok(bytes) => match decode(&shown, bytes) {
                Ok(source) => sources.push(source),
                Err(error) => errors.push(error),
            },
            Err(err) => {
                vanished |= err.kind() == std::io::ErrorKind::NotFound;
                errors.push(DictionaryError::new(&shown, 0, format!("cannot read file: {err}")));
            }
        }
    }
    if sources.is_empty() && errors.is_empty() {
        errors.push(DictionaryError::new(&shown, 0, "no dictionary files (*.txt) in this directory"));
    }
    (sources, errors, vanished)
}

/// One file's bytes as a source named `shown`, or the line of its first
/// byte that is not UTF-8. (The fuzz harness decodes through here too.)
pub fn decode(shown: &str, bytes: Vec<u8>) -> Result<DictionarySource, DictionaryError> {
    String::from_utf8(bytes).map(|text| DictionarySource::new(shown, text)).map_err(|err| {
        let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        DictionaryError::new(shown, line, "file is not valid UTF-8")
    })
}

/// Reads and compiles a dictionary directory, exactly as the server does.
/// Every problem is reported, in file and line order.
pub fn build(dir: &Path) -> Result<Engine, Vec<DictionaryError>> {
    let (sources, mut errors) = load(dir);
    match Engine::build(&sources) {
        Ok(engine) if errors.is_empty() => Ok(engine),
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(more);
            errors.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
            Err(errors)
        }
    }
}
