//! `wordgate check` and `wordgate validate` as a user runs them: the real
//! binary, real files.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn wordgate(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wordgate"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wordgate starts");
    // Feed stdin from another thread: the child's output fills its pipe
    // while we are still writing, and both sides would wait forever.
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&stdin));
    let output = child.wait_with_output().expect("wordgate finishes");
    writer.join().expect("writer thread").expect("write stdin");
    output
}

fn dictionary_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write dictionary");
    }
    dir
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/dictionaries");

#[test]
fn check_arguments_print_one_verdict_each() {
    let dir = dictionary_dir(&[
        ("a.txt", "@action mask\nfuck\n"),
        ("b.txt", "@action reject\n@code 120009\n赌博\n"),
    ]);
    let dictionaries = dir.path().to_str().expect("utf-8 path");
    let output = wordgate(&["check", "--dictionaries", dictionaries, "ＦＵＣＫ you", "去赌博", "hi"], b"");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let verdicts = lines(&output);
    assert_eq!(verdicts.len(), 3);
    assert_eq!(verdicts[0]["decision"], "mask");
    assert_eq!(verdicts[0]["text"], "**** you");
    assert_eq!(verdicts[0]["hits"][0]["matched"], "ＦＵＣＫ");
    assert_eq!(
        (verdicts[0]["hits"][0]["start"].as_u64(), verdicts[0]["hits"][0]["end"].as_u64()),
        (Some(0), Some(12))
    );
    assert_eq!(verdicts[1]["decision"], "reject");
    assert_eq!(verdicts[1]["error_code"], 120009);
    assert_eq!(verdicts[2]["decision"], "allow");
    assert_eq!(verdicts[2]["hits"], serde_json::json!([]));
}

#[test]
fn check_streams_standard_input_line_by_line() {
    let dir = dictionary_dir(&[("a.txt", "@action discard\nspam\n")]);
    let dictionaries = dir.path().to_str().expect("utf-8 path");
    let mut input = Vec::new();
    for i in 0..10_000 {
        writeln!(input, "{}", if i % 3 == 0 { "buy spam now" } else { "hello there" }).expect("write");
    }
    input.extend_from_slice(b"bad \xff byte\r\nlast line without newline spam");
    let output = wordgate(&["check", "--dictionaries", dictionaries], &input);
    assert!(output.status.success());
    let verdicts = lines(&output);
    assert_eq!(verdicts.len(), 10_002);
    assert_eq!(verdicts.iter().filter(|v| v["decision"] == "discard").count(), 3_334 + 1);
    assert_eq!(verdicts[10_000]["error"], "input line 10001 is not valid UTF-8");
    assert_eq!(verdicts[10_001]["text"], "last line without newline spam");
}

#[test]
fn shipped_dictionaries_validate_and_check() {
    let output = wordgate(&["validate", SHIPPED], b"");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains(": ok: "));

    let output =
        wordgate(&["check", "--dictionaries", SHIPPED, "hello", "一起去赌博吧", "ＦＵＣＫ this"], b"");
    let verdicts = lines(&output);
    assert_eq!(verdicts[0]["decision"], "allow");
    assert_eq!(verdicts[1]["decision"], "reject");
    assert_eq!(verdicts[2]["decision"], "mask");
    assert_eq!(verdicts[2]["text"], "**** this");
}

/// Each kind of mistake, with the exact `FILE:LINE: reason` validate prints.
#[test]
fn validate_names_file_and_line_for_each_kind_of_mistake() {
    let dir = dictionary_dir(&[
        (
            "a-directives.txt",
            "@acton reject\n@action block\n@code 99\n@group-code 120001\n@mask **\n@boundary around\n",
        ),
        ("b-order.txt", "@action mask\n@code 120001\nword\n@info late\n@action reject\n"),
        (
            "c-entries.txt",
            "# regexes\nre:(unclosed\nre:a*\nre:\\w{1000}{1000}\nre:\n\u{200B}\u{FEFF}\nfine\n",
        ),
        ("d-twice.txt", "@action review\n@action review\n"),
        ("e-latin1.txt", "@action reject\nok\ncaf\u{e9}\n"),
        ("f-scope.txt", "@action reject\n@scope c2c grop\nword\n"),
        ("README.md", "@not a dictionary\n"),
    ]);
    // Write a Latin-1 byte where the test file says é.
    std::fs::write(dir.path().join("e-latin1.txt"), b"@action reject\nok\ncaf\xe9\n").expect("write");
    let output = wordgate(&["validate", dir.path().to_str().expect("utf-8 path")], b"");
    assert_eq!(output.status.code(), Some(2));
    let root = dir.path().display().to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).replace(&root, "D");
    let expected = [
        "D/a-directives.txt:1: unknown directive @acton (expected one of @action, @code, @group-code, @info, @mask, @boundary, @fold, @scope)",
        "D/a-directives.txt:2: unknown action \"block\" (expected reject, discard, mask, review or allow)",
        "D/a-directives.txt:3: @code 99 is out of range: Tencent accepts 120001–130000",
        "D/a-directives.txt:4: @group-code 120001 is out of range: Tencent accepts 10100–10200",
        "D/a-directives.txt:5: @mask takes exactly one visible character, got \"**\"",
        "D/a-directives.txt:5: @mask only applies to @action mask, this file is reject",
        "D/a-directives.txt:6: unknown boundary \"around\" (expected word, substring or segment)",
        "D/b-order.txt:2: @code only applies to @action reject, this file is mask",
        "D/b-order.txt:4: directive @info after the first entry; directives must come first",
        "D/b-order.txt:5: directive @action after the first entry; directives must come first",
        "D/c-entries.txt:2: regular expression does not compile: regex parse error: (unclosed ^ error: unclosed group",
        "D/c-entries.txt:3: regular expression can match the empty string; it would hit every message",
        "D/c-entries.txt:4: regular expression is too large once compiled (limit 1048576 bytes)",
        "D/c-entries.txt:5: empty regular expression after re:",
        "D/c-entries.txt:6: entry \"\\u{200b}\\u{feff}\" normalises to nothing (only invisible characters or spaces)",
        "D/d-twice.txt:2: directive @action given twice",
        "D/e-latin1.txt:3: file is not valid UTF-8",
        "D/f-scope.txt:2: unknown scope selector `grop` (expected oa, c2c, group, group:<Type> (Public, Private, \
         ChatRoom, AVChatRoom, Community; Work and Meeting name Private and ChatRoom) or app:<SDKAppID>)",
    ];
    let got: Vec<&str> = stderr.lines().collect();
    assert_eq!(got, expected);
}

#[test]
fn validate_reports_missing_and_empty_directories() {
    let empty = tempfile::tempdir().expect("tempdir");
    let output = wordgate(&["validate", empty.path().to_str().expect("utf-8 path")], b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no dictionary files (*.txt) in this directory"));

    let missing = empty.path().join("nope");
    let output = wordgate(&["validate", missing.to_str().expect("utf-8 path")], b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read directory"));
}

#[test]
fn symlinked_configmap_layout_is_read() {
    // Kubernetes mounts ConfigMap keys as `x.txt -> ..data/x.txt`.
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("..2026_11_25");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::write(data.join("words.txt"), "@action reject\nbadword\n").expect("write");
    std::os::unix::fs::symlink("..2026_11_25", dir.path().join("..data")).expect("symlink");
    std::os::unix::fs::symlink("..data/words.txt", dir.path().join("words.txt")).expect("symlink");
    let output =
        wordgate(&["check", "--dictionaries", dir.path().to_str().expect("utf-8"), "a badword"], b"");
    assert_eq!(lines(&output)[0]["decision"], "reject");
    assert!(Path::new(&dir.path().join("words.txt")).exists());
}

/// The README's worked `check` example is what the binary prints.
#[test]
fn readme_check_example_is_current() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let command = "$ cargo run --release -q -- check '一起去赌博吧' 'ＦＵＣＫ this' 'hello'\n";
    let at = readme.find(command).expect("README shows the check example") + command.len();
    let shown: Vec<&str> = readme[at..].lines().take_while(|line| !line.starts_with("```")).collect();
    let output =
        wordgate(&["check", "--dictionaries", SHIPPED, "一起去赌博吧", "ＦＵＣＫ this", "hello"], b"");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(shown, printed.lines().collect::<Vec<_>>());
}

/// `wordgate eval` prints the generated set's table and then the
/// third-party set's, and a reader that closes the pipe early (`| head`)
/// is not an error.
#[test]
fn eval_prints_both_sets_and_tolerates_a_closed_pipe() {
    let root = env!("CARGO_MANIFEST_DIR");
    let args = [
        "eval",
        "--dictionaries",
        &format!("{root}/dictionaries"),
        "--negatives",
        &format!("{root}/tests/data/eval/negatives.txt"),
        "--thirdparty",
        &format!("{root}/tests/data/eval/thirdparty"),
        "--phonetic",
        &format!("{root}/tests/data/eval/phonetic"),
        "--contact",
        &format!("{root}/tests/data/eval/contact"),
    ];
    let output = wordgate(&args, b"");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    let generated = text.find("Generated set (363 evasive spellings").expect("the generated set");
    let third = text.find("Third-party set (").expect("the third-party set");
    let phonetic = text.find("Phonetic steps (").expect("the phonetic steps");
    assert!(generated < third && third < phonetic && text.contains("all: recall "), "{text}");
    assert!(text.contains("negatives: ") && text.contains("with all three steps on"), "{text}");
    let contact = text.find("Contact detectors (").expect("the contact detectors");
    assert!(phonetic < contact && text.contains("detectors: recall "), "{text}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_wordgate"))
        .args(args)
        .arg("--verbose")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wordgate starts");
    // Read one line, then close the pipe as `head -1` would.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).expect("some output");
    drop(stdout);
    let output = child.wait_with_output().expect("wordgate finishes");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
}

/// `check --scope` judges text as a message in one place would be, and
/// `validate` lists each category's scope.
#[test]
fn check_and_validate_know_scopes() {
    let dir = dictionary_dir(&[
        ("ads.txt", "@action reject\n@code 120020\n@group-code 10120\n@scope group:AVChatRoom\n加群\n"),
        ("rude.txt", "@action mask\n@scope c2c app:1400000002\n傻逼\n"),
    ]);
    let path = dir.path().to_str().expect("utf-8 path");
    let judged = |scope: &[&str]| {
        let mut args = vec!["check", "--dictionaries", path];
        for selector in scope {
            args.extend(["--scope", selector]);
        }
        args.push("快来加群 傻逼");
        let verdict = lines(&wordgate(&args, b"")).remove(0);
        (verdict["decision"].as_str().unwrap_or_default().to_string(), verdict["error_code"].clone())
    };
    let judged = |scope: &[&str]| {
        let (decision, code) = judged(scope);
        format!("{decision} {code}")
    };
    // Without --scope every category applies (the reject wins, C2C's code).
    assert_eq!(judged(&[]), "reject 120020");
    assert_eq!(judged(&["group:AVChatRoom"]), "reject 10120");
    assert_eq!(judged(&["c2c"]), "mask 0");
    assert_eq!(judged(&["c2c", "app:1400000002"]), "mask 0");
    assert_eq!(judged(&["c2c", "app:1400000001"]), "allow 0");
    assert_eq!(judged(&["oa"]), "allow 0");

    let output = wordgate(&["check", "--dictionaries", path, "--scope", "live", "x"], b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--scope: unknown scope selector `live`"));
    let output = wordgate(&["check", "--dictionaries", path, "--scope", "c2c", "--scope", "oa", "x"], b"");
    assert_eq!(output.status.code(), Some(2), "a place is one conversation");

    let output = wordgate(&["validate", path], b"");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("\n  ads: reject, 1 entry, fold simplified confusables leet noise repeats, scope group:AVChatRoom"), "{stdout}");
    assert!(stdout.contains("\n  rude: mask, 1 entry, fold simplified confusables leet noise repeats, scope c2c app:1400000002"), "{stdout}");
}
