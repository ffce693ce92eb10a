//! Colours: dark and light in 256 colours, a 16-colour fallback, and none at all when NO_COLOR is
//! set (https://no-color.org), where emphasis is bold, reverse and underline only.
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemeName {
    Dark,
    Light,
    /// The 16 ANSI colours, for terminals without 256.
    Basic,
    /// NO_COLOR: modifiers only.
    Plain,
}

impl ThemeName {
    pub fn parse(s: &str) -> Option<ThemeName> {
        Some(match s {
            "dark" => ThemeName::Dark,
            "light" => ThemeName::Light,
            "basic" | "16" => ThemeName::Basic,
            "plain" | "none" => ThemeName::Plain,
            _ => return None,
        })
    }

    /// The next theme of the cycle (Plain stays plain: the user asked for no colour).
    pub fn next(self) -> ThemeName {
        match self {
            ThemeName::Dark => ThemeName::Light,
            ThemeName::Light => ThemeName::Basic,
            ThemeName::Basic => ThemeName::Dark,
            ThemeName::Plain => ThemeName::Plain,
        }
    }

    /// Dark, or Plain when the environment asks for no colour.
    pub fn from_env() -> ThemeName {
        match std::env::var_os("NO_COLOR") {
            Some(v) if !v.is_empty() => ThemeName::Plain,
            _ => ThemeName::Dark,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub name: ThemeName,
    pub border: Style,
    pub focus: Style,
    pub title: Style,
    /// The selected row or token.
    pub selected: Style,
    pub positive: Style,
    pub negative: Style,
    pub dim: Style,
    /// Generated (not prompt) tokens.
    pub generated: Style,
    pub status: Style,
    pub error: Style,
    pub accent: Style,
}

impl Theme {
    pub fn new(name: ThemeName) -> Theme {
        let fg = |c| Style::new().fg(c);
        let bold = Style::new().add_modifier(Modifier::BOLD);
        match name {
            ThemeName::Dark => Theme {
                name,
                border: fg(Color::Indexed(240)),
                focus: fg(Color::Indexed(81)),
                title: fg(Color::Indexed(252)).add_modifier(Modifier::BOLD),
                selected: Style::new().bg(Color::Indexed(24)).fg(Color::Indexed(231)),
                positive: fg(Color::Indexed(114)),
                negative: fg(Color::Indexed(210)),
                dim: fg(Color::Indexed(245)),
                generated: fg(Color::Indexed(222)),
                status: Style::new().bg(Color::Indexed(236)).fg(Color::Indexed(252)),
                error: fg(Color::Indexed(203)).add_modifier(Modifier::BOLD),
                accent: fg(Color::Indexed(81)),
            },
            ThemeName::Light => Theme {
                name,
                border: fg(Color::Indexed(249)),
                focus: fg(Color::Indexed(25)),
                title: fg(Color::Indexed(235)).add_modifier(Modifier::BOLD),
                selected: Style::new().bg(Color::Indexed(153)).fg(Color::Indexed(16)),
                positive: fg(Color::Indexed(28)),
                negative: fg(Color::Indexed(124)),
                dim: fg(Color::Indexed(243)),
                generated: fg(Color::Indexed(130)),
                status: Style::new().bg(Color::Indexed(254)).fg(Color::Indexed(235)),
                error: fg(Color::Indexed(160)).add_modifier(Modifier::BOLD),
                accent: fg(Color::Indexed(25)),
            },
            ThemeName::Basic => Theme {
                name,
                border: fg(Color::DarkGray),
                focus: fg(Color::Cyan),
                title: bold,
                selected: Style::new().bg(Color::Blue).fg(Color::White),
                positive: fg(Color::Green),
                negative: fg(Color::Red),
                dim: fg(Color::DarkGray),
                generated: fg(Color::Yellow),
                status: Style::new().add_modifier(Modifier::REVERSED),
                error: fg(Color::Red).add_modifier(Modifier::BOLD),
                accent: fg(Color::Cyan),
            },
            ThemeName::Plain => Theme {
                name,
                border: Style::new(),
                focus: bold,
                title: bold,
                selected: Style::new().add_modifier(Modifier::REVERSED),
                positive: Style::new(),
                negative: Style::new(),
                dim: Style::new(),
                generated: Style::new().add_modifier(Modifier::UNDERLINED),
                status: Style::new().add_modifier(Modifier::REVERSED),
                error: bold,
                accent: bold,
            },
        }
    }
}
