//! The terminal's life: raw mode, alternate screen, mouse and bracketed paste on entry; all of it
//! undone on exit, on drop, and by the panic hook before the panic report is printed.
use std::io::{stdout, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

pub type Backend = CrosstermBackend<Stdout>;

/// Whether the terminal is in the explorer's modes. Leaving the alternate screen twice would
/// move the cursor back to where the explorer started, over a panic report printed in between.
static ENTERED: AtomicBool = AtomicBool::new(false);

pub struct Tui {
    pub terminal: Terminal<Backend>,
}

impl Tui {
    pub fn enter() -> std::io::Result<Tui> {
        install_panic_hook();
        enable_raw_mode()?;
        ENTERED.store(true, Ordering::SeqCst);
        let mut out = stdout();
        if let Err(e) = execute!(out, EnterAlternateScreen, EnableMouseCapture, EnableBracketedPaste) {
            restore();
            return Err(e);
        }
        let terminal = Terminal::new(CrosstermBackend::new(out))?;
        Ok(Tui { terminal })
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts the terminal back as the shell expects it. Only the first call after entering acts;
/// errors are ignored because there is nowhere left to report them.
pub fn restore() {
    if !ENTERED.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = disable_raw_mode();
    let _ =
        execute!(stdout(), DisableBracketedPaste, DisableMouseCapture, LeaveAlternateScreen, crossterm::cursor::Show);
}

/// Chains a hook that restores the terminal in front of the installed one (color-eyre's), so the
/// report lands on a sane screen.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}
