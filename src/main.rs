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
        /// Overrides admin.port (0 picks a free port): a second replica on
        /// the same machine needs its own.
        #[arg(long)]
        admin_port: Option<u16>,
        /// Writes the process id into this file once listening (removed on
        /// exit), so that `kill -HUP "$(cat FILE)"` reloads this replica
        /// alone.
        #[arg(long)]
        pid_file: Option<PathBuf>,
    },
    /// Make a key file (mode 0600) and print its [[keys]] entry, which
    /// pastes into the --config file as is.
    Keygen {
        /// local (encrypts carts) or signing (signs JWTs).
        #[arg(long, value_parser = ["local", "signing"])]
        purpose: String,
        /// The key's id in config.toml.
        #[arg(long)]
        id: String,
        /// The folder to write the key file into [default: keys/ beside
        /// the --config file].
        #[arg(long)]
        dir: Option<PathBuf>,
        /// For a signing key: EdDSA (the default) or HS256.
        #[arg(long, default_value = "EdDSA", value_parser = ["EdDSA", "HS256"])]
        alg: String,
        /// Print the entry as "active" instead of "pending": for your first
        /// own key of a purpose, which replaces the development key at once.
        #[arg(long)]
        active: bool,
    },
    /// Open a token with the configured keys and print what it holds.
    Inspect {
        /// The token; "-" reads it from standard input.
        token: String,
    },
    /// Validate the configuration and the keys.
    CheckConfig {
        /// Also ask the replica whose admin listener is at this URL
        /// (http://127.0.0.1:9464) whether its reload would accept its
        /// config file now: the checks of SIGHUP, against the settings it
        /// runs.
        #[arg(long, value_name = "ADMIN_URL")]
        against_running: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let serve = Command::Serve {
        port: None,
        admin_port: None,
        pid_file: None,
    };
    let result = match cli.command.unwrap_or(serve) {
        Command::Serve {
            port,
            admin_port,
            pid_file,
        } => cli::serve(
            &cli.config,
            cli::ServeArgs {
                port,
                admin_port,
                pid_file,
            },
        ),
        Command::Keygen {
            purpose,
            id,
            dir,
            alg,
            active,
        } => cli::keygen(&cli::keygen::KeygenArgs {
            purpose,
            id,
            dir,
            alg,
            config: cli.config.clone(),
            active,
        }),
        Command::Inspect { token } => cli::inspect(&cli.config, &token),
        Command::CheckConfig { against_running } => {
            cli::check_config(&cli.config, against_running.as_deref())
        }
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
