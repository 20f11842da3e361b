//! The engine through its public API: table-driven text cases, then whole
//! messages. A new text case is one `t!` line.

use serde_json::{json, Value};
use wordgate::tencent::{self, Kind};
use wordgate::{Action, DictionarySource, Engine, Hit};

/// The dictionaries every case in this file runs against. Files are in
/// priority order, as a directory listing sorted by name gives them.
pub fn fixture() -> Engine {
    let files = [
        (
            "10-fraud.txt",
            "@action reject\n@code 120001\n@group-code 10101\n@info 疑似诈骗\n刷单返利\nre:加\\s*微信\\s*\\d{5,}\n",
        ),
        ("20-gambling.txt", "@action reject\n@code 120002\n@info 赌博内容\n赌博\nre:赌.{0,3}场\nonline casino\n"),
        ("30-profanity.txt", "@action mask\nfuck\nfucking\ncunt\nass\nshit\n傻逼\n黄片\n"),
        ("35-insults.txt", "@action mask\n@mask #\n王八蛋\n"),
        ("40-spam.txt", "@action discard\n加群领福利\nbuy followers\n"),
        ("50-watch.txt", "@action review\n代购\n"),
        ("60-plain-reject.txt", "@action reject\nforbidden\n"),
        ("90-allow.txt", "@action allow\nScunthorpe\n三黄片研究\nassassin\n"),
    ];
    engine_of(&files)
}

/// An engine of these `(file name, text)` dictionaries, in this order.
fn engine_of(files: &[(&str, &str)]) -> Engine {
    let sources: Vec<_> = files.iter().map(|(name, text)| DictionarySource::new(*name, *text)).collect();
    match Engine::build(&sources) {
        Ok(engine) => engine,
        Err(errors) => panic!("the dictionaries do not compile: {errors:?}"),
    }
}

/// `t!(name, input, decision, error_code, delivered_text)`
macro_rules! t {
    ($name:ident, $input:expr, $decision:ident, $code:expr, $delivered:expr) => {
        #[test]
        fn $name() {
            let verdict = fixture().check_text($input);
            assert_eq!(
                (verdict.decision, verdict.error_code, verdict.text.as_str()),
                (Action::$decision, $code, $delivered),
                "input {:?}, hits {:?}",
                $input,
                verdict.hits
            );
        }
    };
}

// Nothing to see.
t!(clean_english, "hello, see you tomorrow", Allow, 0, "hello, see you tomorrow");
t!(clean_chinese, "明天一起吃饭吧", Allow, 0, "明天一起吃饭吧");
t!(empty_text, "", Allow, 0, "");

// CJK masking with exact output.
t!(cjk_mask, "你是傻逼吗", Mask, 0, "你是**吗");
t!(cjk_mask_twice, "傻逼傻逼", Mask, 0, "****");
t!(custom_mask_character, "你这个王八蛋", Mask, 0, "你这个###");
t!(two_mask_characters, "王八蛋傻逼", Mask, 0, "###**");

// Case and width evasion.
t!(upper_case, "FUCK off", Mask, 0, "**** off");
t!(mixed_case, "FuCk off", Mask, 0, "**** off");
t!(full_width, "ｆｕｃｋ off", Mask, 0, "**** off");
t!(full_width_upper, "ＦＵＣＫ off", Mask, 0, "**** off");
t!(leftmost_longest, "fucking hell", Mask, 0, "******* hell");

// Zero-width evasion: the mask covers the invisible characters too.
t!(zero_width_space, "f\u{200B}uck", Mask, 0, "*****");
t!(zero_width_joiner_cjk, "傻\u{200D}逼", Mask, 0, "***");
t!(soft_hyphen_and_bom, "sh\u{00AD}i\u{FEFF}t", Mask, 0, "******");
t!(variation_selector, "傻\u{FE0F}逼!", Mask, 0, "***!");

// Word boundaries for ASCII literals; CJK literals match anywhere.
t!(scunthorpe_allowed, "I live in Scunthorpe", Allow, 0, "I live in Scunthorpe");
t!(classic_not_ass, "a classic move", Allow, 0, "a classic move");
t!(assassin_allowed, "the assassin", Allow, 0, "the assassin");
t!(ass_alone, "you ass", Mask, 0, "you ***");
t!(ass_punctuated, "(ass)", Mask, 0, "(***)");
t!(ass_next_to_cjk, "你ass好", Mask, 0, "你***好");
t!(ass_underscore, "ass_hat", Mask, 0, "***_hat");
t!(boundary_does_not_hide_next, "bass ass", Mask, 0, "bass ***");
t!(cjk_inside_text, "我们去赌博吧", Reject, 120002, "我们去赌博吧");

// Allow lists suppress a contained hit but not one next to it.
t!(allow_phrase_suppresses, "三黄片研究进展", Allow, 0, "三黄片研究进展");
t!(allow_phrase_not_neighbour, "三黄片研究和黄片", Mask, 0, "三黄片研究和**");

// Regex rules run on folded text.
t!(regex_gambling, "来赌一场", Reject, 120002, "来赌一场");
t!(regex_gambling_gap, "赌什么场", Reject, 120002, "赌什么场");
t!(regex_full_width_digits, "加 微信 １２３４５６", Reject, 120001, "加 微信 １２３４５６");
t!(regex_too_short, "加微信 123", Allow, 0, "加微信 123");

// Every verdict, and precedence: reject > discard > mask > review > allow.
t!(review_only, "帮我代购", Review, 0, "帮我代购");
t!(discard_only, "加群领福利啦", Discard, 2, "加群领福利啦");
t!(reject_plain_code, "this is forbidden", Reject, 1, "this is forbidden");
t!(mask_beats_review, "代购 fuck", Mask, 0, "代购 ****");
t!(discard_beats_mask, "fuck 加群领福利", Discard, 2, "fuck 加群领福利");
t!(reject_beats_discard, "加群领福利 赌博", Reject, 120002, "加群领福利 赌博");
t!(reject_beats_mask, "fuck 赌博", Reject, 120002, "fuck 赌博");

// Among rejects the first category in priority order gives code and info,
// wherever its word is in the text.
t!(first_reject_category_wins, "赌博 刷单返利", Reject, 120001, "赌博 刷单返利");
t!(plain_reject_loses_to_coded, "forbidden 赌博", Reject, 120002, "forbidden 赌博");

#[test]
fn custom_code_and_info() {
    let verdict = fixture().check_text("刷单返利");
    assert_eq!((verdict.error_code, verdict.error_info.as_str()), (120001, "疑似诈骗"));
    assert_eq!(verdict.hits.len(), 1);
    let hit = &verdict.hits[0];
    assert_eq!(
        (hit.category.as_str(), hit.entry.as_str(), hit.start, hit.end),
        ("10-fraud", "刷单返利", 0, 12)
    );
}

#[test]
fn hits_report_original_bytes() {
    let text = "ok ＦＵ\u{200B}ＣＫ";
    let verdict = fixture().check_text(text);
    let hit = &verdict.hits[0];
    assert_eq!(hit.matched, "ＦＵ\u{200B}ＣＫ");
    assert_eq!(&text[hit.start..hit.end], hit.matched);
    assert_eq!(hit.entry, "fuck");
}

/// A before-send body's verdict, with the answer's rewrite parsed back.
struct Moderated {
    decision: Action,
    error_code: u32,
    hits: Vec<Hit>,
    rewrite: Option<Rewrite>,
}

struct Rewrite {
    msg_body: Value,
    /// `MsgBody` as the answer's bytes wrote it.
    raw: String,
    cloud_custom_data: Option<String>,
}

fn moderate_bytes(body: &[u8], kind: Kind) -> Result<Moderated, String> {
    let verdict = tencent::moderate(&fixture(), kind, body)?;
    let answer = std::str::from_utf8(&verdict.answer).map_err(|err| err.to_string())?.to_string();
    let rewrite = answer.find(r#","MsgBody":"#).map(|at| {
        let parsed: Value = serde_json::from_str(&answer).expect("the answer is JSON");
        let raw = answer[at + 11..].to_string();
        let raw = match raw.rfind(r#","CloudCustomData":"#) {
            Some(end) => raw[..end].to_string(),
            None => raw[..raw.len() - 1].to_string(),
        };
        Rewrite {
            msg_body: parsed["MsgBody"].clone(),
            raw,
            cloud_custom_data: parsed.get("CloudCustomData").and_then(Value::as_str).map(str::to_string),
        }
    });
    Ok(Moderated { decision: verdict.decision, error_code: verdict.error_code, hits: verdict.hits, rewrite })
}

fn moderate(body: &Value, kind: Kind) -> Moderated {
    match moderate_bytes(body.to_string().as_bytes(), kind) {
        Ok(verdict) => verdict,
        Err(err) => panic!("message refused: {err}"),
    }
}

fn text_message(text: &str) -> Value {
    json!({ "MsgBody": [{ "MsgType": "TIMTextElem", "MsgContent": { "Text": text } }] })
}

#[test]
fn group_reject_uses_group_code() {
    let body = text_message("刷单返利");
    assert_eq!(moderate(&body, Kind::Group).error_code, 10101);
    assert_eq!(moderate(&body, Kind::C2c).error_code, 120001);
    // No @group-code: a group reject falls back to 1.
    assert_eq!(moderate(&text_message("赌博"), Kind::Group).error_code, 1);
}

#[test]
fn allowed_message_has_no_rewrite() {
    let verdict = moderate(&text_message("hello"), Kind::OfficialAccount);
    assert_eq!(verdict.decision, Action::Allow);
    assert!(verdict.rewrite.is_none() && verdict.hits.is_empty());
}

#[test]
fn every_text_field_is_scanned() {
    let body = json!({
        "MsgBody": [
            { "MsgType": "TIMTextElem", "MsgContent": { "Text": "fuck" } },
            { "MsgType": "TIMLocationElem", "MsgContent": { "Desc": "fuck", "Latitude": 29.340656774469956 } },
            { "MsgType": "TIMFaceElem", "MsgContent": { "Index": 1, "Data": "fuck" } },
            { "MsgType": "TIMCustomElem", "MsgContent": { "Data": "fuck", "Desc": "fuck", "Ext": "fuck", "Sound": "fuck" } },
            { "MsgType": "TIMFileElem", "MsgContent": { "FileName": "fuck.mov", "Url": "fuck" } },
            { "MsgType": "TIMImageElem", "MsgContent": { "UUID": "fuck" } },
        ],
        "CloudCustomData": "fuck",
    });
    let verdict = moderate(&body, Kind::C2c);
    let fields: Vec<_> = verdict.hits.iter().filter_map(|hit| hit.field.as_deref()).collect();
    assert_eq!(
        fields,
        [
            "MsgBody[0].MsgContent.Text",
            "MsgBody[1].MsgContent.Desc",
            "MsgBody[2].MsgContent.Data",
            "MsgBody[3].MsgContent.Data",
            "MsgBody[3].MsgContent.Desc",
            "MsgBody[3].MsgContent.Ext",
            "MsgBody[4].MsgContent.FileName",
            "CloudCustomData",
        ]
    );
    let rewrite = verdict.rewrite.expect("mask verdict rewrites");
    let expected = json!([
        { "MsgType": "TIMTextElem", "MsgContent": { "Text": "****" } },
        { "MsgType": "TIMLocationElem", "MsgContent": { "Desc": "****", "Latitude": 29.340656774469956 } },
        { "MsgType": "TIMFaceElem", "MsgContent": { "Index": 1, "Data": "****" } },
        { "MsgType": "TIMCustomElem", "MsgContent": { "Data": "****", "Desc": "****", "Ext": "****", "Sound": "fuck" } },
        { "MsgType": "TIMFileElem", "MsgContent": { "FileName": "****.mov", "Url": "fuck" } },
        { "MsgType": "TIMImageElem", "MsgContent": { "UUID": "fuck" } },
    ]);
    assert_eq!(rewrite.msg_body, expected);
    assert_eq!(rewrite.cloud_custom_data.as_deref(), Some("****"));
}

#[test]
fn relay_message_with_nested_bodies() {
    let body = json!({
        "MsgBody": [{
            "MsgType": "TIMRelayElem",
            "MsgContent": {
                "Title": "聊天记录",
                "MsgNum": 2,
                "CompatibleText": "请升级",
                "AbstractList": ["jared: 你好", "John: 傻逼"],
                "MsgList": [
                    { "From_Account": "jared", "MsgBody": [{ "MsgType": "TIMTextElem", "MsgContent": { "Text": "你好" } }], "CloudCustomData": "" },
                    { "From_Account": "John", "MsgBody": [{ "MsgContent": { "Text": "你个傻逼" }, "MsgType": "TIMTextElem" }], "CloudCustomData": "傻逼" },
                ],
            },
        }],
        "CloudCustomData": "ok",
    });
    let verdict = moderate(&body, Kind::Group);
    assert_eq!(verdict.decision, Action::Mask);
    let fields: Vec<_> = verdict.hits.iter().filter_map(|hit| hit.field.as_deref()).collect();
    assert_eq!(
        fields,
        [
            "MsgBody[0].MsgContent.AbstractList[1]",
            "MsgBody[0].MsgContent.MsgList[1].MsgBody[0].MsgContent.Text",
            "MsgBody[0].MsgContent.MsgList[1].CloudCustomData",
        ]
    );
    let rewrite = verdict.rewrite.expect("mask verdict rewrites");
    let content = &rewrite.msg_body[0]["MsgContent"];
    assert_eq!(content["AbstractList"], json!(["jared: 你好", "John: **"]));
    assert_eq!(content["MsgList"][1]["MsgBody"][0]["MsgContent"]["Text"], "你个**");
    assert_eq!(content["MsgList"][1]["CloudCustomData"], "**");
    assert_eq!(content["MsgList"][0], body["MsgBody"][0]["MsgContent"]["MsgList"][0]);
    // The top-level CloudCustomData had nothing to mask.
    assert_eq!(rewrite.cloud_custom_data, None);
}

#[test]
fn reject_in_nested_relay_rejects_the_message() {
    let body = json!({ "MsgBody": [{ "MsgType": "TIMRelayElem", "MsgContent": {
        "MsgList": [{ "MsgBody": [{ "MsgType": "TIMTextElem", "MsgContent": { "Text": "赌博" } }] }] } }] });
    assert_eq!(moderate(&body, Kind::C2c).error_code, 120002);
}

/// Unknown element types, unknown fields, their order and their exact
/// numbers survive a rewrite byte for byte.
#[test]
fn unknown_types_and_fields_are_rewritten_faithfully() {
    let raw = r#"{"MsgBody":[{"Zeta":1,"MsgType":"TIMTextElem","MsgContent":{"Text":"傻逼 hi","Extra":{"b":1,"a":[1.50,2e3,18446744073709551616]}},"Alpha":null},{"MsgType":"TIMNewFancyElem","MsgContent":{"Text":"傻逼","Weird":0.1000000000000000055511151231257827}},{"MsgType":"TIMLocationElem","MsgContent":{"Desc":"傻逼","Latitude":29.340656774469956,"Longitude":116.77497920478824}}],"CloudCustomData":"x"}"#;
    let verdict = moderate_bytes(raw.as_bytes(), Kind::OfficialAccount).expect("a message");
    let rewrite = verdict.rewrite.expect("mask verdict rewrites");
    // Spliced from the request: every other byte as sent, numbers included.
    let expected = raw
        .replacen("傻逼 hi", "** hi", 1)
        .replacen(r#""Desc":"傻逼""#, r#""Desc":"**""#, 1)
        .replace(r#"{"MsgBody":"#, "")
        .replace(r#","CloudCustomData":"x"}"#, "");
    assert_eq!(rewrite.raw, expected);
}

#[test]
fn malformed_messages_are_named() {
    let engine = fixture();
    let cases = [
        (json!([1]), "the body must be a JSON object"),
        (json!({}), "MsgBody: is missing"),
        (json!({ "MsgBody": "hi" }), "MsgBody: must be an array of message elements"),
        (json!({ "MsgBody": [1] }), "MsgBody[0]: must be an object with MsgType and MsgContent"),
        (json!({ "MsgBody": [{ "MsgContent": {} }] }), "MsgBody[0]: MsgType is missing"),
        (json!({ "MsgBody": [{ "MsgType": 3 }] }), "MsgBody[0]: MsgType must be a string"),
        (
            json!({ "MsgBody": [{ "MsgType": "TIMTextElem", "MsgContent": "x" }] }),
            "MsgBody[0].MsgContent: must be an object for TIMTextElem",
        ),
    ];
    for (body, expected) in cases {
        let err =
            tencent::moderate(&engine, Kind::C2c, body.to_string().as_bytes()).expect_err("malformed body");
        assert_eq!(err, expected);
    }
}

#[test]
fn relays_nested_past_the_json_limit_are_refused() {
    let mut body = json!([{ "MsgType": "TIMTextElem", "MsgContent": { "Text": "hi" } }]);
    for _ in 0..40 {
        body = json!([{ "MsgType": "TIMRelayElem", "MsgContent": { "MsgList": [{ "MsgBody": body }] } }]);
    }
    let err = tencent::moderate(&fixture(), Kind::C2c, json!({ "MsgBody": body }).to_string().as_bytes())
        .expect_err("too deep");
    assert!(err.contains("deeper than 127 levels"), "{err}");
}

#[test]
fn every_documented_sample_is_allowed_by_an_unrelated_dictionary() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/samples");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("samples directory") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if !name.ends_with(".request.json") {
            continue;
        }
        let body = std::fs::read(&path).expect("read");
        let verdict = moderate_bytes(&body, Kind::C2c).expect("well-formed sample");
        assert_eq!(verdict.decision, Action::Allow, "{name}");
        seen += 1;
    }
    assert_eq!(seen, 6);
}

// Folding steps (`@fold`), each on its own, combined, and switched off.
// `s!(name, fold, input, delivered)` runs a mask list folded with `fold`.

fn steps_engine(fold: &str) -> Engine {
    let text = format!("@action mask\n@fold {fold}\nfuck\nshit\nbastard\n赌博\n一起嗨\n");
    match Engine::build(&[DictionarySource::new("mask.txt", text)]) {
        Ok(engine) => engine,
        Err(errors) => panic!("steps fixture does not compile: {errors:?}"),
    }
}

macro_rules! s {
    ($name:ident, $fold:expr, $input:expr, $delivered:expr) => {
        #[test]
        fn $name() {
            let verdict = steps_engine($fold).check_text($input);
            assert_eq!(
                verdict.text, $delivered,
                "fold {:?}, input {:?}, hits {:?}",
                $fold, $input, verdict.hits
            );
        }
    };
}

s!(simplified_on, "none simplified", "去賭博吗", "去**吗");
s!(simplified_off, "none", "去賭博吗", "去賭博吗");
s!(noise_cjk_space, "none noise", "去赌 博吗", "去***吗");
s!(noise_cjk_symbol, "none noise", "去赌*博吗", "去***吗");
s!(noise_cjk_emoji, "none noise", "去赌😀博吗", "去***吗");
s!(noise_latin_dots, "none noise", "oh f.u.c.k off", "oh ******* off");
s!(noise_latin_spaces, "none noise", "oh f u c k off", "oh ******* off");
s!(noise_gap_is_bounded, "none noise", "赌    博", "赌    博");
s!(noise_not_across_clauses, "none noise", "我们去赌。博物馆很好", "我们去赌。博物馆很好");
s!(noise_off, "none", "去赌 博吗", "去赌 博吗");
s!(confusables_cyrillic, "none confusables", "ƒuсk off", "**** off");
s!(confusables_circled, "none confusables", "Ⓕⓤⓒⓚ off", "**** off");
s!(confusables_math_bold, "none confusables", "𝐟𝐮𝐜𝐤 off", "**** off");
s!(confusables_off, "none", "ƒuсk off", "ƒuсk off");
s!(leet_dollar_one, "none leet", "oh $h1t", "oh ****");
s!(leet_run, "none leet", "b4$7ard!", "*******!");
s!(leet_not_numbers, "none leet", "$5 for 2024", "$5 for 2024");
s!(leet_off, "none", "oh $h1t", "oh $h1t");
s!(repeats_latin, "none repeats", "fuuuuck off", "******* off");
s!(repeats_cjk, "none repeats", "赌赌赌博", "****");
s!(repeats_double, "none repeats", "fuuck off", "***** off");
s!(repeats_double_not_in_words, "none repeats", "good assassin", "good assassin");
s!(repeats_off, "none", "fuuuuck off", "fuuuuck off");
s!(numbers_chinese, "none numbers", "一起嗨", "***");
s!(numbers_on_entries_too, "none numbers", "1起嗨", "***");
s!(numbers_off_by_default, "default", "1起嗨", "1起嗨");
s!(combined_traditional_noise, "default", "去賭 😀博吗", "去****吗");
s!(combined_confusable_noise, "default", "oh ƒ.u.с.k off", "oh ******* off");
s!(combined_leet_repeats, "default", "oh $hiiiit", "oh *******");
s!(
    all_steps_plain_text_unchanged,
    "all",
    "good classic assassin 谢谢 2024",
    "good classic assassin 谢谢 2024"
);

// Phonetic steps (`pinyin`, `homophones`, `split`): off by default, one
// `@fold +name` away. The mask covers what the sender typed, the spaces and
// tone digits between syllables included.
s!(pinyin_off_by_default, "default", "来dubo吧", "来dubo吧");
s!(pinyin_joined, "default +pinyin", "来dubo吧", "来****吧");
s!(pinyin_spaced, "default +pinyin", "来 du bo 吧", "来 ***** 吧");
s!(pinyin_any_case, "default +pinyin", "DuBo time", "**** time");
s!(pinyin_tone_marks, "default +pinyin", "dǔ bó", "*****");
s!(pinyin_tone_digits, "default +pinyin", "du3bo2!", "******!");
s!(pinyin_half_and_half, "default +pinyin", "去赌bo吗", "去***吗");
s!(pinyin_other_half, "default +pinyin", "去du博吗", "去***吗");
s!(pinyin_traditional_half, "default +pinyin", "去賭bo吗", "去***吗");
s!(pinyin_with_noise, "default +pinyin", "du*bo", "*****");
s!(pinyin_word_boundaries, "default +pinyin", "dubois and adubo", "dubois and adubo");
s!(pinyin_breaks_between_syllables, "default +pinyin", "d ubo", "d ubo");
s!(pinyin_three_syllables, "default +pinyin", "yi qi hai", "*********");
s!(homophones_off_by_default, "default +pinyin", "来睹博吧", "来睹博吧");
s!(homophones_one_character, "default +homophones", "来睹博吧", "来**吧");
s!(homophones_other_character, "default +homophones", "在线堵博", "在线**");
s!(homophones_not_both, "default +homophones", "杜波来了", "杜波来了");
s!(homophones_not_inside_words, "default +homophones", "我表哥读博士了", "我表哥读博士了");
s!(split_off_by_default, "default", "去贝者博吗", "去贝者博吗");
s!(split_one_character, "default +split", "去贝者博吗", "去***吗");
s!(split_with_noise_and_traditional, "default +split", "贝者 😀 博", "******");
s!(split_and_pinyin, "default +split +pinyin", "贝者bo", "****");
s!(split_only_entry_characters, "default +split", "女子学生", "女子学生");
s!(
    phonetic_english_stays_clean,
    "default +pinyin +homophones +split",
    "the band played a long song in the sun, then men ran to the bank",
    "the band played a long song in the sun, then men ran to the bank"
);

/// The phonetic steps' traps and tables, on a list of words people respell.
fn phonetic_engine() -> Engine {
    engine_of(&[("zh.txt", "@action mask\n@fold +pinyin +homophones +split\n妈的\n畜生\n白痴\n刷单\n接盘\n")])
}

macro_rules! p {
    ($name:ident, $input:expr, $delivered:expr) => {
        #[test]
        fn $name() {
            let verdict = phonetic_engine().check_text($input);
            assert_eq!(verdict.text, $delivered, "input {:?}, hits {:?}", $input, verdict.hits);
        }
    };
}

// An English word that reads as pinyin is the English word; spelt apart,
// or in a Chinese sentence, it is pinyin.
p!(pinyin_not_an_english_word, "I made pancakes", "I made pancakes");
p!(pinyin_english_word_in_capitals, "MADE IN CHINA", "MADE IN CHINA");
p!(pinyin_spaced_is_not_the_english_word, "你个ma de", "你个*****");
// A homophone hit that is itself a word is that word.
p!(homophone_that_is_a_word, "他是哪年出生的", "他是哪年出生的");
p!(homophone_that_is_not_a_word, "你这个畜声", "你这个**");
// Split characters: surrounds typed outer part first, radicals typed as
// the character they come from, components beyond the BMP.
p!(split_surround, "真是白疒知", "真是***");
p!(split_typed_radical, "别才妾盘", "别***");
p!(split_component_beyond_the_bmp, "𡰯刂单吗", "***吗");
p!(split_tone_marks_and_both, "shuā单", "*****");

/// The shipped contact list: every detector, `@action mask` so a test
/// sees exactly what is covered.
fn contact_engine() -> Engine {
    engine_of(&[(
        "contact.txt",
        "@action mask\ndetect:phone\ndetect:wechat\ndetect:qq\ndetect:url\ndetect:email\n",
    )])
}

macro_rules! d {
    ($name:ident, $input:expr, $delivered:expr, $entry:expr) => {
        #[test]
        fn $name() {
            let verdict = contact_engine().check_text($input);
            assert_eq!(verdict.text, $delivered, "input {:?}, hits {:?}", $input, verdict.hits);
            let entries: Vec<&str> = verdict.hits.iter().map(|hit| hit.entry.as_str()).collect();
            let expected: &[&str] = $entry;
            assert_eq!(entries, expected, "input {:?}", $input);
        }
    };
}

// Phone numbers in the spellings spammers use; the cue word stays.
d!(phone_plain, "电话13812345678", "电话***********", &["detect:phone"]);
d!(phone_spaced, "打 138 1234 5678 吧", "打 ************* 吧", &["detect:phone"]);
d!(phone_plus86, "+86 138-1234-5678", "*****************", &["detect:phone"]);
d!(phone_circled, "①③⑧①②③④⑤⑥⑦⑧", "***********", &["detect:phone"]);
d!(phone_chinese_numerals, "幺三八一二三四五六七八", "***********", &["detect:phone"]);
d!(phone_financial_numerals, "壹叁捌壹贰叁肆伍陆柒捌", "***********", &["detect:phone"]);
d!(phone_full_width, "１３８１２３４５６７８", "***********", &["detect:phone"]);
d!(phone_keycaps, "1️⃣3️⃣8️⃣1️⃣2️⃣3️⃣4️⃣5️⃣6️⃣7️⃣8️⃣", "*********************************", &["detect:phone"]);
d!(phone_parenthesised, "⑴⑶⑻⑴⑵⑶⑷⑸⑹⑺⑻", "***********", &["detect:phone"]);
d!(qq_cue_with_emoji, "企鹅号：😀 12345678", "企鹅号：😀 ********", &["detect:qq"]);
d!(url_bracketed_dot, "example[.]com", "*************", &["detect:url"]);
d!(clean_short_qq, "QQ:1234", "QQ:1234", &[]);
d!(phone_landline, "(010) 6217 9665", "***************", &["detect:phone"]);
d!(
    phone_in_a_list,
    "010-63779779,13911218526。",
    "************,***********。",
    &["detect:phone", "detect:phone"]
);
// QQ and WeChat need their cue; the ID after it is masked.
d!(qq_chinese_numerals, "扣扣 一二三四五六七八九", "扣扣 *********", &["detect:qq"]);
d!(qq_glued, "qq332146823", "qq*********", &["detect:qq"]);
d!(
    qq_later_in_the_clause,
    "能加一下您QQ么，我的是345865759",
    "能加一下您QQ么，我的是*********",
    &["detect:qq"]
);
d!(wechat_id, "加我微信 abc12345", "加我微信 ********", &["detect:wechat"]);
d!(wechat_emoji_cue, "V❤: xyz_888", "V❤: *******", &["detect:wechat"]);
d!(wechat_elsewhere, "wx号见头像", "wx号***", &["detect:wechat"]);
d!(wechat_phone_is_both, "微信13631252376", "微信***********", &["detect:phone", "detect:wechat"]);
// Links and addresses, dots spelt out.
d!(url_spelt_dots, "看 www点example点com 吧", "看 *************** 吧", &["detect:url"]);
d!(url_ideographic_full_stop, "上example。com看看", "上***********看看", &["detect:url"]);
d!(url_scheme, "go to https://t.cn/abc now", "go to **************** now", &["detect:url"]);
d!(email_plain, "mail me: bob.smith@example.com.", "mail me: *********************.", &["detect:email"]);
d!(email_bracketed_at, "foo[at]bar.com", "**************", &["detect:email"]);
// What must not hit: prices, dates, times, years, order numbers, versions,
// abbreviations, a cue without an ID.
d!(clean_price_and_time, "2024年1月5日 13:45 价格 ¥1380.00", "2024年1月5日 13:45 价格 ¥1380.00", &[]);
d!(clean_order_number, "订单号 20240105123456 已发货", "订单号 20240105123456 已发货", &[]);
d!(clean_date_and_time, "07/06/2000 14:57", "07/06/2000 14:57", &[]);
d!(clean_dots, "e.g. the U.S. file.txt 3.14 node.js", "e.g. the U.S. file.txt 3.14 node.js", &[]);
d!(clean_wechat_pay, "用微信支付100元", "用微信支付100元", &[]);
d!(clean_digits_without_cue, "我有123456789个", "我有123456789个", &[]);
d!(clean_mention, "@everyone hi", "@everyone hi", &[]);

#[test]
fn detectors_are_named_exactly() {
    let errors = match Engine::build(&[DictionarySource::new(
        "c.txt",
        "@action discard\ndetect:phone\ndetect:phnoe\n".to_string(),
    )]) {
        Ok(_) => panic!("an unknown detector compiles"),
        Err(errors) => errors,
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    let shown = errors[0].to_string();
    assert!(shown.starts_with("c.txt:3: unknown detector `detect:phnoe`"), "{shown}");
    assert!(shown.contains("detect:phone, detect:wechat, detect:qq, detect:url, detect:email"), "{shown}");
    let allow = Engine::build(&[DictionarySource::new("ok.txt", "@action allow\ndetect:url\n".to_string())]);
    assert!(matches!(allow, Err(errors) if errors[0].to_string().starts_with("ok.txt:2:")));
}

/// `wordgate check` and the audit name the entry a respelling matched.
#[test]
fn phonetic_hits_name_the_entry() {
    let verdict = steps_engine("default +pinyin +homophones +split").check_text("du bo, 睹博, 贝者博");
    let entries: Vec<&str> = verdict.hits.iter().map(|hit| hit.entry.as_str()).collect();
    assert_eq!(entries, ["赌博", "赌博", "赌博"], "{:?}", verdict.hits);
    let matched: Vec<&str> = verdict.hits.iter().map(|hit| hit.matched.as_str()).collect();
    assert_eq!(matched, ["du bo", "睹博", "贝者博"]);
}

/// A misspelt step is a `FILE:LINE` error that lists the names.
#[test]
fn unknown_phonetic_step_is_an_error() {
    let errors =
        Engine::build(&[DictionarySource::new("x.txt", "@fold +pinyn\n赌博\n")]).err().unwrap_or_default();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(shown[0].starts_with("x.txt:1:") && shown[0].contains("pinyin, homophones, split"), "{shown:?}");
}

/// An entry that writes a character several times (`哈哈哈`, `kkk`) needs
/// the text to write it at least as often: with `repeats` it folds to one
/// character, but that character alone does not meet it.
#[test]
fn entries_of_one_character_repeated_need_as_many() {
    let list = "@action review\n哈哈哈\nkkk\n谢谢你\n";
    let Ok(engine) = Engine::build(&[DictionarySource::new("x.txt", list)]) else { panic!("builds") };
    let hits = |text: &str| engine.check_text(text).hits.len();
    assert_eq!((hits("哈"), hits("哈哈"), hits("哈哈哈"), hits("哈哈哈哈哈")), (0, 0, 1, 1));
    assert_eq!((hits("ok k"), hits("kk"), hits("kkk"), hits("KKKK")), (0, 0, 1, 1));
    assert_eq!((hits("谢你"), hits("谢谢你"), hits("谢谢谢你")), (0, 1, 1));
}

/// Regex rules see digits as written, whatever leetspeak folding does for
/// the literals of the same file.
#[test]
fn regexes_are_not_leet_folded() {
    let list = "@action reject\nre:qq\\s*\\d{5,}\nsh1t\n";
    let Ok(engine) = Engine::build(&[DictionarySource::new("x.txt", list)]) else { panic!("builds") };
    assert_eq!(engine.check_text("加我QQ12345678").decision, Action::Reject);
    assert_eq!(engine.check_text("oh $hit").decision, Action::Reject);
    assert_eq!(engine.check_text("qqiz34s").decision, Action::Allow);
}

/// `@boundary segment`: a CJK hit that starts or ends inside a word of the
/// segmented text is dropped; one on word boundaries stays.
#[test]
fn segment_boundaries_drop_hits_across_chinese_words() {
    let list = "@action reject\n@boundary segment\n口交\n赌博\n色情\nfuck\n";
    let Ok(engine) = Engine::build(&[DictionarySource::new("x.txt", list)]) else { panic!("builds") };
    let hits = |text: &str| engine.check_text(text).hits.len();
    assert_eq!(hits("路口交通很堵"), 0);
    assert_eq!(hits("白色情人节"), 0);
    assert_eq!(hits("赌博机"), 1);
    assert_eq!(hits("有人在网上赌博"), 1);
    assert_eq!(hits("色@情"), 1);
    assert_eq!(hits("fuck you"), 1);
    // Without the directive the same list hits across the boundary.
    let Ok(plain) = Engine::build(&[DictionarySource::new("x.txt", "@action reject\n口交\n")]) else {
        panic!("builds")
    };
    assert_eq!(plain.check_text("路口交通很堵").hits.len(), 1);
}

/// Respellings of one-word entries (the spelling index) mask what the
/// sender typed, symbols and all.
#[test]
fn respellings_are_masked_where_they_were_typed() {
    let list = "@action mask\nbitch\nfuck\nshit\nmotherfucker\nfaggot\n";
    let Ok(engine) = Engine::build(&[DictionarySource::new("x.txt", list)]) else { panic!("builds") };
    for (text, delivered) in [
        ("you b*tch", "you *****"),
        ("s#it happens", "**** happens"),
        ("FVCK off", "**** off"),
        ("shiit", "*****"),
        ("a mother fucker", "a *************"),
        ("fu ck it", "***** it"),
        ("f&gg0t", "******"),
        ("fuckfuck", "********"),
        ("you 123motherfucker123", "you ******************"),
        ("dicks", "dicks"),
        ("assassin packet", "assassin packet"),
        ("the pen is blue", "the pen is blue"),
        ("he'll see", "he'll see"),
    ] {
        assert_eq!(engine.check_text(text).text, delivered, "{text:?}");
    }
}

// ---- scoped lists ----

fn place(selectors: &[&str]) -> wordgate::engine::Place {
    wordgate::engine::Place::parse(selectors).unwrap_or_else(|err| panic!("{err}"))
}

#[test]
fn scoped_allow_lists_excuse_only_where_they_apply() {
    let engine = engine_of(&[
        ("ads.txt", "@action reject\n加群\n"),
        ("oa-allow.txt", "@action allow\n@scope oa\n加群聊\n"),
        ("room-allow.txt", "@action allow\n@scope group:AVChatRoom\n快来加群\n"),
        ("all-allow.txt", "@action allow\n不加群\n"),
    ]);
    assert!(engine.is_scoped());
    let decision = |text: &str, at: &[&str]| engine.check_text_in(text, &place(at)).decision;
    assert_eq!(decision("加群聊", &["oa"]), Action::Allow);
    assert_eq!(decision("加群聊", &["c2c"]), Action::Reject);
    assert_eq!(decision("快来加群吧", &["group:AVChatRoom"]), Action::Allow);
    assert_eq!(decision("快来加群吧", &["group:Public"]), Action::Reject);
    // An unscoped allow list excuses everywhere, as before.
    assert_eq!(decision("我不加群", &["c2c"]), Action::Allow);
    // The match itself says which scoped lists cover it (one bit each, in
    // file order).
    for (text, excused) in [("加群聊", 0b01), ("快来加群吧", 0b10), ("加群", 0)] {
        let mut matches = Vec::new();
        engine.find(text, &mut matches);
        assert_eq!(matches.iter().map(|found| found.excused).collect::<Vec<_>>(), [excused], "{text}");
    }
}

#[test]
fn a_scoped_category_hits_only_in_its_places_and_answers_their_code() {
    let engine = engine_of(&[(
        "ads.txt",
        "@action reject\n@code 120020\n@group-code 10120\n@scope group:AVChatRoom group:Meeting c2c\n加群\n",
    )]);
    let verdict = |at: &[&str]| {
        let verdict = engine.check_text_in("加群", &place(at));
        (verdict.decision, verdict.error_code, verdict.hits.len())
    };
    assert_eq!(verdict(&["group:AVChatRoom"]), (Action::Reject, 10120, 1));
    assert_eq!(verdict(&["group:ChatRoom"]), (Action::Reject, 10120, 1), "Meeting is ChatRoom");
    assert_eq!(verdict(&["c2c"]), (Action::Reject, 120020, 1));
    assert_eq!(verdict(&["group:Private"]), (Action::Allow, 0, 0));
    assert_eq!(verdict(&["oa"]), (Action::Allow, 0, 0));
    assert_eq!(verdict(&[]), (Action::Reject, 120020, 1), "no place: every category applies");
    // Unscoped dictionaries need no filtering at all.
    assert!(!fixture().is_scoped());
}

#[test]
fn at_most_64_allow_lists_may_be_scoped() {
    let files: Vec<(String, String)> = (0..65)
        .map(|index| (format!("allow-{index:02}.txt"), format!("@action allow\n@scope c2c\nword{index}\n")))
        .collect();
    let sources: Vec<_> = files.iter().map(|(name, text)| DictionarySource::new(name, text)).collect();
    let errors = Engine::build(&sources).err().unwrap_or_default();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].to_string().starts_with("allow-64.txt: at most 64 allow lists may have a @scope"),
        "{}",
        errors[0]
    );
    assert!(Engine::build(&sources[..64]).is_ok());
}

#[test]
fn a_group_callback_is_judged_by_its_type_wherever_the_field_is() {
    let engine =
        engine_of(&[("ads.txt", "@action reject\n@group-code 10120\n@scope group:AVChatRoom\n加群\n")]);
    let code = |body: &str| match tencent::moderate(&engine, Kind::Group, body.as_bytes()) {
        Ok(verdict) => verdict.error_code,
        Err(err) => panic!("{err}: {body}"),
    };
    let text = r#""MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"加群"}}]"#;
    assert_eq!(code(&format!(r#"{{"Type":"AVChatRoom",{text}}}"#)), 10120);
    assert_eq!(code(&format!(r#"{{{text},"Type":"AVChatRoom"}}"#)), 10120);
    assert_eq!(code(&format!(r#"{{"Type":"Private",{text}}}"#)), 0);
    assert_eq!(code(&format!(r#"{{{text}}}"#)), 0, "no Type: not a live room");
    assert_eq!(
        code(&format!(r#"{{"Type":"AVChatRoom",{text},"Type":"AVChatRoom"}}"#)),
        0,
        "a repeated Type is unknown"
    );
    assert_eq!(code(&format!(r#"{{"Type":7,{text}}}"#)), 0);
}
