use clap::Parser;
fn main() {
    let cli = skyload::cli::Cli::parse();
    let code = match &cli.command {
        skyload::cli::Command::Gateway(args) => skyload::commands::gateway::run(args),
        _ => Ok(skyload::exit::USAGE),
    };
    match code {
        Ok(c) => std::process::exit(c),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(skyload::exit::RUN_FAILED)
        }
    }
}
