//! The `supplyshock` binary: parse arguments, call the library, turn failures into exit codes.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match supplyshock::cli::Cli::parse_args() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(supplyshock::cli::EXIT_INVALID),
            };
        }
    };
    match supplyshock::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("{}", f.message);
            ExitCode::from(f.code)
        }
    }
}
