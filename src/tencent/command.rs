//! The callback table: every `CallbackCommand` this server knows, what it
//! asks of it, whose field names its sender, and which custom reject codes
//! Tencent lets it answer. The only place a command is spelt.

use crate::engine::{Conversation, GroupType};

/// A `CallbackCommand`, as a closed set (metrics and the audit label by
/// it); every command this server does not know is [`Command::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// `OfficialAccount.CallbackBeforeSendMsg`
    OfficialAccountBeforeSend,
    /// `C2C.CallbackBeforeSendMsg`
    C2cBeforeSend,
    /// `Group.CallbackBeforeSendMsg`
    GroupBeforeSend,
    /// `OfficialAccount.CallbackAfterSendMsg`
    OfficialAccountAfterSend,
    /// `C2C.CallbackAfterSendMsg`
    C2cAfterSend,
    /// `Group.CallbackAfterSendMsg`
    GroupAfterSend,
    /// Any other command: acknowledged and counted.
    Other,
}

/// Which kind of conversation a callback is about: it decides the sender
/// field, the custom reject codes and, with a group's `Type`, the place
/// scoped lists are judged by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Official-account broadcasts: sender `Official_Account`, codes 120001–130000.
    OfficialAccount,
    /// One-to-one chat: sender `From_Account`, codes 120001–130000.
    C2c,
    /// Group chat: sender `From_Account`, codes 10100–10200 (`@group-code`).
    Group,
}

/// `(command, spelling, kind, before-send)`, in the order metrics list them.
const TABLE: [(Command, &str, Option<Kind>, bool); 7] = [
    (
        Command::OfficialAccountBeforeSend,
        "OfficialAccount.CallbackBeforeSendMsg",
        Some(Kind::OfficialAccount),
        true,
    ),
    (Command::C2cBeforeSend, "C2C.CallbackBeforeSendMsg", Some(Kind::C2c), true),
    (Command::GroupBeforeSend, "Group.CallbackBeforeSendMsg", Some(Kind::Group), true),
    (
        Command::OfficialAccountAfterSend,
        "OfficialAccount.CallbackAfterSendMsg",
        Some(Kind::OfficialAccount),
        false,
    ),
    (Command::C2cAfterSend, "C2C.CallbackAfterSendMsg", Some(Kind::C2c), false),
    (Command::GroupAfterSend, "Group.CallbackAfterSendMsg", Some(Kind::Group), false),
    (Command::Other, "other", None, false),
];

impl Command {
    /// Every command, in the order metrics list them.
    pub const ALL: [Command; 7] = [
        Command::OfficialAccountBeforeSend,
        Command::C2cBeforeSend,
        Command::GroupBeforeSend,
        Command::OfficialAccountAfterSend,
        Command::C2cAfterSend,
        Command::GroupAfterSend,
        Command::Other,
    ];

    /// The command a `CallbackCommand` names (exact spelling, as Tencent
    /// sends it).
    pub fn of(command: &str) -> Command {
        TABLE[..6].iter().find(|(_, spelling, ..)| *spelling == command).map_or(Command::Other, |row| row.0)
    }

    /// The spelling Tencent uses (`other` for [`Command::Other`]).
    pub fn as_str(self) -> &'static str {
        TABLE[self.index()].1
    }

    /// The kind of conversation, for known commands.
    pub fn kind(self) -> Option<Kind> {
        TABLE[self.index()].2
    }

    /// A before-send callback: the message is moderated.
    pub fn is_before_send(self) -> bool {
        TABLE[self.index()].3
    }

    /// Index into [`Command::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl Kind {
    /// The before-send command of this kind of conversation.
    pub fn before_send(self) -> Command {
        TABLE.iter().find(|row| row.2 == Some(self) && row.3).map_or(Command::Other, |row| row.0)
    }

    /// The body field that names the sender, for `exempt_senders`.
    pub fn sender_field(self) -> &'static str {
        match self {
            Kind::OfficialAccount => "Official_Account",
            Kind::C2c | Kind::Group => "From_Account",
        }
    }

    /// The conversation a callback of this kind is in, for scopes; a
    /// group's `Type` (any of Tencent's names for it) says which group.
    pub fn conversation(self, group_type: Option<&str>) -> Conversation {
        match self {
            Kind::OfficialAccount => Conversation::OfficialAccount,
            Kind::C2c => Conversation::OneToOne,
            Kind::Group => Conversation::Group(group_type.and_then(GroupType::from_name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_round_trips() {
        for (index, command) in Command::ALL.into_iter().enumerate() {
            assert_eq!(command.index(), index);
            if command != Command::Other {
                assert_eq!(Command::of(command.as_str()), command);
            }
        }
        assert_eq!(Command::of("other"), Command::Other);
        assert_eq!(Command::of("c2c.callbackbeforesendmsg"), Command::Other, "exact spelling only");
        assert!(Command::GroupBeforeSend.is_before_send() && !Command::GroupAfterSend.is_before_send());
        assert_eq!(Command::C2cAfterSend.kind(), Some(Kind::C2c));
        assert_eq!(Kind::Group.before_send(), Command::GroupBeforeSend);
        assert_eq!(Kind::OfficialAccount.before_send(), Command::OfficialAccountBeforeSend);
    }
}
