//! One output convention for every command that prints data: `--format table|json|csv` (csv
//! where the data is one table), `--json` kept as another spelling of `--format json`. Tables are
//! for people; the JSON shapes are documented in docs/cli-json.md. Results go to standard output,
//! messages and errors to standard error.
use std::io::Write;

use clap::{Args, ValueEnum};
use color_eyre::eyre::Result;
use serde::Serialize;

/// How a command prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Text for people
    #[default]
    Table,
    /// One JSON document (docs/cli-json.md)
    Json,
    /// Comma-separated values with a header row
    Csv,
}

/// `--format table|json|csv`, for commands whose results are one table.
#[derive(Debug, Clone, Args)]
pub struct TableJsonCsv {
    /// How results are printed
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// The same as --format json
    #[arg(long, hide = true, conflicts_with_all = ["format", "csv"])]
    json: bool,
    /// The same as --format csv
    #[arg(long, hide = true, conflicts_with = "format")]
    csv: bool,
}

impl TableJsonCsv {
    pub fn format(&self) -> Format {
        match (self.json, self.csv) {
            (true, _) => Format::Json,
            (_, true) => Format::Csv,
            _ => self.format,
        }
    }
}

/// The formats of [`TableJson`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
enum TableOrJson {
    /// Text for people
    #[default]
    Table,
    /// One JSON document (docs/cli-json.md)
    Json,
}

/// `--format table|json`, for commands whose results are not one table.
#[derive(Debug, Clone, Args)]
pub struct TableJson {
    /// How results are printed
    #[arg(long, value_enum, default_value_t)]
    format: TableOrJson,
    /// The same as --format json
    #[arg(long, hide = true, conflicts_with = "format")]
    json: bool,
}

impl TableJson {
    pub fn format(&self) -> Format {
        match (self.json, self.format) {
            (true, _) | (_, TableOrJson::Json) => Format::Json,
            _ => Format::Table,
        }
    }

    pub fn json(&self) -> bool {
        self.format() == Format::Json
    }
}

/// `value` as pretty JSON and a newline on standard output.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    write_stdout(text.as_bytes())
}

/// `rows` under `header` as CSV on standard output.
pub fn print_csv<R, I, F>(header: &[&str], rows: R) -> Result<()>
where
    R: IntoIterator<Item = I>,
    I: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for row in rows {
        w.write_record(row)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    write_stdout(&bytes)
}

/// Writes `bytes` to standard output; a reader that has seen enough (`| head`) is no failure.
pub fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
