//! The `wordgate` binary: argument parsing and glue; the work is in the
//! library.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use wordgate::{cli, dictionary_dir};

#[derive(Parser)]
#[command(name = "wordgate", version, about = "Content-moderation gate for Tencent Cloud Chat webhooks")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Moderate each TEXT (or each line of standard input) and print one JSON verdict per input.
    Check {
        /// Dictionary directory.
        #[arg(long, default_value = "./dictionaries", env = "WORDGATE_DICTIONARIES")]
        dictionaries: PathBuf,
        /// Texts to moderate; with none, standard input is read line by line.
        texts: Vec<String>,
    },
    /// Compile the dictionaries as the server would; print each problem as FILE:LINE: reason.
    Validate {
        /// Dictionary directory.
        #[arg(default_value = "./dictionaries")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match args.command {
        Command::Check { dictionaries, texts } => {
            let engine = match dictionary_dir::build(&dictionaries) {
                Ok(engine) => engine,
                Err(errors) => return report(&errors),
            };
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            let result = if texts.is_empty() {
                cli::check_lines(&engine, &mut io::stdin().lock(), &mut out)
            } else {
                cli::check_texts(&engine, &texts, &mut out)
            };
            match result {
                Ok(()) => ExitCode::SUCCESS,
                // `wordgate check < big | head` closes the pipe early; that is
                // the reader's choice, not a failure.
                Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("wordgate: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Validate { dir } => match cli::validate(&dir) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(errors) => report(&errors),
        },
    }
}

fn report(errors: &[wordgate::DictionaryError]) -> ExitCode {
    let stderr = io::stderr();
    let mut err = stderr.lock();
    for error in errors {
        let _ = writeln!(err, "{error}");
    }
    ExitCode::from(2)
}
