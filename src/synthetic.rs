//! Seeded, dependency-free generators of dictionaries and chat messages for
//! benches, tests and the load harness. The same seed always gives the same
//! data, so figures from different runs compare.

/// A small xorshift generator: reproducible everywhere, no dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, zero included).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

fn ascii_word(rng: &mut Rng, min: usize, max: usize) -> String {
    let len = min + rng.below(max - min + 1);
    let mut word: Vec<u8> = (0..len).map(|_| b'a' + rng.below(26) as u8).collect();
    // `zzz` is one letter repeated, which a list folding repeats refuses;
    // nudge the last letter rather than draw again, so the rest of the
    // sequence (and every figure measured on it) stays as it was.
    if word.iter().all(|&b| b == word[0]) {
        if let Some(last) = word.last_mut() {
            *last = if *last == b'z' { b'a' } else { *last + 1 };
        }
    }
    String::from_utf8_lossy(&word).into_owned()
}

fn cjk_word(rng: &mut Rng, min: usize, max: usize) -> String {
    let len = min + rng.below(max - min + 1);
    // The 2,500 ideographs from U+4E00 on: common enough that random pairs
    // collide with chat text the way real lists do.
    let mut word: Vec<char> =
        (0..len).map(|_| char::from_u32(0x4E00 + rng.below(2500) as u32).unwrap_or('中')).collect();
    if word.len() >= 3 && word.iter().all(|&c| c == word[0]) {
        word[0] = '中';
    }
    word.into_iter().collect()
}

/// `count` dictionary words, 60% ASCII (3–10 letters, some two-word
/// phrases) and 40% CJK (2–4 ideographs), like real mixed lists.
pub fn words(seed: u64, count: usize) -> Vec<String> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            if rng.below(10) < 6 {
                let word = ascii_word(&mut rng, 3, 10);
                if rng.below(10) == 0 {
                    format!("{word} {}", ascii_word(&mut rng, 3, 6))
                } else {
                    word
                }
            } else {
                cjk_word(&mut rng, 2, 4)
            }
        })
        .collect()
}

/// A dictionary file of `count` words with the given action line.
pub fn dictionary_text(seed: u64, count: usize, directives: &str) -> String {
    let mut text = String::from(directives);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    for word in words(seed, count) {
        text.push_str(&word);
        text.push('\n');
    }
    text
}

const FILLER: &[&str] = &[
    "hello",
    "ok",
    "game",
    "vip",
    "nice",
    "thanks",
    "lol",
    "see you",
    "明天见",
    "哈哈",
    "好的",
    "？",
    "！",
    "，",
    "。",
];

/// A chat message of about `bytes` bytes: CJK runs, English filler, numbers
/// and punctuation; with `inject`, one of `words` about every 100 bytes.
pub fn message(rng: &mut Rng, bytes: usize, inject: Option<&[String]>) -> String {
    let mut text = String::with_capacity(bytes + 16);
    let mut next_injection = 50;
    while text.len() < bytes {
        match rng.below(4) {
            0 | 1 => text.push_str(&cjk_word(rng, 2, 12)),
            2 => text.push_str(FILLER[rng.below(FILLER.len())]),
            _ => text.push_str(&rng.below(100_000).to_string()),
        }
        text.push(' ');
        if let Some(words) = inject {
            if text.len() >= next_injection && !words.is_empty() {
                text.push_str(&words[rng.below(words.len())]);
                text.push(' ');
                next_injection += 100;
            }
        }
    }
    text
}

/// The scope bench's dictionaries (`benches/request.rs` group `scopes`,
/// `examples/request_cost.rs`): the 100k-entry reject list of seed 2, a
/// mask list and three small lists, five categories in all; with `scoped`,
/// each has a different `@scope` that takes in a `Community` group of app
/// 1400000001 (the group sample), so every hit is checked against its
/// scope and still counts.
pub fn scope_bench_sources(scoped: bool) -> Vec<crate::DictionarySource> {
    let scope = |selectors: &str| if scoped { format!("@scope {selectors}\n") } else { String::new() };
    let blocked = format!("@action reject\n{}", scope("group:Community c2c"));
    vec![
        crate::DictionarySource::new("blocked.txt", dictionary_text(2, 100_000, &blocked)),
        crate::DictionarySource::new(
            "rude.txt",
            format!("@action mask\n{}damn\n", scope("group app:1400000001")),
        ),
        crate::DictionarySource::new(
            "ads.txt",
            format!("@action discard\n{}加群领福利\n", scope("group:Community group:AVChatRoom")),
        ),
        crate::DictionarySource::new("watch.txt", format!("@action review\n{}代购\n", scope("group oa"))),
        crate::DictionarySource::new(
            "dating.txt",
            format!("@action reject\n{}约炮\n", scope("app:1400000001 group:Community")),
        ),
    ]
}
