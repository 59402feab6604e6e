//! The `rustvecdb` binary: reads the settings (config file, environment, flags), sets up
//! logging and serves the HTTP API (optionally over TLS); or imports a file of vectors; or
//! creates, lists and restores snapshots; or runs a benchmark; or prints the API's OpenAPI
//! document. `serve` opens the port first and loads a durable storage on a background thread;
//! meanwhile the probes answer and other requests wait (`rvdb_api::loading_router`).

mod bench;
mod bench_durability;
mod bench_load;
mod bench_sparse;
mod config;
mod import;
mod snapshot;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rvdb_api::{ApiConfig, Cors};
use rvdb_engine::{Database, DatabaseOptions};

use crate::config::{ServeArgs, Settings};

/// A single-binary vector database with a Qdrant-compatible HTTP API.
#[derive(Parser)]
#[command(name = "rustvecdb", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Load vectors from .fvecs, .npy or JSON lines into a collection of a running server
    /// (--url) or of a storage directory (--storage-path).
    Import(import::ImportArgs),
    /// Create, list and restore snapshots (of a running server, or into a storage directory).
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCommand),
    /// Run a benchmark and print one JSON line per measurement.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Print the OpenAPI document that GET /openapi.json serves
    /// (`rustvecdb openapi > docs/openapi.json` refreshes the committed copy).
    Openapi,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Bench(cmd)) => bench::run(cmd),
        Some(Command::Import(args)) => import::run(args),
        Some(Command::Snapshot(cmd)) => snapshot::run(cmd),
        Some(Command::Openapi) => {
            print!("{}", rvdb_api::openapi_json());
            Ok(())
        }
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
    }
}

/// How long a durable store may take to load before the address is announced anyway.
const ANNOUNCE_WAIT: Duration = Duration::from_secs(2);

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args)?;
    if args.print_config {
        println!("{}", serde_json::to_string_pretty(&settings.to_json())?);
        return Ok(());
    }
    // Read the certificate before anything else, so that a bad one stops the start.
    let tls = match (settings.enable_tls, &settings.tls_cert, &settings.tls_key) {
        (true, Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&settings.log_level)
                .context("invalid config: log_level")?,
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Some(f) = &settings.config_file {
        tracing::info!(file = %f.display(), "config file read");
    }
    let mut options = match &settings.storage_path {
        Some(p) => DatabaseOptions::persistent(p),
        None => DatabaseOptions::in_memory(),
    };
    options.snapshots_path = settings.snapshots_path.clone();
    let cors = match (
        settings.enable_cors,
        settings.cors_allowed_origins.is_empty(),
    ) {
        (false, _) => Cors::Disabled,
        (true, true) => Cors::AnyOrigin,
        (true, false) => Cors::Origins(settings.cors_allowed_origins.clone()),
    };
    let api_config = ApiConfig {
        max_body_bytes: settings.max_body_bytes,
        api_key: settings.api_key.clone(),
        read_only_api_key: settings.read_only_api_key.clone(),
        request_timeout: (settings.request_timeout_secs > 0)
            .then(|| Duration::from_secs(settings.request_timeout_secs)),
        cors: cors.clone(),
        search_threads: settings.search_threads,
        search_queue: settings.search_queue,
        loading_wait: Duration::from_secs(settings.loading_wait_secs),
    };
    // Requests that arrive while the collections load wait for them (up to
    // service.loading_wait_secs); /healthz and /livez answer at once, /readyz 503 until loaded.
    let in_memory = options.storage_path.is_none();
    let loading = rvdb_api::Loading::new();
    let app = rvdb_api::loading_router(
        loading.clone(),
        Duration::from_secs(settings.loading_wait_secs),
    );
    let loaded = loading.clone();
    let load = move || {
        let started = std::time::Instant::now();
        match Database::open(options) {
            Ok(db) => {
                tracing::info!(
                    secs = started.elapsed().as_secs_f64(),
                    "storage loaded; ready"
                );
                loaded.set(rvdb_api::router(Arc::new(db), api_config));
            }
            Err(e) => {
                eprintln!("Error: could not open the storage: {e}");
                tracing::error!(error = %e, "could not open the storage");
                std::process::exit(1);
            }
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let host = settings.host.clone();
    let port = settings.http_port;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((host.as_str(), port))
            .await
            .with_context(|| format!("could not listen on {host}:{port}"))?;
        let addr: SocketAddr = listener.local_addr()?;
        match &settings.storage_path {
            Some(p) => tracing::info!(storage = %p.display(), "durable storage"),
            None => tracing::info!("in-memory storage (set STORAGE_PATH to persist)"),
        }
        tracing::info!(
            auth = settings.auth_mode(),
            tls = settings.enable_tls,
            cors = ?cors,
            max_body_bytes = settings.max_body_bytes,
            request_timeout_secs = settings.request_timeout_secs,
            "HTTP settings"
        );
        let scheme = if tls.is_some() { "https" } else { "http" };
        if in_memory {
            // nothing to load: ready before the first request can arrive
            load();
        } else {
            std::thread::Builder::new()
                .name("load".into())
                .spawn(load)
                .context("could not start loading")?;
            // an empty or small store is ready before the address is announced; a large one
            // is announced while it loads (requests wait for it)
            let began = std::time::Instant::now();
            while !loading.is_ready() && began.elapsed() < ANNOUNCE_WAIT {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        println!("rustvecdb listening on {scheme}://{addr}");
        tracing::info!(%addr, scheme, kernel = rvdb_vector::active_kernel(), "serving");
        match tls {
            Some(acceptor) => {
                let listener = tls::TlsListener::new(listener, acceptor)?;
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown_signal())
                    .await
            }
            None => {
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown_signal())
                    .await
            }
        }
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
