//! One loaded set of dictionaries: the compiled engine and what describes it.
//!
//! The server holds the current [`Snapshot`] in an `arc_swap::ArcSwap`. A
//! request loads it exactly once and answers from that one snapshot, so it
//! can never see half of a reload; the guard is dropped before the next
//! `.await`. A reload builds a whole new snapshot off the request path and
//! stores it with one pointer swap (memory peaks at two engines meanwhile);
//! [`crate::reload`] does that.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::dictionary_dir;
use crate::engine::{DictionaryError, DictionarySource, Engine, EngineStats};

/// A compiled engine and its provenance. Immutable; `Send + Sync`.
#[derive(Debug)]
pub struct Snapshot {
    /// The compiled dictionaries.
    pub engine: Engine,
    /// 1 for the dictionaries loaded at start, +1 for each reload.
    pub generation: u64,
    /// `sha256:` + hex digest of the dictionary files' names and contents,
    /// in load order: equal digests mean equal dictionaries.
    pub digest: String,
    /// When this snapshot was built.
    pub loaded_at: SystemTime,
    /// Sizes of the engine.
    pub stats: EngineStats,
}

/// What `/healthz` and `/readyz` say about a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// See [`Snapshot::generation`].
    pub generation: u64,
    /// See [`Snapshot::digest`].
    pub digest: String,
    /// [`Snapshot::loaded_at`] in Unix seconds.
    pub loaded_at: u64,
    /// See [`Snapshot::stats`].
    #[serde(flatten)]
    pub stats: EngineStats,
}

impl Snapshot {
    /// Compiles `sources` into a snapshot.
    pub fn build(
        sources: &[DictionarySource],
        generation: u64,
        loaded_at: SystemTime,
    ) -> Result<Snapshot, Vec<DictionaryError>> {
        Snapshot::build_with_digest(sources, digest(sources), generation, loaded_at)
    }

    /// [`Snapshot::build`] when the caller has already computed
    /// [`digest`]`(sources)` (the reloader does, to skip unchanged sets).
    pub fn build_with_digest(
        sources: &[DictionarySource],
        digest: String,
        generation: u64,
        loaded_at: SystemTime,
    ) -> Result<Snapshot, Vec<DictionaryError>> {
        let engine = Engine::build(sources)?;
        let stats = engine.stats();
        Ok(Snapshot { engine, generation, digest, loaded_at, stats })
    }

    /// Reads and compiles a dictionary directory, exactly as
    /// `wordgate validate` does; every problem is reported, in file and
    /// line order.
    pub fn load(
        dir: &Path,
        generation: u64,
        loaded_at: SystemTime,
    ) -> Result<Snapshot, Vec<DictionaryError>> {
        let read = Read::dir(dir);
        let digest = read.digest();
        read.build(digest, generation, loaded_at)
    }

    /// The facts worth showing on health endpoints and in logs.
    pub fn summary(&self) -> Summary {
        Summary {
            generation: self.generation,
            digest: self.digest.clone(),
            loaded_at: self.loaded_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            stats: self.stats,
        }
    }
}

/// A dictionary directory as read from disk, not yet compiled: the files
/// that could be read and the problems met reading the others.
#[derive(Debug, Default)]
pub struct Read {
    /// The `*.txt` files, in file-name order.
    pub sources: Vec<DictionarySource>,
    /// Unreadable files, bad UTF-8, an empty or missing directory.
    pub errors: Vec<DictionaryError>,
}

impl Read {
    /// Reads `dir` (see [`dictionary_dir::load`]).
    pub fn dir(dir: &Path) -> Read {
        let (sources, errors) = dictionary_dir::load(dir);
        Read { sources, errors }
    }

    /// The [`digest`] of what was read.
    pub fn digest(&self) -> String {
        digest(&self.sources)
    }

    /// Compiles what was read; `digest` must be [`Read::digest`]. Every
    /// problem, reading or compiling, is reported in file and line order.
    pub fn build(
        self,
        digest: String,
        generation: u64,
        loaded_at: SystemTime,
    ) -> Result<Snapshot, Vec<DictionaryError>> {
        let mut errors = self.errors;
        match Snapshot::build_with_digest(&self.sources, digest, generation, loaded_at) {
            Ok(snapshot) if errors.is_empty() => Ok(snapshot),
            Ok(_) => Err(errors),
            Err(more) => {
                errors.extend(more);
                errors.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
                Err(errors)
            }
        }
    }
}

/// The digest of a set of dictionary sources: each file's category name and
/// text, length-prefixed so no two different sets collide by concatenation.
/// Directory names do not count, so the same files give the same digest
/// wherever they are mounted.
pub fn digest(sources: &[DictionarySource]) -> String {
    let mut hasher = Sha256::new();
    for source in sources {
        for part in [source.category().as_bytes(), source.text.as_bytes()] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn snapshot_is_send_and_sync() {
        assert_send_sync::<Snapshot>();
    }

    #[test]
    fn digest_depends_on_names_and_texts_not_directories() {
        let a = [DictionarySource::new("x/a.txt", "b\n"), DictionarySource::new("x/c.txt", "d\n")];
        let moved = [DictionarySource::new("y/a.txt", "b\n"), DictionarySource::new("y/c.txt", "d\n")];
        let shifted = [DictionarySource::new("x/a.txt", "b\nc.txtd\n")];
        let edited = [DictionarySource::new("x/a.txt", "b\n"), DictionarySource::new("x/c.txt", "e\n")];
        assert_eq!(digest(&a), digest(&moved));
        assert_ne!(digest(&a), digest(&shifted));
        assert_ne!(digest(&a), digest(&edited));
        assert!(digest(&a).starts_with("sha256:"));
        assert_eq!(digest(&a).len(), "sha256:".len() + 64);
    }

    #[test]
    fn build_reports_dictionary_errors() {
        let bad = [DictionarySource::new("bad.txt", "@action maybe\nx\n")];
        let errors = Snapshot::build(&bad, 1, UNIX_EPOCH).err().unwrap_or_default();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().starts_with("bad.txt:1:"), "{}", errors[0]);

        let good = [DictionarySource::new("good.txt", "@action review\nx\n")];
        let summary =
            Snapshot::build(&good, 3, UNIX_EPOCH + std::time::Duration::from_secs(9)).map(|s| s.summary());
        let summary = summary.ok();
        assert_eq!(summary.as_ref().map(|s| (s.generation, s.loaded_at, s.stats.literals)), Some((3, 9, 1)));
    }
}
