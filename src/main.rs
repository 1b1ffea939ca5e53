//! The cartseal command line: serve (the default), keygen, inspect,
//! check-config. Everything else lives in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cartseal::cli;

#[derive(Parser)]
#[command(version, about = "A shop cart sealed into a client-held token")]
struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        default_value = "config.toml",
        env = "CARTSEAL_CONFIG"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve {
        /// Overrides server.port (0 picks a free port).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Make a key file (mode 0600) and print its config snippet.
    Keygen {
        /// local (encrypts carts) or signing (signs JWTs).
        #[arg(long, value_parser = ["local", "signing"])]
        purpose: String,
        /// The key's id in config.toml.
        #[arg(long)]
        id: String,
        /// The folder to write the key file into.
        #[arg(long, default_value = "keys")]
        dir: PathBuf,
        /// For a signing key: EdDSA (the default) or HS256.
        #[arg(long, default_value = "EdDSA", value_parser = ["EdDSA", "HS256"])]
        alg: String,
    },
    /// Open a token with the configured keys and print what it holds.
    Inspect {
        /// The token; "-" reads it from standard input.
        token: String,
    },
    /// Validate the configuration and the keys.
    CheckConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let result = match cli.command.unwrap_or(Command::Serve { port: None }) {
        Command::Serve { port } => cli::serve(&cli.config, port),
        Command::Keygen {
            purpose,
            id,
            dir,
            alg,
        } => cli::keygen(&purpose, &id, &dir, &alg),
        Command::Inspect { token } => cli::inspect(&cli.config, &token),
        Command::CheckConfig => cli::check_config(&cli.config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // One line per problem, each marked as the binary's.
            for line in message.to_string().lines() {
                eprintln!("cartseal: {line}");
            }
            ExitCode::FAILURE
        }
    }
}

// glibc's allocator spent about a fifth of the server's CPU in the HTTP load
// benchmark (perf record, token mode): carts, claims and views are many small
// short-lived allocations, which mimalloc serves from thread-local pages.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
