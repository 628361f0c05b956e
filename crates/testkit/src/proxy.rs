//! A TCP proxy owned by one test, in front of a shared server (PostgreSQL, RabbitMQ): the test makes the server
//! unreachable for its own connections only — cut (every connection closed, new ones closed at once, as when the
//! server stops) or black-holed (every connection held open in silence, as when its host vanishes) — and restores
//! it, without touching the server other tests use.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Up,
    Cut,
    Silent,
}

struct State {
    mode: Mode,
    /// Cancelled when the current connections must stop forwarding.
    current: CancellationToken,
}

/// Forwards `127.0.0.1:<port>` to a target while up. Dropping it closes everything.
pub struct TcpProxy {
    /// The local port to connect to.
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
}

impl TcpProxy {
    /// Starts forwarding to `target` (`host:port`).
    pub async fn start(target: &str) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Up,
            current: CancellationToken::new(),
        }));
        let stop = CancellationToken::new();
        let (accept_state, accept_stop, target) = (state.clone(), stop.clone(), target.to_owned());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = accept_stop.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((client, _)) = accepted else { continue };
                let (mode, cut) = {
                    let s = accept_state.lock().unwrap_or_else(PoisonError::into_inner);
                    (s.mode, s.current.clone())
                };
                let stop = accept_stop.clone();
                match mode {
                    Mode::Cut => drop(client),
                    Mode::Silent => {
                        tokio::spawn(async move {
                            stop.cancelled().await;
                            drop(client);
                        });
                    }
                    Mode::Up => {
                        let (state, target) = (accept_state.clone(), target.clone());
                        tokio::spawn(forward(client, target, cut, state, stop));
                    }
                }
            }
        });
        TcpProxy { port, state, stop }
    }

    /// `host:port` of the proxy.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn set(&self, mode: Mode) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.mode = mode;
        if mode != Mode::Up {
            std::mem::replace(&mut s.current, CancellationToken::new()).cancel();
        }
    }

    /// Closes every open connection and closes new ones at once.
    pub fn cut(&self) {
        self.set(Mode::Cut);
    }

    /// Stops forwarding on every connection but keeps them open, and holds new ones open in silence.
    pub fn black_hole(&self) {
        self.set(Mode::Silent);
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.set(Mode::Up);
    }
}

async fn forward(
    mut client: TcpStream,
    target: String,
    cut: CancellationToken,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
) {
    let Ok(mut server) = TcpStream::connect(&target).await else {
        return;
    };
    tokio::select! {
        _ = cut.cancelled() => {}
        _ = stop.cancelled() => return,
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
    }
    let silent = state.lock().unwrap_or_else(PoisonError::into_inner).mode == Mode::Silent;
    if silent {
        // Held open, saying nothing, until the proxy goes.
        stop.cancelled().await;
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stop.cancel();
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .current
            .cancel();
    }
}
