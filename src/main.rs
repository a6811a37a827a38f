use clap::Parser;
fn main() {
    let _cli = skyload::cli::Cli::parse();
}
