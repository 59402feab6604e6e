//! The `rustvecdb` binary: reads configuration (flags and environment), sets up logging and
//! serves the HTTP API, or runs a benchmark.

mod bench;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use rvdb_api::ApiConfig;
use rvdb_engine::{Database, DatabaseOptions};

/// A single-binary vector database with a Qdrant-compatible HTTP API.
#[derive(Debug, Parser)]
#[command(name = "rustvecdb", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Run a benchmark and print one JSON line per measurement.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[derive(Debug, Clone, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one; the address is printed on stdout).
    #[arg(long, env = "PORT", default_value_t = 6333)]
    port: u16,
    /// Directory for durable storage (created if missing). Unset: everything stays in memory.
    #[arg(long, env = "STORAGE_PATH")]
    storage_path: Option<PathBuf>,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "RVDB_MAX_BODY_BYTES", default_value_t = 32 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Log filter, e.g. info, debug, rvdb_engine=debug (RUST_LOG syntax).
    #[arg(long = "log", env = "RUST_LOG", default_value = "info")]
    log: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Bench(cmd)) => bench::run(cmd),
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log)
                .with_context(|| format!("invalid log filter `{}` (RUST_LOG / --log)", args.log))?,
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let storage_path = args.storage_path.filter(|p| !p.as_os_str().is_empty());
    let options = match &storage_path {
        Some(p) => DatabaseOptions::persistent(p),
        None => DatabaseOptions::in_memory(),
    };
    let db = Database::open(options).context("could not open the storage")?;
    let app = rvdb_api::router(
        Arc::new(db),
        ApiConfig {
            max_body_bytes: args.max_body_bytes,
        },
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
            .await
            .with_context(|| format!("could not listen on {}:{}", args.host, args.port))?;
        let addr: SocketAddr = listener.local_addr()?;
        match &storage_path {
            Some(p) => tracing::info!(storage = %p.display(), "durable storage"),
            None => tracing::info!("in-memory storage (set STORAGE_PATH to persist)"),
        }
        println!("rustvecdb listening on http://{addr}");
        tracing::info!(%addr, kernel = rvdb_vector::active_kernel(), "serving");
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("server error")
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
