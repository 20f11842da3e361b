//! Where a category applies: the `@scope` directive's selectors, and the
//! place one message is judged in.
//!
//! A [`Scope`] is two sets, each meaning "everywhere" when empty: the
//! conversations (`oa`, `c2c`, `group`, `group:<Type>`) as a bit set, and
//! the apps (`app:<SDKAppID>`). A [`Place`] is in a scope when it is in both.
//! One engine serves every place: a message is scanned against every
//! category, and the hits of categories out of scope are dropped afterwards
//! (a mask test and a search of a handful of app ids per hit), so scopes
//! cost nothing on clean text and nothing at reload.
//!
//! The words are the dictionary format's (the product contract); the
//! protocol layer says which place a callback is.

use std::fmt;

/// A group's type, as the group callbacks' `Type` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupType {
    /// `Public`: anyone may apply to join.
    Public,
    /// `Private`, also written `Work`: members invite friends.
    Private,
    /// `ChatRoom`, also written `Meeting`: join and leave freely.
    ChatRoom,
    /// `AVChatRoom`: live-streaming rooms, no member limit.
    AvChatRoom,
    /// `Community`: large groups with topics.
    Community,
}

/// `(type, name, aliases)`: the one place a group type is spelt. Tencent
/// renamed `Private` to `Work` and `ChatRoom` to `Meeting`; callbacks may
/// carry either name.
const GROUP_TYPES: [(GroupType, &str, &[&str]); 5] = [
    (GroupType::Public, "Public", &[]),
    (GroupType::Private, "Private", &["Work"]),
    (GroupType::ChatRoom, "ChatRoom", &["Meeting"]),
    (GroupType::AvChatRoom, "AVChatRoom", &[]),
    (GroupType::Community, "Community", &[]),
];

impl GroupType {
    /// The type a name (or an alias) spells, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<GroupType> {
        GROUP_TYPES
            .iter()
            .find(|(_, canonical, aliases)| {
                canonical.eq_ignore_ascii_case(name)
                    || aliases.iter().any(|alias| alias.eq_ignore_ascii_case(name))
            })
            .map(|row| row.0)
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        GROUP_TYPES[self as usize].1
    }

    fn bit(self) -> u8 {
        GROUP_TYPED << self as u8
    }
}

/// Which kind of conversation a message is sent in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Conversation {
    /// An official account's broadcast (`oa`).
    OfficialAccount,
    /// A one-to-one chat (`c2c`).
    OneToOne,
    /// A group (`group`), of a known type or not (absent, or a type this
    /// table does not list: then only a plain `group` selector takes it in).
    Group(Option<GroupType>),
}

impl fmt::Display for Conversation {
    /// The selector that names exactly this conversation (`group` for a
    /// group of no listed type).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conversation::OfficialAccount => f.write_str("oa"),
            Conversation::OneToOne => f.write_str("c2c"),
            Conversation::Group(None) => f.write_str("group"),
            Conversation::Group(Some(kind)) => write!(f, "group:{}", kind.name()),
        }
    }
}

impl Conversation {
    fn bit(self) -> u8 {
        match self {
            Conversation::OfficialAccount => OFFICIAL_ACCOUNT,
            Conversation::OneToOne => ONE_TO_ONE,
            Conversation::Group(None) => GROUP_UNTYPED,
            Conversation::Group(Some(kind)) => kind.bit(),
        }
    }
}

const OFFICIAL_ACCOUNT: u8 = 1;
const ONE_TO_ONE: u8 = 1 << 1;
const GROUP_UNTYPED: u8 = 1 << 2;
/// The first group type's bit; the five types take the next five.
const GROUP_TYPED: u8 = 1 << 3;
const ANY_GROUP: u8 = GROUP_UNTYPED | (0b11111 * GROUP_TYPED);

/// One callback's place, as far as it is known: an unknown part (`None`)
/// is in every scope, so `wordgate check --scope c2c` tries the lists of
/// every app.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Place {
    /// The conversation.
    pub conversation: Option<Conversation>,
    /// The SDKAppID.
    pub app: Option<u64>,
}

impl Place {
    /// The place `selectors` describe (the words of `@scope`, at most one
    /// conversation and one app): `["oa", "app:1400000002"]`. A plain
    /// `group` is a group of no listed type.
    pub fn parse<S: AsRef<str>>(selectors: &[S]) -> Result<Place, String> {
        let mut place = Place::default();
        for selector in selectors {
            let selector = selector.as_ref();
            match Selector::parse(selector)? {
                Selector::App(app) => {
                    if place.app.replace(app).is_some() {
                        return Err(format!("{selector}: a place is in one app; give one app:<SDKAppID>"));
                    }
                }
                Selector::Conversation(conversation) => {
                    if place.conversation.replace(conversation).is_some() {
                        return Err(format!(
                            "{selector}: a place is one conversation; give one of oa, c2c, group, group:<Type>"
                        ));
                    }
                }
                Selector::AnyGroup => {
                    if place.conversation.replace(Conversation::Group(None)).is_some() {
                        return Err(format!(
                            "{selector}: a place is one conversation; give one of oa, c2c, group, group:<Type>"
                        ));
                    }
                }
            }
        }
        Ok(place)
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words: Vec<String> = self.conversation.iter().map(Conversation::to_string).collect();
        if let Some(app) = self.app {
            words.push(format!("app:{app}"));
        }
        if words.is_empty() {
            return f.write_str("anywhere");
        }
        f.write_str(&words.join(" "))
    }
}

/// Where a category applies: `@scope`, everywhere when absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// The conversations, as bits; 0 is every conversation.
    conversations: u8,
    /// The apps, sorted; empty is every app.
    apps: Vec<u64>,
}

/// One word of `@scope`.
enum Selector {
    Conversation(Conversation),
    AnyGroup,
    App(u64),
}

/// What a misspelt selector is told.
const EXPECTED: &str =
    "expected oa, c2c, group, group:<Type> (Public, Private, ChatRoom, AVChatRoom, Community; \
                        Work and Meeting name Private and ChatRoom) or app:<SDKAppID>";

impl Selector {
    fn parse(word: &str) -> Result<Selector, String> {
        match word {
            "oa" => return Ok(Selector::Conversation(Conversation::OfficialAccount)),
            "c2c" => return Ok(Selector::Conversation(Conversation::OneToOne)),
            "group" => return Ok(Selector::AnyGroup),
            _ => {}
        }
        if let Some(name) = word.strip_prefix("group:") {
            return GroupType::from_name(name)
                .map(|kind| Selector::Conversation(Conversation::Group(Some(kind))))
                .ok_or_else(|| {
                    format!(
                        "unknown group type `{name}` in `{word}` (expected Public, Private, ChatRoom, AVChatRoom \
                         or Community; Work and Meeting name Private and ChatRoom)"
                    )
                });
        }
        if let Some(id) = word.strip_prefix("app:") {
            return match id.parse::<u64>() {
                Ok(app) if app > 0 && id.bytes().all(|b| b.is_ascii_digit()) => Ok(Selector::App(app)),
                _ => Err(format!("`{word}`: an SDKAppID is a positive number, e.g. app:1400000001")),
            };
        }
        Err(format!("unknown scope selector `{word}` ({EXPECTED})"))
    }
}

impl Scope {
    /// Every place.
    pub const EVERYWHERE: Scope = Scope { conversations: 0, apps: Vec::new() };

    /// Parses `@scope`'s value: selectors separated by spaces.
    pub fn parse(value: &str) -> Result<Scope, String> {
        let mut conversations = 0u8;
        let mut apps = Vec::new();
        for word in value.split_whitespace() {
            match Selector::parse(word)? {
                Selector::Conversation(conversation) => conversations |= conversation.bit(),
                Selector::AnyGroup => conversations |= ANY_GROUP,
                Selector::App(app) => apps.push(app),
            }
        }
        if conversations == 0 && apps.is_empty() {
            return Err(format!("@scope needs at least one selector ({EXPECTED})"));
        }
        apps.sort_unstable();
        apps.dedup();
        Ok(Scope { conversations, apps })
    }

    /// Applies everywhere (no `@scope`).
    pub fn is_everywhere(&self) -> bool {
        self.conversations == 0 && self.apps.is_empty()
    }

    /// Whether a message in `place` is judged by this scope's category.
    #[inline]
    pub fn contains(&self, place: &Place) -> bool {
        let conversation = place.conversation.map_or(u8::MAX, Conversation::bit);
        (self.conversations == 0 || self.conversations & conversation != 0)
            && (self.apps.is_empty() || place.app.is_none_or(|app| self.apps.binary_search(&app).is_ok()))
    }

    /// The selectors, in a canonical order (`c2c group:AVChatRoom
    /// app:1400000001`); none for everywhere.
    pub fn selectors(&self) -> Vec<String> {
        let mut conversations = vec![Conversation::OfficialAccount, Conversation::OneToOne];
        if self.conversations & ANY_GROUP == ANY_GROUP {
            conversations.push(Conversation::Group(None));
        } else {
            conversations.extend(GROUP_TYPES.iter().map(|row| Conversation::Group(Some(row.0))));
        }
        let mut words: Vec<String> = conversations
            .into_iter()
            .filter(|conversation| self.conversations & conversation.bit() != 0)
            .map(|conversation| conversation.to_string())
            .collect();
        words.extend(self.apps.iter().map(|app| format!("app:{app}")));
        words
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_everywhere() {
            return f.write_str("everywhere");
        }
        f.write_str(&self.selectors().join(" "))
    }
}

impl serde::Serialize for Scope {
    /// The selectors, `[]` for everywhere.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.selectors())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(selectors: &[&str]) -> Place {
        Place::parse(selectors).unwrap_or_else(|err| panic!("{err}"))
    }

    #[test]
    fn a_place_is_in_a_scope_when_it_is_in_both_sets() {
        let scope = Scope::parse("group:AVChatRoom c2c app:1400000001").unwrap_or_default();
        assert!(scope.contains(&place(&["c2c", "app:1400000001"])));
        assert!(scope.contains(&place(&["group:AVChatRoom", "app:1400000001"])));
        assert!(!scope.contains(&place(&["group:Private", "app:1400000001"])));
        assert!(
            !scope.contains(&place(&["group", "app:1400000001"])),
            "an untyped group is not an AVChatRoom"
        );
        assert!(!scope.contains(&place(&["oa", "app:1400000001"])));
        assert!(!scope.contains(&place(&["c2c", "app:1400000002"])));
        // What is not said is in every scope.
        assert!(scope.contains(&place(&["c2c"])));
        assert!(scope.contains(&place(&["app:1400000001"])));
        assert!(!scope.contains(&place(&["app:1400000002"])));
        assert!(scope.contains(&Place::default()));
    }

    #[test]
    fn group_takes_every_type_and_none() {
        let scope = Scope::parse("group").unwrap_or_default();
        for kind in ["group", "group:Public", "group:Work", "group:Meeting", "group:Community"] {
            assert!(scope.contains(&place(&[kind])), "{kind}");
        }
        assert!(!scope.contains(&place(&["c2c"])));
        assert_eq!(scope.selectors(), ["group"]);
    }

    #[test]
    fn aliases_and_case_name_the_same_type() {
        assert_eq!(GroupType::from_name("Work"), Some(GroupType::Private));
        assert_eq!(GroupType::from_name("Meeting"), Some(GroupType::ChatRoom));
        assert_eq!(GroupType::from_name("avchatroom"), Some(GroupType::AvChatRoom));
        assert_eq!(GroupType::from_name("BChatRoom"), None);
        let scope = Scope::parse("group:Work").unwrap_or_default();
        assert!(scope.contains(&place(&["group:Private"])));
        assert_eq!(scope.to_string(), "group:Private");
    }

    #[test]
    fn misspelt_selectors_are_refused_with_the_choices() {
        for (value, says) in [
            ("grop", "unknown scope selector `grop`"),
            ("group:AVChatroomm", "unknown group type `AVChatroomm`"),
            ("app:14000x", "an SDKAppID is a positive number"),
            ("app:0", "an SDKAppID is a positive number"),
            ("app:+1", "an SDKAppID is a positive number"),
            ("C2C", "unknown scope selector"),
            ("", "needs at least one selector"),
        ] {
            match Scope::parse(value) {
                Err(err) => assert!(err.contains(says), "{value:?}: {err}"),
                Ok(scope) => panic!("{value:?} parsed as {scope}"),
            }
        }
        assert!(Place::parse(&["c2c", "oa"]).is_err());
        assert!(Place::parse(&["app:1", "app:2"]).is_err());
    }

    #[test]
    fn selectors_print_in_one_order() {
        let scope = Scope::parse("app:3 group:Community app:1 oa group:Public app:3").unwrap_or_default();
        assert_eq!(scope.to_string(), "oa group:Public group:Community app:1 app:3");
        assert_eq!(Scope::EVERYWHERE.to_string(), "everywhere");
        assert_eq!(place(&["app:7", "group:Meeting"]).to_string(), "group:ChatRoom app:7");
    }
}
