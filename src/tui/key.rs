//! Keys as the keymap writes them: `g`, `G`, `?`, `<C-d>`, `<A-x>`, `<Enter>`, `<S-Tab>`, `<F1>`.
use std::fmt;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// One key press, normalised: shift is folded into characters (`G`, not shift-g).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub fn new(code: KeyCode, mods: KeyModifiers) -> Key {
        let mut mods = mods & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match code {
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::Char(c)
            }
            // Terminals send shift-tab as BackTab, with or without the shift flag.
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        Key { code, mods }
    }

    pub fn char(c: char) -> Key {
        Key::new(KeyCode::Char(c), KeyModifiers::NONE)
    }
}

impl From<KeyEvent> for Key {
    fn from(e: KeyEvent) -> Key {
        Key::new(e.code, e.modifiers)
    }
}

const NAMED: &[(&str, KeyCode)] = &[
    ("Enter", KeyCode::Enter),
    ("Esc", KeyCode::Esc),
    ("Tab", KeyCode::Tab),
    ("BackTab", KeyCode::BackTab),
    ("Backspace", KeyCode::Backspace),
    ("Delete", KeyCode::Delete),
    ("Insert", KeyCode::Insert),
    ("Up", KeyCode::Up),
    ("Down", KeyCode::Down),
    ("Left", KeyCode::Left),
    ("Right", KeyCode::Right),
    ("Home", KeyCode::Home),
    ("End", KeyCode::End),
    ("PageUp", KeyCode::PageUp),
    ("PageDown", KeyCode::PageDown),
    ("Space", KeyCode::Char(' ')),
    ("lt", KeyCode::Char('<')),
];

impl FromStr for Key {
    type Err = String;

    fn from_str(s: &str) -> Result<Key, String> {
        let mut chars = s.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            return Ok(Key::char(c));
        }
        let inner = s
            .strip_prefix('<')
            .and_then(|r| r.strip_suffix('>'))
            .ok_or_else(|| format!("'{s}' is not a key: write one character or a name in <>, like <C-d> or <Enter>"))?;
        let mut mods = KeyModifiers::NONE;
        let mut rest = inner;
        while let Some((m, r)) = rest.split_once('-').filter(|(m, r)| m.len() == 1 && !r.is_empty()) {
            mods |= match m {
                "C" | "c" => KeyModifiers::CONTROL,
                "A" | "a" | "M" | "m" => KeyModifiers::ALT,
                "S" | "s" => KeyModifiers::SHIFT,
                _ => return Err(format!("'{s}': unknown modifier '{m}' (C, A, S)")),
            };
            rest = r;
        }
        let mut chars = rest.chars();
        let code = if let (Some(c), None) = (chars.next(), chars.next()) {
            KeyCode::Char(c)
        } else if let Some(n) =
            rest.strip_prefix('F').and_then(|n| n.parse::<u8>().ok()).filter(|n| (1..=12).contains(n))
        {
            KeyCode::F(n)
        } else {
            NAMED
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(rest))
                .map(|&(_, code)| code)
                .ok_or_else(|| format!("'{s}': unknown key name '{rest}'"))?
        };
        if code == KeyCode::Tab && mods.contains(KeyModifiers::SHIFT) {
            return Ok(Key::new(KeyCode::BackTab, mods - KeyModifiers::SHIFT));
        }
        Ok(Key::new(code, mods))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = match self.code {
            KeyCode::Char(' ') => None,
            KeyCode::Char('<') => None,
            KeyCode::Char(c) => Some(c),
            _ => None,
        };
        if let (Some(c), true) = (plain, self.mods.is_empty()) {
            return write!(f, "{c}");
        }
        let mut s = String::from("<");
        for (flag, name) in [(KeyModifiers::CONTROL, "C-"), (KeyModifiers::ALT, "A-"), (KeyModifiers::SHIFT, "S-")] {
            if self.mods.contains(flag) {
                s.push_str(name);
            }
        }
        match self.code {
            KeyCode::Char(c) => match NAMED.iter().find(|(_, code)| *code == KeyCode::Char(c)) {
                Some((name, _)) => s.push_str(name),
                None => s.push(c),
            },
            KeyCode::F(n) => s.push_str(&format!("F{n}")),
            code => match NAMED.iter().find(|(_, c)| *c == code) {
                Some((name, _)) => s.push_str(name),
                None => s.push_str(&format!("{code:?}")),
            },
        }
        s.push('>');
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_keys() {
        for text in ["g", "G", "?", "<C-d>", "<A-x>", "<Enter>", "<Esc>", "<BackTab>", "<F5>", "<Space>", "<C-Up>"] {
            let key: Key = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(key.to_string(), text);
        }
        assert_eq!("<S-Tab>".parse::<Key>().unwrap(), Key::new(KeyCode::BackTab, KeyModifiers::NONE));
        assert_eq!("<c-D>".parse::<Key>().unwrap(), Key::new(KeyCode::Char('D'), KeyModifiers::CONTROL));
        for bad in ["", "gg", "<>", "<Q-x>", "<Nope>", "<C-", "<F13>"] {
            assert!(bad.parse::<Key>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn shift_is_folded_into_characters() {
        let shifted = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(Key::from(shifted), Key::char('G'));
    }
}
