//! A TCP proxy the test controls, to put between hearth and its database or object store:
//! pass traffic, cut every connection (and refuse new ones), hang (accept bytes, answer
//! nothing), or hold: pass until the client sends a given byte string, then forward
//! nothing more on that connection and tell the test.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward both ways.
    Pass,
    /// Close every connection and refuse new ones.
    Cut,
    /// Close the connections opened before; keep new ones open, swallow what the client
    /// sends, send nothing back.
    Hang,
}

/// A running proxy.
#[derive(Debug)]
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    /// Notified whenever a client sends bytes on a connection opened while the proxy
    /// hangs. Connections opened before are closed when it starts hanging, so whatever
    /// they had left to send (a pool's bookkeeping after a query) cannot pass for a new
    /// request's query.
    pub swallowed: Arc<Notify>,
    /// Notified when a connection reaches the `hold_at` pattern and is held.
    pub held: Arc<Notify>,
    hold_at: Arc<std::sync::Mutex<Option<Vec<u8>>>>,
}

impl Proxy {
    /// Starts a proxy to `upstream` on a free loopback port.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(Mode::Pass);
        let swallowed = Arc::new(Notify::new());
        let held = Arc::new(Notify::new());
        let hold_at: Arc<std::sync::Mutex<Option<Vec<u8>>>> = Arc::default();
        let modes = mode.clone();
        let notify = swallowed.clone();
        let (held_notify, pattern) = (held.clone(), hold_at.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let rx = modes.subscribe();
                if *rx.borrow() == Mode::Cut {
                    drop(client);
                    continue;
                }
                let opened_hanging = *rx.borrow() == Mode::Hang;
                let hold = Hold {
                    pattern: pattern.lock().unwrap().clone(),
                    held: held_notify.clone(),
                };
                tokio::spawn(relay(
                    client,
                    upstream,
                    rx,
                    notify.clone(),
                    opened_hanging,
                    hold,
                ));
            }
        });
        Proxy {
            addr,
            mode,
            swallowed,
            held,
            hold_at,
        }
    }

    /// From now on, a new connection whose client sends `pattern` is held there: the
    /// bytes from the one that completes it on are not forwarded, and `held` is notified.
    pub fn hold_at(&self, pattern: &[u8]) {
        *self.hold_at.lock().unwrap() = Some(pattern.to_vec());
    }

    /// Changes what the proxy does, for open connections too.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

/// What a connection holds at.
struct Hold {
    pattern: Option<Vec<u8>>,
    held: Arc<Notify>,
}

async fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut mode: watch::Receiver<Mode>,
    swallowed: Arc<Notify>,
    opened_hanging: bool,
    hold: Hold,
) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.split();
    let (mut from_server, mut to_server) = server.split();
    let mut up = vec![0u8; 16 * 1024];
    let mut down = vec![0u8; 16 * 1024];
    // The client's last bytes, so that a pattern split between reads is still seen.
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let current = *mode.borrow();
        match current {
            Mode::Cut => return,
            Mode::Hang if !opened_hanging => return,
            Mode::Hang => {
                tokio::select! {
                    n = from_client.read(&mut up) => match n {
                        Ok(0) | Err(_) => return,
                        Ok(_) => swallowed.notify_one(),
                    },
                    changed = mode.changed() => if changed.is_err() { return },
                }
            }
            Mode::Pass => {
                tokio::select! {
                    n = from_client.read(&mut up) => match n {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if let Some(pattern) = &hold.pattern {
                                tail.extend_from_slice(&up[..n]);
                                if tail.windows(pattern.len()).any(|w| w == &pattern[..]) {
                                    hold.held.notify_one();
                                    // Held: the connection stays open, nothing passes.
                                    std::future::pending::<()>().await;
                                }
                                let keep = tail.len().saturating_sub(pattern.len());
                                tail.drain(..keep);
                            }
                            if to_server.write_all(&up[..n]).await.is_err() { return }
                        }
                    },
                    n = from_server.read(&mut down) => match n {
                        Ok(0) | Err(_) => return,
                        Ok(n) => if to_client.write_all(&down[..n]).await.is_err() { return },
                    },
                    changed = mode.changed() => if changed.is_err() { return },
                }
            }
        }
    }
}
