//! A real S3 wire implementation for tests: moto's server (PyPI `moto[server]`), started
//! on a free port, waited for by polling with a deadline, killed when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HINT: &str = "run `pip install 'moto[server]'` (moto's S3 server is needed for the S3 tests)";

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    log: tempfile::NamedTempFile,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto and creates `bucket`.
    pub async fn start(bucket: &str) -> Moto {
        hearth::install_tls_provider();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port on 127.0.0.1");
        let log = tempfile::NamedTempFile::new().unwrap();
        let spawn = |program: &str, module: &[&str]| {
            Command::new(program)
                .args(module)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log.reopen().unwrap())
                .spawn()
        };
        let child = spawn("moto_server", &[])
            .or_else(|_| spawn("python3", &["-m", "moto.server"]))
            .unwrap_or_else(|e| panic!("cannot start `moto_server` ({e}): {HINT}"));
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + super::PATIENCE;
        loop {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!(
                    "`moto_server` exited ({status}): {HINT}\n{}",
                    moto.log_text()
                );
            }
            let probe = client
                .get(format!("{}/moto-api/", moto.endpoint))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if probe.is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "`moto_server` did not answer on {}\n{}",
                moto.endpoint,
                moto.log_text()
            );
            // Polling a process that is starting: the deadline above bounds it.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let created = client
            .put(format!("{}/{bucket}", moto.endpoint))
            .send()
            .await
            .unwrap();
        assert!(
            created.status().is_success(),
            "creating the bucket: {}",
            created.status()
        );
        moto
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// The environment that points hearth at `s3://bucket/prefix` on this server.
    pub fn env(&self, bucket: &str, prefix: &str) -> Vec<(&'static str, String)> {
        vec![
            ("HEARTH_STORAGE_URL", format!("s3://{bucket}/{prefix}")),
            ("HEARTH_STORAGE_ENDPOINT", self.endpoint.clone()),
            ("HEARTH_STORAGE_PATH_STYLE", "true".to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
    }

    /// Removes an object behind hearth's back.
    pub async fn delete(&self, bucket: &str, key: &str) {
        let url = hearth::storage::StorageUrl::parse(&format!("s3://{bucket}")).unwrap();
        let options = hearth::storage::S3Options {
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".to_owned()),
            path_style: true,
            credentials: Some(("test".to_owned(), "test".to_owned())),
        };
        let store = hearth::storage::Storage::open(&url, &options).unwrap();
        assert!(
            store.head(key).await.unwrap().is_some(),
            "{key} is not there to delete"
        );
        store.delete(key).await.unwrap();
    }
}
