//! The console in a real browser: `tests/browser/console.test.mjs` drives
//! headless Chromium (Debian's `chromium`, through npm's `playwright-core`)
//! against a real server started here on port 0 — try a message and see
//! the highlighted hit and verdict, break a dictionary and see the error
//! after a reload, send callbacks and see the counts move, and the page on
//! a phone-sized screen.
//!
//! It needs `/usr/bin/chromium` (or `CHROMIUM`) and `npm ci` run in
//! `tests/browser`; `scripts/install-browser-tests.sh` does both and
//! `.ci/run` runs it and sets `CONSOLE_BROWSER_TEST=required`, so in CI
//! a missing browser fails the run. Elsewhere, without them, the test says
//! so and passes. `CONSOLE_SCREENSHOTS=docs` writes the README's
//! screenshots.

use std::path::Path;
use std::process::Command;

use crate::server::util::{config, dictionaries, TestServer, APP};

#[tokio::test]
async fn the_console_in_headless_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/browser/console.test.mjs");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let installed =
        Path::new(&chromium).exists() && root.join("tests/browser/node_modules/playwright-core").exists();
    if !installed {
        let why = format!(
            "the browser test needs {chromium} and tests/browser/node_modules (run scripts/install-browser-tests.sh)"
        );
        assert!(std::env::var("CONSOLE_BROWSER_TEST").as_deref() != Ok("required"), "{why}");
        eprintln!("skipped: {why}");
        return;
    }

    let lists = dictionaries(&[
        ("ads.txt", "@action reject\n@group-code 10120\n@scope group:AVChatRoom\n加群\n"),
        ("rude.txt", "@action mask\n傻逼\nfuck\n"),
        ("zz-allow.txt", "@action allow\n加群聊\n"),
    ]);
    let server = TestServer::start(wordgate::config::Config { watch: false, ..config(lists.path()) }).await;
    let url = format!("http://127.0.0.1:{}", server.addr.port());
    let mut command = Command::new("node");
    command
        .arg(&script)
        .current_dir(root)
        .env("WORDGATE_URL", &url)
        .env("WORDGATE_DICTIONARIES", lists.path())
        .env("WORDGATE_SDKAPPID", APP.to_string())
        .env("CHROMIUM", &chromium);
    // The server answers on this runtime's thread; node runs beside it.
    let output =
        tokio::task::spawn_blocking(move || command.output()).await.expect("join").expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the browser test failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all steps passed"), "{stdout}");
}
