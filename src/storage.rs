//! Object storage: a local folder or an S3 bucket, behind one small API.
//!
//! Both backends go through the [`object_store`] crate: [`LocalFileSystem`] for
//! `file:///abs/path` (writes go to a temporary file that is renamed into place, and
//! are fsynced) and [`AmazonS3`] for `s3://bucket/prefix` (over reqwest with rustls and
//! ring, credentials from the standard AWS variables or Kubernetes web identity).
//!
//! Keys are `/`-separated relative paths such as `photos/ab/abcdef….jpg`; the prefix of an
//! `s3://bucket/prefix` URL is prepended to every key and stripped from listings, so
//! callers never see it.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, AwsCredential};
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::signer::{Method, Signer};
use object_store::{
    Attribute, Attributes, ClientConfigKey, ObjectMeta, ObjectStore, ObjectStoreExt, PutOptions,
    PutPayload, RetryConfig, StaticCredentialProvider,
};

/// The longest key accepted, in bytes (S3's own limit).
const MAX_KEY_BYTES: usize = 1024;

/// The longest lifetime of a presigned URL that S3 accepts (SigV4: seven days).
const MAX_PRESIGN_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Where objects live, parsed from a URL: `file:///abs/path` (a local folder) or
/// `s3://bucket/prefix` (an S3 bucket, optionally under a key prefix).
///
/// The URL never carries secrets (user info is rejected), so its [`Display`](fmt::Display)
/// form is safe to log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageUrl {
    kind: UrlKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum UrlKind {
    /// An absolute path to a local folder.
    Local(PathBuf),
    /// A bucket and a prefix without leading or trailing `/` (maybe empty).
    S3 { bucket: String, prefix: String },
}

impl StorageUrl {
    /// A local folder (made absolute against the working directory).
    pub fn local(path: &std::path::Path) -> StorageUrl {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        StorageUrl {
            kind: UrlKind::Local(path),
        }
    }

    /// Parses `file:///abs/path` or `s3://bucket[/prefix]`.
    ///
    /// The error is a phrase completing "`<value>` is not …".
    pub fn parse(value: &str) -> Result<StorageUrl, &'static str> {
        const EXPECTED: &str = "a storage URL (file:///absolute/path or s3://bucket/prefix)";
        let url = url::Url::parse(value).map_err(|_| EXPECTED)?;
        // The URL parser would quietly resolve `.` and `..` segments: refuse them instead.
        let path_part = value.split(['?', '#']).next().unwrap_or_default();
        if path_part
            .split('/')
            .filter_map(percent_decode)
            .any(|segment| segment == "." || segment == "..")
        {
            return Err("a storage URL: it may have no `.` or `..` segments");
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("a storage URL: it may have no query (`?…`) nor fragment (`#…`)");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "a storage URL: credentials do not belong in it (use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
            );
        }
        match url.scheme() {
            "file" => {
                if !matches!(url.host_str(), None | Some("") | Some("localhost")) {
                    return Err("a local folder URL: use file:///absolute/path (no host)");
                }
                let path = url
                    .to_file_path()
                    .map_err(|()| "a local folder URL: use file:///absolute/path")?;
                if path.parent().is_none() {
                    return Err("a usable local folder: the filesystem root is not allowed");
                }
                Ok(StorageUrl {
                    kind: UrlKind::Local(path),
                })
            }
            "s3" => {
                if url.port().is_some() {
                    return Err("an S3 URL: give the endpoint separately, not as a port");
                }
                let bucket = url.host_str().unwrap_or_default();
                if !valid_bucket(bucket) {
                    return Err(
                        "an S3 URL with a valid bucket name (3 to 63 lowercase letters, digits, dots and hyphens)",
                    );
                }
                let raw_prefix = url.path().trim_matches('/');
                let prefix = percent_decode(raw_prefix)
                    .ok_or("an S3 URL with a valid prefix (bad percent-encoding)")?;
                if !prefix.is_empty() && key_problem(&prefix).is_some() {
                    return Err(
                        "an S3 URL with a valid prefix (no empty, `.` or `..` segments, no control characters)",
                    );
                }
                Ok(StorageUrl {
                    kind: UrlKind::S3 {
                        bucket: bucket.to_owned(),
                        prefix,
                    },
                })
            }
            _ => Err(EXPECTED),
        }
    }

    /// Whether this is a local folder (`file://`) rather than S3.
    pub fn is_local(&self) -> bool {
        matches!(self.kind, UrlKind::Local(_))
    }
}

impl FromStr for StorageUrl {
    type Err = &'static str;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        StorageUrl::parse(value)
    }
}

impl fmt::Display for StorageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            UrlKind::Local(path) => match url::Url::from_file_path(path) {
                Ok(url) => write!(f, "{url}"),
                Err(()) => write!(f, "file://{}", path.display()),
            },
            UrlKind::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            UrlKind::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// S3 connection settings beyond the URL.
///
/// Credentials come from `credentials` when given, otherwise from the standard AWS
/// variables read by [`AmazonS3Builder::from_env`]: `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, or web identity
/// (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, as Kubernetes service accounts set).
/// The fields here override the matching `AWS_*` variables.
#[derive(Clone, Default)]
pub struct S3Options {
    /// The endpoint, for S3-compatible services (`http://minio:9000`); `None` for AWS.
    /// An `http://` endpoint allows plain HTTP. With `path_style` false a custom endpoint
    /// must already name the bucket's own host (`https://bucket.s3.example.com`).
    pub endpoint: Option<String>,
    /// The region (`None`: `AWS_DEFAULT_REGION`/`AWS_REGION`, else `us-east-1`).
    pub region: Option<String>,
    /// Path-style requests (`endpoint/bucket/key`), which most self-hosted services need.
    pub path_style: bool,
    /// An explicit access key id and secret access key, instead of the environment.
    pub credentials: Option<(String, String)>,
}

impl fmt::Debug for S3Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Options")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(id, _)| (id, "<redacted>")),
            )
            .finish()
    }
}

/// An object read back from the store.
#[derive(Clone, Debug)]
pub struct Object {
    /// The whole content.
    pub bytes: Bytes,
    /// The size in bytes.
    pub size: u64,
    /// The entity tag, when the store gives one.
    pub etag: Option<String>,
    /// When the object was last written.
    pub last_modified: DateTime<Utc>,
    /// The content type given at `put` (S3 keeps it; the local folder does not: `None`).
    pub content_type: Option<String>,
}

/// What the store knows of an object without reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// The key, relative to the store (without the URL's prefix).
    pub key: String,
    /// The size in bytes.
    pub size: u64,
    /// When the object was last written.
    pub last_modified: DateTime<Utc>,
    /// The entity tag, when the store gives one.
    pub etag: Option<String>,
}

/// Why a storage operation failed; each message is one line naming the store and the key.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The key (or listing prefix) is not acceptable.
    #[error("bad object key: {0}")]
    BadKey(String),
    /// The store could not be reached (connection refused, timeout, missing folder).
    #[error("object store unreachable: {0}")]
    Unreachable(String),
    /// The store refused the credentials or the operation.
    #[error("object store denied access: {0}")]
    Denied(String),
    /// Anything else.
    #[error("object store error: {0}")]
    Other(String),
}

/// A handle on the object store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Storage {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    backend: Backend,
    /// The key prefix from the URL, without trailing `/` (maybe empty).
    prefix: String,
    /// The safe one-line description, for messages and `/health`.
    description: String,
}

#[derive(Debug)]
enum Backend {
    Local {
        store: LocalFileSystem,
        root: PathBuf,
    },
    S3 {
        store: AmazonS3,
        /// The same bucket without retries and with short timeouts, for `check`.
        probe: AmazonS3,
    },
}

impl Storage {
    /// Opens the store at `url`; a local folder is created if missing. No request is
    /// made: use [`Storage::check`] to see whether the store answers.
    ///
    /// For S3, installs rustls's ring provider for the process if none is installed yet
    /// (reqwest is built with `rustls-no-provider` and would panic without one).
    pub fn open(url: &StorageUrl, s3: &S3Options) -> Result<Storage, StorageError> {
        let description = describe(url, s3);
        let (backend, prefix) = match &url.kind {
            UrlKind::Local(root) => {
                std::fs::create_dir_all(root).map_err(|e| {
                    StorageError::Other(format!("{description}: cannot create the folder: {e}"))
                })?;
                let store = LocalFileSystem::new_with_prefix(root)
                    .map_err(|e| StorageError::Other(format!("{description}: {}", chain(&e))))?
                    .with_fsync(true);
                let backend = Backend::Local {
                    store,
                    root: root.clone(),
                };
                (backend, String::new())
            }
            UrlKind::S3 { bucket, prefix } => {
                // reqwest (`rustls-no-provider`) panics without a process-wide provider;
                // main installs ring at start-up, this covers tests and tools. If another
                // thread won the race, its provider stays: fine either way.
                if rustls::crypto::CryptoProvider::get_default().is_none() {
                    let _ = rustls::crypto::ring::default_provider().install_default();
                }
                let builder = s3_builder(bucket, s3);
                let store = builder
                    .clone()
                    .build()
                    .map_err(|e| StorageError::Other(format!("{description}: {}", chain(&e))))?;
                let probe = builder
                    .with_retry(RetryConfig {
                        max_retries: 0,
                        ..RetryConfig::default()
                    })
                    .with_config(client_key(ClientConfigKey::ConnectTimeout), "3s")
                    .with_config(client_key(ClientConfigKey::Timeout), "10s")
                    .build()
                    .map_err(|e| StorageError::Other(format!("{description}: {}", chain(&e))))?;
                (Backend::S3 { store, probe }, prefix.clone())
            }
        };
        Ok(Storage {
            inner: Arc::new(Inner {
                backend,
                prefix,
                description,
            }),
        })
    }

    /// Writes `bytes` at `key`, replacing any object there. Readers never see a partial
    /// object: S3 puts are atomic, the local folder writes a temporary file and renames it.
    /// `content_type` is kept by S3 and ignored by the local folder.
    pub async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let path = self.path(key)?;
        let mut attributes = Attributes::new();
        if matches!(self.inner.backend, Backend::S3 { .. }) && !content_type.is_empty() {
            attributes.insert(Attribute::ContentType, content_type.to_owned().into());
        }
        let opts = PutOptions {
            attributes,
            ..PutOptions::default()
        };
        self.store()
            .put_opts(&path, PutPayload::from_bytes(bytes), opts)
            .await
            .map_err(|e| self.error("put", key, &e))?;
        Ok(())
    }

    /// Reads the whole object at `key`, or `None` if there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Object>, StorageError> {
        let path = self.path(key)?;
        let result = match self.store().get(&path).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.error("get", key, &e)),
        };
        let content_type = result
            .attributes
            .get(&Attribute::ContentType)
            .map(|v| v.as_ref().to_owned());
        let meta = result.meta.clone();
        let bytes = result
            .bytes()
            .await
            .map_err(|e| self.error("get", key, &e))?;
        Ok(Some(Object {
            size: meta.size,
            etag: meta.e_tag,
            last_modified: meta.last_modified,
            content_type,
            bytes,
        }))
    }

    /// The size, date and entity tag of the object at `key`, or `None` if there is none.
    pub async fn head(&self, key: &str) -> Result<Option<Meta>, StorageError> {
        let path = self.path(key)?;
        match self.store().head(&path).await {
            Ok(meta) => Ok(Some(Meta {
                key: key.to_owned(),
                size: meta.size,
                last_modified: meta.last_modified,
                etag: meta.e_tag,
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error("head", key, &e)),
        }
    }

    /// Deletes the object at `key`; deleting a missing key is `Ok`.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path(key)?;
        match self.store().delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("delete", key, &e)),
        }
    }

    /// Every object under the folder `prefix` (`""` for all, `backups/2026` or
    /// `backups/2026/` for that folder's whole subtree), sorted by key. Prefixes match
    /// whole segments: `photos/ab` does not list `photos/abc/…`. Pages through any number.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Meta>, StorageError> {
        let folder = match prefix.strip_suffix('/') {
            Some(folder) if !folder.is_empty() => folder,
            _ => prefix,
        };
        let path = if folder.is_empty() {
            self.full_prefix()
        } else {
            Some(self.path(folder)?)
        };
        let mut metas: Vec<Meta> = self
            .store()
            .list(path.as_ref())
            .map_err(|e| self.error("list", prefix, &e))
            .and_then(|meta| std::future::ready(self.meta(meta, prefix)))
            .try_collect()
            .await?;
        metas.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(metas)
    }

    /// A URL that lets anyone GET the object at `key` for `ttl` (at most seven days):
    /// `Some` for S3, `None` for the local folder (serve those bytes yourself). The
    /// object's existence is not checked.
    pub async fn presigned_get(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<url::Url>, StorageError> {
        let path = self.path(key)?;
        match &self.inner.backend {
            Backend::Local { .. } => Ok(None),
            Backend::S3 { store, .. } => {
                if ttl > MAX_PRESIGN_TTL || ttl.is_zero() {
                    return Err(StorageError::Other(format!(
                        "{}: presign `{key}`: the lifetime must be between 1 s and 7 days, not {ttl:?}",
                        self.inner.description
                    )));
                }
                let url = store
                    .signed_url(Method::GET, &path, ttl)
                    .await
                    .map_err(|e| self.error("presign", key, &e))?;
                Ok(Some(url))
            }
        }
    }

    /// A cheap reachability probe for `/health`: the folder exists (local) or one
    /// single-key listing succeeds, without retries (S3). The caller bounds its time.
    pub async fn check(&self) -> Result<(), StorageError> {
        match &self.inner.backend {
            Backend::Local { root, .. } => match tokio::fs::metadata(root).await {
                Ok(meta) if meta.is_dir() => Ok(()),
                Ok(_) => Err(StorageError::Unreachable(format!(
                    "{}: check: not a folder",
                    self.inner.description
                ))),
                Err(e) => Err(StorageError::Unreachable(format!(
                    "{}: check: {e}",
                    self.inner.description
                ))),
            },
            Backend::S3 { probe, .. } => {
                let prefix =
                    (!self.inner.prefix.is_empty()).then(|| format!("{}/", self.inner.prefix));
                let opts = PaginatedListOptions {
                    max_keys: Some(1),
                    ..PaginatedListOptions::default()
                };
                probe
                    .list_paginated(prefix.as_deref(), opts)
                    .await
                    .map(|_| ())
                    .map_err(|e| self.error("check", "", &e))
            }
        }
    }

    /// A one-line description without secrets: `file:///data/objects`,
    /// `s3://bucket/prefix (endpoint http://minio:9000)` or `s3://bucket (region eu-west-1)`.
    pub fn describe(&self) -> String {
        self.inner.description.clone()
    }

    fn store(&self) -> &dyn ObjectStore {
        match &self.inner.backend {
            Backend::Local { store, .. } => store,
            Backend::S3 { store, .. } => store,
        }
    }

    /// The store path for a validated key, with the URL's prefix.
    fn path(&self, key: &str) -> Result<Path, StorageError> {
        if let Some(problem) = key_problem(key) {
            return Err(StorageError::BadKey(format!(
                "{}: `{}` {problem}",
                self.inner.description,
                key.escape_debug()
            )));
        }
        let full = if self.inner.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.inner.prefix)
        };
        Path::parse(&full).map_err(|e| {
            StorageError::BadKey(format!(
                "{}: `{}`: {}",
                self.inner.description,
                key.escape_debug(),
                one_line(&e.to_string())
            ))
        })
    }

    /// The URL's prefix as a path, `None` when there is none.
    fn full_prefix(&self) -> Option<Path> {
        (!self.inner.prefix.is_empty()).then(|| Path::from_iter(self.inner.prefix.split('/')))
    }

    /// A listing entry, with the URL's prefix taken off its key.
    fn meta(&self, meta: ObjectMeta, listed: &str) -> Result<Meta, StorageError> {
        let location = meta.location.as_ref();
        let key = if self.inner.prefix.is_empty() {
            Some(location)
        } else {
            location
                .strip_prefix(self.inner.prefix.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
        };
        let key = key.ok_or_else(|| {
            StorageError::Other(format!(
                "{}: list `{listed}`: the store returned `{location}`, outside the prefix",
                self.inner.description
            ))
        })?;
        Ok(Meta {
            key: key.to_owned(),
            size: meta.size,
            last_modified: meta.last_modified,
            etag: meta.e_tag,
        })
    }

    /// Classifies an object_store error into a one-line [`StorageError`].
    fn error(&self, op: &str, key: &str, e: &object_store::Error) -> StorageError {
        let subject = if key.is_empty() {
            op.to_owned()
        } else {
            format!("{op} `{}`", key.escape_debug())
        };
        let message = format!("{}: {subject}: {}", self.inner.description, chain(e));
        match e {
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => StorageError::Denied(message),
            object_store::Error::InvalidPath { .. } => StorageError::BadKey(message),
            _ if unreachable(e) => StorageError::Unreachable(message),
            _ => StorageError::Other(message),
        }
    }
}

/// The S3 builder: the environment first, then the options, which win.
fn s3_builder(bucket: &str, s3: &S3Options) -> AmazonS3Builder {
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_virtual_hosted_style_request(!s3.path_style);
    if builder
        .get_config_value(&AmazonS3ConfigKey::Region)
        .is_none()
    {
        builder = builder.with_region("us-east-1");
    }
    if let Some(region) = &s3.region {
        builder = builder.with_region(region);
    }
    if let Some(endpoint) = &s3.endpoint {
        // `AWS_ENDPOINT_URL_S3` would take precedence over the endpoint: override both.
        builder = builder
            .with_endpoint(endpoint)
            .with_config(AmazonS3ConfigKey::S3Endpoint, endpoint);
        if endpoint.starts_with("http://") {
            builder = builder.with_allow_http(true);
        }
    }
    if let Some((key_id, secret_key)) = &s3.credentials {
        // A provider wins over everything from the environment, session token included.
        builder =
            builder.with_credentials(Arc::new(StaticCredentialProvider::new(AwsCredential {
                key_id: key_id.clone(),
                secret_key: secret_key.clone(),
                token: None,
            })));
    }
    builder
}

/// An HTTP client setting, as an S3 configuration key.
fn client_key(key: ClientConfigKey) -> AmazonS3ConfigKey {
    AmazonS3ConfigKey::Client(key)
}

/// The description shown by [`Storage::describe`].
fn describe(url: &StorageUrl, s3: &S3Options) -> String {
    match &url.kind {
        UrlKind::Local(_) => url.to_string(),
        UrlKind::S3 { .. } => match (&s3.endpoint, &s3.region) {
            (Some(endpoint), _) => format!("{url} (endpoint {})", strip_userinfo(endpoint)),
            (None, Some(region)) => format!("{url} (region {region})"),
            (None, None) => url.to_string(),
        },
    }
}

/// An endpoint without any `user:password@` part, for messages.
fn strip_userinfo(endpoint: &str) -> String {
    match url::Url::parse(endpoint) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            // Both setters only fail for URLs that cannot have credentials.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        _ => endpoint.to_owned(),
    }
}

/// Why `key` is not acceptable, or `None` when it is.
fn key_problem(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        return Some("is empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return Some("is longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return Some("starts with `/`");
    }
    if key.chars().any(char::is_control) {
        return Some("contains a control character");
    }
    for segment in key.split('/') {
        match segment {
            "" => return Some("has an empty segment (`//` or a trailing `/`)"),
            "." | ".." => return Some("has a `.` or `..` segment"),
            _ => {}
        }
    }
    // The local folder keeps its in-progress writes as `name#123`: keep such names out.
    if let Some((_, suffix)) = key
        .rsplit('/')
        .next()
        .and_then(|name| name.rsplit_once('#'))
        && !suffix.is_empty()
        && suffix.bytes().all(|b| b.is_ascii_digit())
    {
        return Some("ends in `#` and digits, which is reserved for writes in progress");
    }
    None
}

/// S3's bucket naming rules (3–63 lowercase letters, digits, dots and hyphens,
/// starting and ending with a letter or digit).
fn valid_bucket(bucket: &str) -> bool {
    let bytes = bucket.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && !bucket.contains("..")
}

/// Decodes `%XX` escapes (the URL parser keeps them in the path); `None` if malformed.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether the failure means the store did not answer: no connection, a timeout, or a
/// request dropped on the way (object_store has already retried these).
fn unreachable(e: &object_store::Error) -> bool {
    use object_store::client::{HttpError, HttpErrorKind};
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(http) = err.downcast_ref::<HttpError>()
            && matches!(
                http.kind(),
                HttpErrorKind::Connect
                    | HttpErrorKind::Timeout
                    | HttpErrorKind::Request
                    | HttpErrorKind::Interrupted
            )
        {
            return true;
        }
        source = err.source();
    }
    false
}

/// The error and its causes on one line, each cause added only if not already said,
/// cut to a readable length.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = one_line(&e.to_string());
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = one_line(&cause.to_string());
        if !cause_text.is_empty() && !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    const MAX: usize = 600;
    if text.len() > MAX {
        let mut cut = MAX;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// `text` with every run of whitespace (newlines included) made one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{StreamExt, TryStreamExt, stream};
    use std::net::TcpListener;
    use std::process::{Child, Command, Stdio};
    use std::time::Instant;

    // ---- URL parsing and key rules -------------------------------------------------

    #[test]
    fn parses_file_and_s3_urls() {
        let local = StorageUrl::parse("file:///data/objects/").unwrap();
        assert!(local.is_local());
        assert_eq!(local.to_string(), "file:///data/objects");
        let s3: StorageUrl = "s3://my-bucket/site/objects/".parse().unwrap();
        assert!(!s3.is_local());
        assert_eq!(s3.to_string(), "s3://my-bucket/site/objects");
        assert_eq!(
            StorageUrl::parse("s3://my-bucket").unwrap().to_string(),
            "s3://my-bucket"
        );
        assert_eq!(
            StorageUrl::parse("file://localhost/srv/x")
                .unwrap()
                .to_string(),
            "file:///srv/x"
        );
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "/data/objects",
            "data",
            "http://example.com/x",
            "file://host/x",
            "file:///",
            "s3://ab",
            "s3://Bucket/x",
            "s3://-bucket/x",
            "s3://bucket-/x",
            "s3://a..b/x",
            "s3://key:secret@bucket/x",
            "s3://bucket:9000/x",
            "s3://bucket/x?region=eu",
            "s3://bucket/a//b",
            "s3://bucket/a/../b",
            "s3://bucket/a/%2e%2e/b",
            "s3://bucket/a/./b",
            "file:///data/../etc",
        ] {
            let err = StorageUrl::parse(bad).expect_err(bad);
            assert!(!err.is_empty(), "{bad}");
        }
    }

    #[test]
    fn key_rules() {
        assert_eq!(key_problem("photos/ab/abcdef.jpg"), None);
        assert_eq!(key_problem("backups/2026/01/02/db.sql.gz"), None);
        assert_eq!(key_problem("a#b"), None);
        assert_eq!(key_problem("a#1/b"), None);
        assert_eq!(key_problem(&"k".repeat(1024)), None);
        for bad in [
            String::new(),
            "/a".into(),
            "a/../b".into(),
            "..".into(),
            "./a".into(),
            "a//b".into(),
            "a/".into(),
            "a\nb".into(),
            "a\u{7f}".into(),
            "a\u{85}".into(),
            "a#12".into(),
            "k".repeat(1025),
        ] {
            assert!(key_problem(&bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn options_debug_hides_the_secret() {
        let options = S3Options {
            credentials: Some(("AKIDEXAMPLE".into(), "very-secret".into())),
            ..S3Options::default()
        };
        let debug = format!("{options:?}");
        assert!(
            debug.contains("AKIDEXAMPLE") && !debug.contains("very-secret"),
            "{debug}"
        );
    }

    // ---- One suite, two backends --------------------------------------------------

    fn install_crypto() {
        // Already installed by another test: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port on 127.0.0.1")
    }

    /// A `moto_server` child process, killed on drop.
    struct Moto {
        child: Child,
        endpoint: String,
        _log: tempfile::NamedTempFile,
    }

    impl Drop for Moto {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    const MOTO_HINT: &str =
        "run `pip install 'moto[server]'` (moto's S3 server is needed for the S3 tests)";

    /// Starts moto on a free port and waits (polling, 30 s deadline) until it answers.
    async fn start_moto() -> Moto {
        let port = free_port();
        let log = tempfile::NamedTempFile::new().expect("a temporary log file");
        // `moto_server`, or the same through `python3 -m` when the command is not on PATH
        // (a pyenv without a rehash); if moto is missing, python3 exits at once, below.
        let spawn = |program: &str, module: &[&str]| {
            Command::new(program)
                .args(module)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log.reopen().expect("the log file again"))
                .spawn()
        };
        let child =
            match spawn("moto_server", &[]).or_else(|_| spawn("python3", &["-m", "moto.server"])) {
                Ok(child) => child,
                Err(e) => panic!("cannot start `moto_server` ({e}): {MOTO_HINT}"),
            };
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            _log: log,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = moto.child.try_wait() {
                let log = std::fs::read_to_string(moto._log.path()).unwrap_or_default();
                panic!("`moto_server` exited ({status}): {MOTO_HINT}\n{log}");
            }
            let probe = client
                .get(format!("{}/moto-api/", moto.endpoint))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if probe.is_ok() {
                return moto;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(moto._log.path()).unwrap_or_default();
                panic!(
                    "`moto_server` did not answer on {} within 30 s\n{log}",
                    moto.endpoint
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Creates `bucket` with a plain (unsigned) `PUT /bucket`, which moto accepts.
    async fn create_bucket(endpoint: &str, bucket: &str) {
        let response = reqwest::Client::new()
            .put(format!("{endpoint}/{bucket}"))
            .send()
            .await
            .expect("moto answers the bucket creation");
        assert!(
            response.status().is_success(),
            "create bucket: {}",
            response.status()
        );
    }

    fn moto_options(endpoint: &str) -> S3Options {
        S3Options {
            endpoint: Some(endpoint.to_owned()),
            region: Some("us-east-1".into()),
            path_style: true,
            credentials: Some(("test".into(), "test".into())),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn suite_on_local_folder() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let root = dir.path().join("objects/nested");
        let url = StorageUrl::parse(url::Url::from_file_path(&root).unwrap().as_str()).unwrap();
        let storage = Storage::open(&url, &S3Options::default()).expect("open the folder");
        assert!(root.is_dir(), "open creates the folder");
        assert_eq!(storage.describe(), url.to_string());
        suite(&storage, false).await;
        // No temporary files are left behind by the puts.
        let names: Vec<_> = walk(&root);
        assert!(names.iter().all(|n| !n.contains('#')), "{names:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn suite_on_s3_moto() {
        install_crypto();
        let moto = start_moto().await;
        create_bucket(&moto.endpoint, "hearth-test").await;
        // An object outside the prefix, which the prefixed store must never list.
        let outside = Storage::open(
            &StorageUrl::parse("s3://hearth-test").unwrap(),
            &moto_options(&moto.endpoint),
        )
        .unwrap();
        outside
            .put("other/x.txt", Bytes::from_static(b"x"), "text/plain")
            .await
            .unwrap();

        let url = StorageUrl::parse("s3://hearth-test/site/objects").unwrap();
        let storage = Storage::open(&url, &moto_options(&moto.endpoint)).unwrap();
        assert_eq!(
            storage.describe(),
            format!("s3://hearth-test/site/objects (endpoint {})", moto.endpoint)
        );
        storage.check().await.expect("moto answers the probe");
        suite(&storage, true).await;

        // The prefix is really prepended in the bucket.
        assert!(
            outside
                .head("site/objects/photos/ab/abcdef.jpg")
                .await
                .unwrap()
                .is_some()
        );
        let all = outside.list("").await.unwrap();
        assert!(all.iter().any(|m| m.key == "other/x.txt"));
    }

    #[tokio::test]
    async fn check_fails_clearly_when_nothing_listens() {
        install_crypto();
        let port = free_port(); // Bound then released: nothing listens there.
        let endpoint = format!("http://127.0.0.1:{port}");
        let url = StorageUrl::parse("s3://hearth-test/x").unwrap();
        let storage = Storage::open(&url, &moto_options(&endpoint)).unwrap();
        let started = Instant::now();
        let err = storage.check().await.expect_err("nothing listens");
        assert!(matches!(err, StorageError::Unreachable(_)), "{err:?}");
        let message = err.to_string();
        assert!(message.contains(&endpoint), "{message}");
        assert!(!message.contains('\n'), "{message}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn check_fails_for_a_vanished_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("gone");
        let url = StorageUrl::parse(url::Url::from_file_path(&root).unwrap().as_str()).unwrap();
        let storage = Storage::open(&url, &S3Options::default()).unwrap();
        storage.check().await.unwrap();
        std::fs::remove_dir(&root).unwrap();
        let err = storage.check().await.expect_err("the folder is gone");
        assert!(matches!(err, StorageError::Unreachable(_)), "{err:?}");
        assert!(err.to_string().contains("gone"), "{err}");
    }

    fn walk(dir: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path.display().to_string());
            }
        }
        out
    }

    /// The cases every backend must pass.
    async fn suite(storage: &Storage, s3: bool) {
        round_trip(storage, s3).await;
        overwrite_and_delete(storage).await;
        bad_keys(storage).await;
        presigned(storage, s3).await;
        many_keys(storage).await;
    }

    async fn round_trip(storage: &Storage, s3: bool) {
        let key = "photos/ab/abcdef.jpg";
        assert!(storage.get(key).await.unwrap().is_none());
        assert!(storage.head(key).await.unwrap().is_none());
        let body = Bytes::from_static(b"\xff\xd8\xff not really a jpeg");
        let before = Utc::now() - chrono::Duration::seconds(5);
        storage.put(key, body.clone(), "image/jpeg").await.unwrap();

        let object = storage.get(key).await.unwrap().expect("just written");
        assert_eq!(object.bytes, body);
        assert_eq!(object.size, body.len() as u64);
        assert!(object.etag.is_some());
        assert!(object.last_modified >= before, "{}", object.last_modified);
        if s3 {
            assert_eq!(object.content_type.as_deref(), Some("image/jpeg"));
        } else {
            assert_eq!(object.content_type, None);
        }

        let meta = storage.head(key).await.unwrap().expect("just written");
        assert_eq!(meta.key, key);
        assert_eq!(meta.size, body.len() as u64);
        assert_eq!(meta.etag, object.etag);

        // A folder-like prefix of a key is not an object.
        assert!(storage.get("photos/ab").await.unwrap().is_none());
        assert!(storage.head("photos").await.unwrap().is_none());
    }

    async fn overwrite_and_delete(storage: &Storage) {
        let key = "notes/overwrite.txt";
        storage
            .put(key, Bytes::from_static(b"first version"), "text/plain")
            .await
            .unwrap();
        let first = storage.head(key).await.unwrap().unwrap();
        storage
            .put(key, Bytes::from_static(b"second"), "text/plain")
            .await
            .unwrap();
        let second = storage.get(key).await.unwrap().unwrap();
        assert_eq!(second.bytes, Bytes::from_static(b"second"));
        assert_eq!(second.size, 6);
        assert_ne!(Some(first.size), Some(second.size));

        storage.delete(key).await.unwrap();
        assert!(storage.get(key).await.unwrap().is_none());
        assert!(storage.head(key).await.unwrap().is_none());
        storage
            .delete(key)
            .await
            .expect("deleting a missing key is Ok");
        storage
            .delete("never/was/there.bin")
            .await
            .expect("deleting a missing key is Ok");
    }

    async fn bad_keys(storage: &Storage) {
        let long = "k".repeat(1025);
        for key in [
            "", "/abs", "a/../b", "..", "a//b", "a/", "a\nb", "a\u{0}", "a#7", &long,
        ] {
            let put = storage
                .put(key, Bytes::from_static(b"x"), "text/plain")
                .await;
            assert!(
                matches!(put, Err(StorageError::BadKey(_))),
                "put {key:?}: {put:?}"
            );
            assert!(
                matches!(storage.get(key).await, Err(StorageError::BadKey(_))),
                "{key:?}"
            );
            assert!(
                matches!(storage.head(key).await, Err(StorageError::BadKey(_))),
                "{key:?}"
            );
            assert!(
                matches!(storage.delete(key).await, Err(StorageError::BadKey(_))),
                "{key:?}"
            );
            let presign = storage.presigned_get(key, Duration::from_secs(60)).await;
            assert!(matches!(presign, Err(StorageError::BadKey(_))), "{key:?}");
        }
        let err = storage.get("a/../b").await.unwrap_err().to_string();
        assert!(
            err.contains("a/../b") && err.contains(&storage.describe()),
            "{err}"
        );
        assert!(matches!(
            storage.list("a/../b").await,
            Err(StorageError::BadKey(_))
        ));
        assert!(matches!(
            storage.list("/x").await,
            Err(StorageError::BadKey(_))
        ));
    }

    async fn presigned(storage: &Storage, s3: bool) {
        let key = "photos/cd/presigned.png";
        let body = Bytes::from_static(b"\x89PNG pretend");
        storage.put(key, body.clone(), "image/png").await.unwrap();
        let url = storage
            .presigned_get(key, Duration::from_secs(300))
            .await
            .unwrap();
        if !s3 {
            assert!(url.is_none());
            return;
        }
        let url = url.expect("S3 presigns");
        assert!(url.as_str().contains("X-Amz-Signature"), "{url}");
        let response = reqwest::get(url.clone()).await.unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("image/png")
        );
        assert_eq!(response.bytes().await.unwrap(), body);
        let too_long = storage
            .presigned_get(key, Duration::from_secs(8 * 24 * 3600))
            .await;
        assert!(
            matches!(too_long, Err(StorageError::Other(_))),
            "{too_long:?}"
        );
    }

    async fn many_keys(storage: &Storage) {
        const N: usize = 1100;
        let started = Instant::now();
        stream::iter(0..N)
            .map(|i| {
                let storage = storage.clone();
                async move {
                    let key = format!("backups/2026/01/02/{i:05}.bin");
                    storage
                        .put(
                            &key,
                            Bytes::from(format!("{i}")),
                            "application/octet-stream",
                        )
                        .await
                }
            })
            .buffer_unordered(16)
            .try_collect::<Vec<()>>()
            .await
            .unwrap();
        let put_time = started.elapsed();
        // Neighbours that must not show up under `backups/2026/01/02`.
        storage
            .put("backups/2026/01/020.bin", Bytes::from_static(b"x"), "")
            .await
            .unwrap();
        storage
            .put("backups/2026/01/03/x.bin", Bytes::from_static(b"x"), "")
            .await
            .unwrap();

        let listed = Instant::now();
        let metas = storage.list("backups/2026/01/02/").await.unwrap();
        let list_time = listed.elapsed();
        assert_eq!(metas.len(), N);
        for (i, meta) in metas.iter().enumerate() {
            assert_eq!(meta.key, format!("backups/2026/01/02/{i:05}.bin"));
            assert_eq!(meta.size, format!("{i}").len() as u64);
        }
        // Without the trailing slash: the same folder.
        assert_eq!(storage.list("backups/2026/01/02").await.unwrap().len(), N);
        let month = storage.list("backups/2026/01").await.unwrap();
        assert_eq!(month.len(), N + 2);
        let everything = storage.list("").await.unwrap();
        assert!(everything.iter().any(|m| m.key == "photos/ab/abcdef.jpg"));
        assert!(everything.iter().all(|m| !m.key.starts_with("other/")));
        assert!(storage.list("nothing/here").await.unwrap().is_empty());
        eprintln!(
            "{}: {N} puts in {put_time:?}, listing {N} keys in {list_time:?}",
            storage.describe()
        );
    }
}
