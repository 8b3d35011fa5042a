//! The berth-demo binary: see the library for what it serves.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let app = Arc::new(berth_demo::config());
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], berth_demo::port()))).await?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let stop = async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    };
    berth_demo::serve(listener, app, stop).await;
    Ok(())
}
