//! The `check` and `validate` commands, written against readers and writers
//! so tests drive them without a process.

use std::io::{self, BufRead, Write};
use std::path::Path;

use crate::dictionary_dir;
use crate::engine::{DictionaryError, Engine, Place};

/// Moderates each text as a message in `place` and writes one JSON verdict
/// per line.
pub fn check_texts(engine: &Engine, place: &Place, texts: &[String], out: &mut impl Write) -> io::Result<()> {
    for text in texts {
        write_verdict(engine, place, text, out)?;
    }
    out.flush()
}

/// Moderates each line of `input`, streaming: memory stays constant however
/// many lines come. A line that is not UTF-8 gets a JSON error object in its
/// place, so output lines still pair up with input lines.
pub fn check_lines(
    engine: &Engine,
    place: &Place,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        number += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        match std::str::from_utf8(&line) {
            Ok(text) => write_verdict(engine, place, text, out)?,
            Err(_) => {
                let error = serde_json::json!({ "error": format!("input line {number} is not valid UTF-8") });
                serde_json::to_writer(&mut *out, &error)?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()
}

fn write_verdict(engine: &Engine, place: &Place, text: &str, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &engine.check_text_in(text, place))?;
    out.write_all(b"\n")
}

/// Compiles a dictionary directory as the server would. On success returns a
/// summary: one line for the whole, then one per category with its action,
/// entries, fold steps and scope; on failure, every problem.
pub fn validate(dir: &Path) -> Result<String, Vec<DictionaryError>> {
    let engine = dictionary_dir::build(dir)?;
    let stats = engine.stats();
    let mut summary = format!(
        "{}: ok: {} categories, {} literal entries, {} regex rules",
        dir.display(),
        stats.categories,
        stats.literals,
        stats.regexes
    );
    for category in engine.category_summaries() {
        summary.push_str(&format!(
            "\n  {}: {}, {} {}, fold {}, scope {}",
            category.name,
            category.action,
            category.entries,
            if category.entries == 1 { "entry" } else { "entries" },
            category.fold,
            category.scope
        ));
    }
    Ok(summary)
}
