//! `allure-hub`: a self-hosted Allure 3 report server.

mod allocator;

use clap::{Parser, Subcommand};
use hub_server::{Application, Config, logging, startup, storage_copy};

/// Command line of the binary; every setting comes from environment variables (see the documentation).
#[derive(Debug, Parser)]
#[command(name = "allure-hub", version, about = "Self-hosted Allure 3 report server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Upload an allure-results directory or zip to a hub (a client: needs none of the server's variables).
    Upload(Box<hub_uploader::UploadArgs>),
    /// Work on the stored files (results, reports, histories).
    #[command(subcommand)]
    Storage(StorageCommand),
}

#[derive(Debug, Subcommand)]
enum StorageCommand {
    /// Copy every stored item from the configured storage to another, verifying each; resumable.
    Copy {
        /// Where to: `s3://bucket[/prefix]` (with the AWS_* variables) or `file:///absolute/directory`.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

fn main() -> anyhow::Result<()> {
    // Command-line mistakes exit 64 (EX_USAGE) rather than clap's 2, which `upload` uses for a refused upload.
    let cli = Cli::try_parse().unwrap_or_else(|e| {
        if !e.use_stderr() {
            e.exit()
        }
        let _ = e.print();
        std::process::exit(64)
    });
    if matches!(cli.command, None | Some(Command::Serve)) {
        // Before the runtime starts any thread: the server may run itself again here.
        allocator::one_arena();
    }
    actix_web::rt::System::new().block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // The uploader runs on CI machines: it must not read (or require) the server's configuration.
    if let Some(Command::Upload(args)) = cli.command {
        std::process::exit(i32::from(hub_uploader::run(*args).await));
    }
    let config = Config::from_env()?;
    logging::init(&config.log);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => match Application::build(config).await {
            Ok(app) => app.run_until_stopped().await.map_err(anyhow::Error::from),
            Err(e) => Err(e),
        },
        Command::Migrate => startup::open_database(&config).await.map(drop),
        Command::Storage(StorageCommand::Copy { to }) => {
            storage_copy::run(&config, &to, |name| std::env::var(name).ok()).await.map(drop)
        }
        Command::Upload(_) => Ok(()),
    };
    if let Err(e) = &result {
        tracing::error!(error = format!("{e:#}"), "allure-hub stopped");
    }
    result
}
