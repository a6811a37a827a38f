use clap::Parser;
use skyload::cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Validate(args) => skyload::commands::validate::run(args),
        _ => Err(anyhow::anyhow!("this command is not built yet")),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(skyload::exit::USAGE);
        }
    }
}
