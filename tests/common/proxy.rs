//! A TCP proxy the test controls, to put between hearth and its database: pass traffic,
//! cut every connection (and refuse new ones), or hang (accept bytes, answer nothing).

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
}

impl Proxy {
    /// Starts a proxy to `upstream` on a free loopback port.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(Mode::Pass);
        let swallowed = Arc::new(Notify::new());
        let modes = mode.clone();
        let notify = swallowed.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let rx = modes.subscribe();
                if *rx.borrow() == Mode::Cut {
                    drop(client);
                    continue;
                }
                let opened_hanging = *rx.borrow() == Mode::Hang;
                tokio::spawn(relay(client, upstream, rx, notify.clone(), opened_hanging));
            }
        });
        Proxy {
            addr,
            mode,
            swallowed,
        }
    }

    /// Changes what the proxy does, for open connections too.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

async fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut mode: watch::Receiver<Mode>,
    swallowed: Arc<Notify>,
    opened_hanging: bool,
) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.split();
    let (mut from_server, mut to_server) = server.split();
    let mut up = vec![0u8; 16 * 1024];
    let mut down = vec![0u8; 16 * 1024];
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
                        Ok(n) => if to_server.write_all(&up[..n]).await.is_err() { return },
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
