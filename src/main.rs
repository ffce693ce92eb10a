use clap::Parser;

fn main() -> color_eyre::Result<()> {
    color_eyre::install()?;
    neuronav::cli::run(neuronav::cli::Cli::parse())
}
