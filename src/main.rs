//! The `wordgate` binary: argument parsing and glue; the work is in the
//! library.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use clap::{Parser, Subcommand};

use wordgate::audit_sink::AuditLog;
use wordgate::config::{Config, LogFormat, ServeArgs};
use wordgate::server::tls::Tls as TlsCertificate;
use wordgate::server::{self, AppState, Drain};
use wordgate::snapshot::Snapshot;
use wordgate::{cli, dictionary_dir, reload};

#[derive(Parser)]
#[command(name = "wordgate", version, about = "Content-moderation gate for Tencent Cloud Chat webhooks")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the webhook server for Tencent Cloud Chat callbacks.
    ///
    /// Settings: built-in defaults < TOML file (--config) < WORDGATE_* environment
    /// variables < these flags. See wordgate.example.toml for every setting.
    Serve(ServeArgs),
    /// Moderate each TEXT (or each line of standard input) and print one JSON verdict per input.
    Check {
        /// Dictionary directory.
        #[arg(long, default_value = "./dictionaries", env = "WORDGATE_DICTIONARIES")]
        dictionaries: PathBuf,
        /// Judge as a message in this place: `oa`, `c2c`, `group`,
        /// `group:<Type>` (AVChatRoom, Private…), `app:<SDKAppID>`, the
        /// words of `@scope` (repeat for a conversation and an app). Without
        /// it, every category applies.
        #[arg(long = "scope", value_name = "PLACE")]
        scope: Vec<String>,
        /// Texts to moderate; with none, standard input is read line by line.
        texts: Vec<String>,
    },
    /// Compile the dictionaries as the server would; print each problem as FILE:LINE: reason.
    Validate {
        /// Dictionary directory.
        #[arg(default_value = "./dictionaries")]
        dir: PathBuf,
    },
    /// GET the server's /healthz; exit 0 on 200 (the container image's HEALTHCHECK).
    Healthcheck {
        /// URL to probe (http:// or https://) [default: /healthz on loopback at the configured
        /// port, over HTTPS when built-in TLS is configured].
        #[arg(long)]
        url: Option<String>,
        /// TOML configuration file (or WORDGATE_CONFIG), read as `serve` reads it.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Measure precision, recall and false positives per category on a labelled set.
    Eval {
        /// Dictionary directory whose entries the positives are generated from.
        #[arg(long, default_value = "./dictionaries")]
        dictionaries: PathBuf,
        /// Ordinary text, one message per line (`#` lines skipped).
        #[arg(long, default_value = "./tests/data/eval/negatives.txt")]
        negatives: PathBuf,
        /// Seed for the generated evasive spellings.
        #[arg(long, default_value_t = wordgate::eval::SEED)]
        seed: u64,
        /// The third-party set: `DIR/dictionaries` and `DIR/cases/*.tsv`,
        /// cases copied from other filters' tests, each with its source.
        #[arg(long, value_name = "DIR", default_value = "./tests/data/eval/thirdparty")]
        thirdparty: PathBuf,
        /// The phonetic set: third-party pinyin, homophone and split cases
        /// (`DIR/dictionaries`, `DIR/cases/*.tsv`), measured with the
        /// phonetic positives generated from `--dictionaries`.
        #[arg(long, value_name = "DIR", default_value = "./tests/data/eval/phonetic")]
        phonetic: PathBuf,
        /// The contact set: `DIR/cases/*.tsv`, phone numbers, WeChat and QQ
        /// IDs, links and addresses (and ordinary text full of numbers),
        /// measured with the detectors `--dictionaries` lists.
        #[arg(long, value_name = "DIR", default_value = "./tests/data/eval/contact")]
        contact: PathBuf,
        /// A second contact set from other sources, kept out of the
        /// detectors' development: the unbiased figure.
        #[arg(long, value_name = "DIR", default_value = "./tests/data/eval/contact-heldout")]
        contact_heldout: PathBuf,
        /// Judge the generated and contact sets as messages in this place: `oa`, `c2c`, `group`,
        /// `group:<Type>` (AVChatRoom, Private…), `app:<SDKAppID>`, the
        /// words of `@scope` (repeat for a conversation and an app). Without
        /// it, every category applies.
        #[arg(long = "scope", value_name = "PLACE")]
        scope: Vec<String>,
        /// Also list every missed positive and flagged negative.
        #[arg(long)]
        verbose: bool,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match args.command {
        Command::Serve(args) => serve(&args),
        Command::Check { dictionaries, scope, texts } => {
            let place = match parse_place(&scope) {
                Ok(place) => place,
                Err(code) => return code,
            };
            let engine = match dictionary_dir::build(&dictionaries) {
                Ok(engine) => engine,
                Err(errors) => return report(&errors),
            };
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            let result = if texts.is_empty() {
                cli::check_lines(&engine, &place, &mut io::stdin().lock(), &mut out)
            } else {
                cli::check_texts(&engine, &place, &texts, &mut out)
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
        Command::Eval {
            dictionaries,
            negatives,
            seed,
            thirdparty,
            phonetic,
            contact,
            contact_heldout,
            scope,
            verbose,
        } => {
            let place = match parse_place(&scope) {
                Ok(place) => place,
                Err(code) => return code,
            };
            let engine = match dictionary_dir::build(&dictionaries) {
                Ok(engine) => engine,
                Err(errors) => return report(&errors),
            };
            let negatives = match std::fs::read_to_string(&negatives) {
                Ok(text) => wordgate::eval::negatives(&text),
                Err(err) => {
                    eprintln!("wordgate: cannot read {}: {err}", negatives.display());
                    return ExitCode::from(2);
                }
            };
            let positives = wordgate::eval::positives(&engine, seed);
            let generated = wordgate::eval::evaluate(&engine, &place, &positives, &negatives);
            let (thirdparty_engine, cases) = match wordgate::eval::load_sourced(&thirdparty) {
                Ok(loaded) => loaded,
                Err(err) => {
                    eprintln!("wordgate: the third-party set does not load: {err}");
                    return ExitCode::from(2);
                }
            };
            let sourced = wordgate::eval::evaluate_sourced(&thirdparty_engine, &cases);
            let phonetic_report = {
                let (sources, errors) = dictionary_dir::load(&dictionaries);
                if !errors.is_empty() {
                    return report(&errors);
                }
                let clean = cases.iter().filter(|case| !case.expect_hit).map(|case| case.text.clone());
                let ordinary: Vec<String> = negatives.iter().cloned().chain(clean).collect();
                let evaluated = wordgate::eval::phonetic::load(&phonetic)
                    .and_then(|set| wordgate::eval::phonetic::evaluate(&sources, &set, &ordinary, seed));
                match evaluated {
                    Ok(report) => report,
                    Err(err) => {
                        eprintln!("wordgate: the phonetic set does not load: {err}");
                        return ExitCode::from(2);
                    }
                }
            };
            let mut contact_reports = Vec::new();
            for dir in [&contact, &contact_heldout] {
                match wordgate::eval::contact::load(dir) {
                    Ok(cases) => contact_reports
                        .push((dir.as_path(), wordgate::eval::contact::evaluate(&engine, &place, &cases))),
                    Err(err) => {
                        eprintln!("wordgate: the contact set does not load: {err}");
                        return ExitCode::from(2);
                    }
                }
            }
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            let printed = print_evaluation(
                &mut out,
                (&dictionaries, positives.len(), negatives.len(), &generated),
                (&thirdparty, &sourced),
                (&phonetic, &phonetic_report),
                &contact_reports,
                verbose,
            );
            match printed.and_then(|()| out.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                // `wordgate eval --verbose | head` closes the pipe early.
                Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("wordgate: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Healthcheck { url, config } => {
            let url = match url {
                Some(url) => url,
                None => {
                    match Config::load(&ServeArgs { config, ..ServeArgs::default() }, std::env::vars_os()) {
                        Ok(config) => wordgate::healthcheck::url_for(&config),
                        Err(err) => {
                            eprintln!("wordgate: unhealthy: the configuration does not load: {err}");
                            return ExitCode::FAILURE;
                        }
                    }
                }
            };
            match wordgate::healthcheck::probe(&url, wordgate::healthcheck::TIMEOUT) {
                Ok(_) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("wordgate: unhealthy: {err}");
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

fn serve(args: &ServeArgs) -> ExitCode {
    let config = match Config::load(args, std::env::vars_os()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("wordgate: {err}");
            return ExitCode::from(2);
        }
    };
    // `log` was validated with the config; the fallback is unreachable.
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(io::stderr);
    match config.log_format {
        // Span fields (command, verdict) go into each event's `span` and
        // `spans` objects.
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.with_ansi(io::stderr().is_terminal()).init(),
    }

    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if config.worker_threads > 0 {
        runtime.worker_threads(config.worker_threads);
    }
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("wordgate: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    // SIGHUP reloads the dictionaries. Its default action ends the process,
    // so take it over before the (possibly long) first load.
    let hangup = {
        let _context = runtime.enter();
        reload::Hangup::register()
    };

    // A bad certificate is a startup error naming the file, like a bad
    // dictionary.
    let tls = match config.tls_files() {
        Some((cert, key)) => match TlsCertificate::load(cert, key, config.reload_debounce()) {
            Ok(tls) => Some(Arc::new(tls)),
            Err(err) => {
                eprintln!("wordgate: {err}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };

    let snapshot = match Snapshot::load(&config.dictionaries, 1, SystemTime::now()) {
        Ok(snapshot) => snapshot,
        Err(errors) => return report(&errors),
    };
    // As after every reload: the build's scratch goes back to the system.
    wordgate::memory::release_freed_memory();
    let summary = snapshot.summary();
    tracing::info!(
        dir = %config.dictionaries.display(),
        categories = summary.stats.categories,
        literals = summary.stats.literals,
        regexes = summary.stats.regexes,
        digest = %summary.digest,
        "dictionaries loaded"
    );

    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(&config.listen).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::error!(listen = %config.listen, cause = %err, "cannot listen");
                eprintln!("wordgate: cannot listen on {}: {err}", config.listen);
                return ExitCode::FAILURE;
            }
        };
        let shown = listener.local_addr().map_or_else(|_| config.listen.clone(), |addr| addr.to_string());
        tracing::info!(
            sdkappids = ?config.sdkappid,
            sign_check = !config.token.0.is_empty(),
            fail_policy = config.fail_policy.as_str(),
            "listening on {}://{shown}{}",
            if tls.is_some() { "https" } else { "http" },
            config.webhook_path
        );
        tracing::info!(
            watch = config.watch,
            debounce_ms = config.reload_debounce_ms,
            admin = if config.admin_token().is_some() { "admin token" } else { "loopback only" },
            "live reload: SIGHUP, POST /admin/reload{}",
            if config.watch { ", and changes in the dictionary directory" } else { "" }
        );
        let audit = match AuditLog::open(&config) {
            Ok(audit) => audit,
            Err(err) => {
                tracing::error!(cause = %err, "cannot start the audit stream");
                eprintln!("wordgate: {err}");
                return ExitCode::from(2);
            }
        };
        tracing::info!(
            audit = ?config.audit,
            audit_include_message = config.audit_include_message,
            dry_run = config.dry_run,
            exempt_senders = config.exempt_senders.len(),
            exempt_restapi = config.exempt_restapi,
            "moderation policy and audit"
        );
        let mut state = AppState::new(&config, snapshot).with_audit(audit);
        if let Some(tls) = tls {
            state = state.with_tls(tls);
        }
        let state = Arc::new(state);
        match hangup {
            Ok(hangup) => {
                let state = Arc::clone(&state);
                tokio::spawn(hangup.forward(move || state.hangup()));
            }
            Err(err) => tracing::error!(cause = %err, "cannot listen for SIGHUP; it will not reload"),
        }
        match server::run(listener, state, server::signal()).await {
            Drain::Complete => ExitCode::SUCCESS,
            // Cut-off requests get no answer; Tencent applies its console
            // policy to them. Still a clean, requested stop.
            Drain::TimedOut { .. } => ExitCode::SUCCESS,
        }
    })
}

/// The place `--scope` names; a usage error (exit 2) when it names none.
fn parse_place(selectors: &[String]) -> Result<wordgate::engine::Place, ExitCode> {
    wordgate::engine::Place::parse(selectors).map_err(|err| {
        eprintln!("wordgate: --scope: {err}");
        ExitCode::from(2)
    })
}

fn report(errors: &[wordgate::DictionaryError]) -> ExitCode {
    let stderr = io::stderr();
    let mut err = stderr.lock();
    for error in errors {
        let _ = writeln!(err, "{error}");
    }
    ExitCode::from(2)
}

/// Prints both evaluation tables (and, with `verbose`, every miss and
/// every flagged line).
fn print_evaluation(
    out: &mut impl Write,
    (dictionaries, positives, negatives, report): (&std::path::Path, usize, usize, &wordgate::eval::Report),
    (thirdparty, sourced): (&std::path::Path, &wordgate::eval::SourcedReport),
    (phonetic_dir, phonetic): (&std::path::Path, &wordgate::eval::phonetic::PhoneticReport),
    contact: &[(&std::path::Path, wordgate::eval::contact::ContactReport)],
    verbose: bool,
) -> io::Result<()> {
    writeln!(
        out,
        "Generated set ({positives} evasive spellings of {}, {negatives} ordinary lines):",
        dictionaries.display()
    )?;
    write!(out, "{report}")?;
    if verbose {
        for case in &report.missed {
            writeln!(out, "missed\t{}\t{}\t{}", case.category, case.evasion, case.text)?;
        }
        for (line, categories) in &report.flagged {
            writeln!(out, "flagged\t{}\t{line}", categories.join(","))?;
        }
    }
    let (positives, clean) = sourced.counts();
    writeln!(out)?;
    writeln!(
        out,
        "Third-party set ({positives} positives, {clean} clean cases from other filters' tests and issues, {}):",
        thirdparty.display()
    )?;
    write!(out, "{sourced}")?;
    if verbose {
        for case in &sourced.missed {
            writeln!(out, "missed\t{}\t{}\t{}\t{}", case.technique, case.word, case.text, case.source)?;
        }
        for (case, hits) in &sourced.flagged {
            writeln!(out, "flagged\t{}\t{}\t{}\t{}", case.technique, hits.join(","), case.text, case.source)?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "Phonetic steps (positives generated from the Chinese entries of {}, each step alone; \
         third-party cases and negatives from {}, with the lines above):",
        dictionaries.display(),
        phonetic_dir.display(),
    )?;
    write!(out, "{phonetic}")?;
    if verbose {
        for case in &phonetic.missed {
            writeln!(out, "missed\t{}\t{}\t{}\t{}", case.step, case.technique, case.entry, case.text)?;
        }
        for (line, hits) in &phonetic.flagged {
            writeln!(out, "flagged\t{}\t{line}", hits.join(","))?;
        }
    }
    for (index, (contact_dir, contact)) in contact.iter().enumerate() {
        writeln!(out)?;
        let which = if index == 0 { "Contact detectors" } else { "Contact detectors, held-out set" };
        writeln!(
            out,
            "{which} (the detectors {} lists; cases from other projects' tests, datasets and issues, {}):",
            dictionaries.display(),
            contact_dir.display(),
        )?;
        write!(out, "{contact}")?;
        if verbose {
            for (what, detector, text) in &contact.listed {
                writeln!(out, "{what}\t{detector}\t{text}")?;
            }
        }
    }
    Ok(())
}
