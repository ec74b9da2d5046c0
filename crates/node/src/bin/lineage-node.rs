//! `lineage-node`: run the edge node. With no arguments it listens on 127.0.0.1 (WebSocket 9999,
//! TCP 7777), keeps its key in the user's data dir, prints each listen address as a full
//! multiaddr and `ready`, and shuts down gracefully on Ctrl-C or SIGTERM.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use lineage_node::config::{Flags, NodeConfig};
use lineage_node::node::{self, Started};

fn main() -> ExitCode {
    let flags = Flags::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&flags.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        // A log line that cannot be written (stderr is a pipe whose reader died) is dropped.
        // With the default, tracing-subscriber reports it with `eprintln!`, which panics on the
        // same dead stderr and took the whole node down (exit 101) — issue 8 row 18.
        .log_internal_errors(false)
        .init();
    let config = match NodeConfig::load(&flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(node::run(config, print_started, shutdown_signal()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Start-up lines on stdout, one per event, flushed at once (scripts wait for them).
fn print_started(event: Started) {
    let line = match event {
        Started::PeerId(id) => format!("peer id: {id}"),
        Started::Listening(addr) => format!("listening: {addr}"),
        Started::Http(addr) => format!("http: http://{addr}"),
        Started::Ready => "ready".to_string(),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
