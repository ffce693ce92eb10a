use clap::Parser;

fn main() -> color_eyre::Result<()> {
    // Errors are for users: what went wrong and where in their files, not where in ours.
    color_eyre::config::HookBuilder::default().display_location_section(false).display_env_section(false).install()?;
    neuronav::cli::run(neuronav::cli::Cli::parse())
}
