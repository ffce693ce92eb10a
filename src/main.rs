use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Errors are for users: what went wrong and where in their files, not where in ours.
    let hook = color_eyre::config::HookBuilder::default().display_location_section(false).display_env_section(false);
    if let Err(e) = hook.install() {
        eprintln!("Error: {e}");
        return ExitCode::FAILURE;
    }
    // clap prints its own usage errors and exits with 2.
    let cli = neuronav::cli::Cli::parse();
    match neuronav::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(report) => {
            eprintln!("Error: {report:?}");
            ExitCode::from(neuronav::cli::exit_code(&report))
        }
    }
}
