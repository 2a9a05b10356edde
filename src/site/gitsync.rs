//! Bringing a git-managed content folder up to its remote branch, in pure Rust.
//!
//! The site's content folder is a git clone (work tree plus `.git` inside it). When a push
//! webhook arrives, [`sync`] fetches the remote and, if the remote branch is a fast-forward of
//! the local `HEAD`, replaces the folder's contents with the new commit *atomically*: the new
//! tree is checked out into a fresh sibling folder, `.git` is moved over, and the two folders
//! are swapped with a single `renameat2(RENAME_EXCHANGE)`. A reader of the content path sees
//! either the old tree or the new one, never a mixture.
//!
//! No `git` binary is needed for `https://` remotes (and `http://`); `file://` and plain-path
//! remotes are served by spawning `git-upload-pack`, as git itself does, so they need git
//! installed (the tests use them; production remotes are https).
//!
//! # Layout requirements and limitations
//!
//! * Linux only. The content folder must not be a mount point, and its parent must be writable
//!   and on the same filesystem: the fresh tree is created next to it as
//!   `<parent>/.<name>.sync-<pid>-<nanos>` and the two are exchanged with
//!   `renameat2(RENAME_EXCHANGE)` (ext4, xfs, btrfs and tmpfs support it). In a container, mount
//!   a volume at the content folder's *parent*: a folder baked into an image's overlayfs lower
//!   layer may refuse directory renames (`EXDEV`). When the exchange is refused, the sync fails
//!   with [`SyncError::Io`] and the content folder is left as it was.
//! * The work tree must be clean: modified, staged, deleted or untracked (not ignored) files
//!   make [`sync`] refuse with [`SyncError::Dirty`] instead of losing them. Ignored files
//!   (per `.gitignore`) are *not* carried over: after a fast-forward the folder holds exactly
//!   the commit's tree.
//! * Submodules are not checked out (their folders stay empty), sparse checkouts are not
//!   honoured (the full tree is checked out), and shallow clones may fail the ancestry check.
//! * Syncs of folders sharing a parent are serialised with an exclusive `flock` on the parent
//!   directory, so concurrent webhook deliveries (threads or processes) queue up.
//! * A crash mid-sync is repaired by the next [`sync`]: a `.git` stranded in a leftover sibling
//!   folder is moved back (the content was not yet swapped), a swap whose ref update was not
//!   recorded yet is completed from the journal `.git/hearth-sync-pending`, and leftover
//!   sibling folders are removed.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{SystemTime, UNIX_EPOCH};

use gix::bstr::{BString, ByteSlice};
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::{FullName, Target};
use gix::status::UntrackedFiles;

/// The reflog message written when the local branch is moved forward.
const REFLOG_MESSAGE: &str = "hearth: fast-forward from webhook";
/// File inside the git dir recording an in-flight swap: `<from> <to>\n` commit ids.
const PENDING_FILE: &str = "hearth-sync-pending";
/// File inside the git dir holding the index for the new tree until it is installed.
const NEW_INDEX_FILE: &str = "index.hearth-sync";
/// How many offending paths [`SyncError::Dirty`] lists.
const DIRTY_PATHS_SHOWN: usize = 5;
/// Identity used for reflog entries when the repository configures none.
const FALLBACK_COMMITTER: (&str, &str) = ("hearth", "hearth@localhost");

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Synced {
    /// The remote branch already equals the local `HEAD` commit; nothing changed.
    UpToDate {
        /// The commit id (full hex) that `HEAD` and the remote branch point to.
        head: String,
    },
    /// The content folder now holds the remote branch's commit.
    FastForwarded {
        /// The commit id (full hex) the folder held before.
        from: String,
        /// The commit id (full hex) the folder holds now.
        to: String,
    },
}

/// Why a sync did not bring the content folder up to date.
///
/// Unless stated otherwise, the content folder is unchanged when one of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The path is not the top of a git work tree (missing, bare, or not a repository).
    #[error("{} is not a git work tree: {reason}", path.display())]
    NotARepository {
        /// The content path that was given.
        path: PathBuf,
        /// Why it could not be opened as one.
        reason: String,
    },
    /// The remote could not be found or fetching from it failed.
    #[error("fetch failed: {0}")]
    Fetch(String),
    /// The fetch did not produce `refs/remotes/<remote>/<branch>`.
    #[error(
        "remote {remote:?} has no branch {branch:?} (refs/remotes/{remote}/{branch} missing after fetch)"
    )]
    NoSuchBranch {
        /// The remote name.
        remote: String,
        /// The branch name.
        branch: String,
    },
    /// The remote branch is not a fast-forward of the local `HEAD`; content left untouched.
    #[error(
        "local HEAD {local} is not an ancestor of remote {remote}: not a fast-forward, content left untouched"
    )]
    Diverged {
        /// The local `HEAD` commit id (full hex).
        local: String,
        /// The remote branch's commit id (full hex).
        remote: String,
    },
    /// The work tree has local modifications or untracked files, which a sync would lose.
    #[error("work tree has {total} local change(s) ({}); refusing to sync", DirtyList(paths, *total))]
    Dirty {
        /// Up to a few of the offending paths, relative to the content folder.
        paths: Vec<String>,
        /// How many changed or untracked paths there are in all.
        total: usize,
    },
    /// Checking out the new tree into the fresh folder failed.
    #[error("checkout failed: {0}")]
    Checkout(String),
    /// Reading or updating the repository (HEAD, refs, objects, status) failed.
    #[error("repository error: {0}")]
    Repository(String),
    /// A filesystem operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "remove".
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Formats the dirty paths as `a, b, c, …`.
struct DirtyList<'a>(&'a [String], usize);

impl fmt::Display for DirtyList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.join(", "))?;
        if self.1 > self.0.len() {
            write!(f, ", …")?;
        }
        Ok(())
    }
}

/// Fetches `remote` (a remote name, e.g. "origin") into the repository at `content`, and if
/// `refs/remotes/<remote>/<branch>` is a fast-forward of the local HEAD commit, makes the folder
/// hold exactly that commit.
///
/// The folder is swapped atomically (see the [module docs](self)); `HEAD`'s branch (or `HEAD`
/// itself when detached) is moved to the new commit with the reflog message
/// `"hearth: fast-forward from webhook"`, and the index is rewritten so `git status` is clean.
///
/// This blocks (network and disk); call it from a blocking thread in async code.
pub fn sync(content: &Path, remote: &str, branch: &str) -> Result<Synced, SyncError> {
    // An https remote goes through reqwest and rustls.
    crate::install_tls_provider();
    sync_with(content, remote, branch, gix::open::Options::default())
}

/// [`sync`], opening the repository with `options`.
fn sync_with(
    content: &Path,
    remote: &str,
    branch: &str,
    options: gix::open::Options,
) -> Result<Synced, SyncError> {
    let live = fs::canonicalize(content).map_err(|err| SyncError::NotARepository {
        path: content.to_owned(),
        reason: err.to_string(),
    })?;
    let (parent, name) = match (live.parent(), live.file_name()) {
        (Some(parent), Some(name)) => (parent.to_owned(), name.to_string_lossy().into_owned()),
        _ => {
            return Err(SyncError::NotARepository {
                path: content.to_owned(),
                reason: "the filesystem root cannot be swapped".into(),
            });
        }
    };
    let _lock = lock_dir(&parent)?;
    let moved_back = recover_folders(&parent, &name, &live)?;

    let repo = open_repo(&live, content, options.clone())?;
    recover_pending(&repo, moved_back)?;

    fetch(&repo, remote)?;
    let remote_ref = format!("refs/remotes/{remote}/{branch}");
    let target = repo
        .try_find_reference(remote_ref.as_str())
        .map_err(|err| repo_err(format!("cannot read {remote_ref}"), &err))?
        .ok_or_else(|| SyncError::NoSuchBranch {
            remote: remote.to_owned(),
            branch: branch.to_owned(),
        })?
        .peel_to_commit()
        .map_err(|err| repo_err(format!("{remote_ref} does not point to a commit"), &err))?;
    let target_id = target.id;
    let target_tree = target
        .tree_id()
        .map_err(|err| repo_err(format!("commit {target_id} has no tree"), &err))?
        .detach();

    let head = repo
        .head()
        .map_err(|err| repo_err("cannot read HEAD".into(), &err))?;
    let head_id = head
        .id()
        .ok_or_else(|| {
            SyncError::Repository(format!("HEAD of {} has no commit yet", live.display()))
        })?
        .detach();

    if head_id == target_id {
        return Ok(Synced::UpToDate {
            head: head_id.to_string(),
        });
    }
    let base = repo.merge_base(head_id, target_id).map_err(|err| {
        repo_err(
            format!("cannot find the merge base of {head_id} and {target_id}"),
            &err,
        )
    })?;
    if base.map(gix::Id::detach) != Some(head_id) {
        return Err(SyncError::Diverged {
            local: head_id.to_string(),
            remote: target_id.to_string(),
        });
    }

    check_clean(&repo)?;
    let git_dir = GitDir::new(&repo, &live);
    let fresh = parent.join(format!(".{name}.sync-{}", unique_suffix()));
    let step = Step {
        from: head_id,
        to: target_id,
        tree: target_tree,
    };
    fast_forward(&repo, &live, &fresh, &git_dir, step, options)?;
    tracing::info!(
        content = %live.display(),
        from = %head_id,
        to = %target_id,
        "content folder fast-forwarded"
    );
    Ok(Synced::FastForwarded {
        from: head_id.to_string(),
        to: target_id.to_string(),
    })
}

/// Where the git dir lives relative to the content folder, which matters while `.git` is in
/// the fresh folder.
struct GitDir {
    /// The git dir while `.git` is in the live folder (and after the swap).
    live: PathBuf,
    /// The git dir's path relative to the live folder, if it is inside it (the usual `.git`).
    relative: Option<PathBuf>,
}

impl GitDir {
    fn new(repo: &gix::Repository, live: &Path) -> Self {
        let absolute =
            fs::canonicalize(repo.git_dir()).unwrap_or_else(|_| repo.git_dir().to_owned());
        let relative = absolute.strip_prefix(live).ok().map(Path::to_owned);
        Self {
            live: absolute,
            relative,
        }
    }

    /// The git dir while `.git` has been moved into `folder`.
    fn in_folder(&self, folder: &Path) -> PathBuf {
        match &self.relative {
            Some(relative) => folder.join(relative),
            None => self.live.clone(),
        }
    }
}

/// Opens the repository at `live` and makes sure `live` is its work tree's top.
fn open_repo(
    live: &Path,
    given: &Path,
    options: gix::open::Options,
) -> Result<gix::Repository, SyncError> {
    let not_a_repo = |reason: String| SyncError::NotARepository {
        path: given.to_owned(),
        reason,
    };
    let mut repo = gix::open_opts(live, options).map_err(|err| not_a_repo(describe(&err)))?;
    let workdir = repo
        .workdir()
        .ok_or_else(|| not_a_repo("it is a bare repository".into()))?;
    let workdir = fs::canonicalize(workdir).map_err(|err| not_a_repo(err.to_string()))?;
    if workdir != live {
        return Err(not_a_repo(format!(
            "its work tree is {}",
            workdir.display()
        )));
    }
    let (name, email) = FALLBACK_COMMITTER;
    repo.committer_or_set_fallback(name, email)
        .map_err(|err| repo_err("cannot set up the reflog identity".into(), &err))?;
    Ok(repo)
}

/// Fetches `remote` with its configured refspecs.
fn fetch(repo: &gix::Repository, remote: &str) -> Result<(), SyncError> {
    let fetch_err =
        |what: &str, err: &gix::Error| SyncError::Fetch(format!("{what}: {}", describe(err)));
    let handle = repo
        .find_remote(remote)
        .map_err(|err| fetch_err(&format!("no usable remote {remote:?}"), &err))?;
    let interrupt = AtomicBool::new(false);
    handle
        .connect(gix::remote::Direction::Fetch)
        .map_err(|err| fetch_err(&format!("cannot connect to remote {remote:?}"), &err))?
        .prepare_fetch(gix::progress::Discard, Default::default())
        .map_err(|err| fetch_err(&format!("cannot list refs of remote {remote:?}"), &err))?
        .receive(gix::progress::Discard, &interrupt)
        .map_err(|err| fetch_err(&format!("cannot receive from remote {remote:?}"), &err))?;
    Ok(())
}

/// Refuses with [`SyncError::Dirty`] if the work tree or index differs from `HEAD`, or if
/// there are untracked files that are not ignored.
fn check_clean(repo: &gix::Repository) -> Result<(), SyncError> {
    let status_err = |err: &gix::Error| repo_err("cannot compute the work tree status".into(), err);
    let items = repo
        .status(gix::progress::Discard)
        .map_err(|err| status_err(&err))?
        .untracked_files(UntrackedFiles::Collapsed)
        .into_iter(Vec::<BString>::new())
        .map_err(|err| status_err(&err))?;
    let mut paths = Vec::new();
    let mut total = 0;
    for item in items {
        let item = item.map_err(|err| status_err(&err))?;
        if let gix::status::Item::IndexWorktree(
            gix::status::index_worktree::Item::DirectoryContents { entry, .. },
        ) = &item
            && entry.status != gix::dir::entry::Status::Untracked
        {
            continue;
        }
        total += 1;
        if paths.len() < DIRTY_PATHS_SHOWN {
            paths.push(item.location().to_str_lossy().into_owned());
        }
    }
    if total > 0 {
        return Err(SyncError::Dirty { paths, total });
    }
    Ok(())
}

/// The commits a fast-forward moves between.
#[derive(Debug, Clone, Copy)]
struct Step {
    /// The current `HEAD` commit.
    from: gix::ObjectId,
    /// The commit to move to.
    to: gix::ObjectId,
    /// The tree of `to`.
    tree: gix::ObjectId,
}

/// Checks out `step.tree` into `fresh`, swaps it with `live`, and moves HEAD to `step.to`.
fn fast_forward(
    repo: &gix::Repository,
    live: &Path,
    fresh: &Path,
    git_dir: &GitDir,
    step: Step,
    options: gix::open::Options,
) -> Result<(), SyncError> {
    let Step { from, to, tree } = step;
    fs::create_dir(fresh).map_err(|source| io_err("create", fresh, source))?;
    // The fresh folder becomes the content folder: give it the same permission bits.
    let copied = fs::metadata(live)
        .and_then(|meta| fs::set_permissions(fresh, meta.permissions()))
        .map_err(|source| io_err("copy the permissions of", live, source));
    if let Err(err) = copied {
        remove_quietly(fresh);
        return Err(err);
    }
    let mut index = match checkout(repo, tree, fresh) {
        Ok(index) => index,
        Err(err) => {
            remove_quietly(fresh);
            return Err(err);
        }
    };

    // From here on `.git` lives in the fresh folder until the exchange.
    let live_dot_git = live.join(".git");
    let fresh_dot_git = fresh.join(".git");
    if let Err(source) = fs::rename(&live_dot_git, &fresh_dot_git) {
        remove_quietly(fresh);
        return Err(io_err("move .git out of", live, source));
    }
    let staged_git_dir = git_dir.in_folder(fresh);
    let prepared = (|| {
        let new_index = staged_git_dir.join(NEW_INDEX_FILE);
        index.set_path(&new_index);
        index.write(Default::default()).map_err(|err| {
            SyncError::Checkout(format!(
                "cannot write {}: {}",
                new_index.display(),
                describe(&err)
            ))
        })?;
        let pending = staged_git_dir.join(PENDING_FILE);
        fs::write(&pending, format!("{from} {to}\n"))
            .map_err(|source| io_err("write", &pending, source))?;
        exchange(live, fresh)
    })();
    if let Err(err) = prepared {
        undo_before_exchange(live, fresh, &staged_git_dir);
        return Err(err);
    }

    // The live path now holds the new tree and `.git`; the fresh path holds the old tree.
    let finished = gix::open_opts(live, options)
        .map_err(|err| repo_err("cannot reopen the repository after the swap".into(), &err))
        .and_then(|mut repo| {
            let (name, email) = FALLBACK_COMMITTER;
            repo.committer_or_set_fallback(name, email)
                .map_err(|err| repo_err("cannot set up the reflog identity".into(), &err))?;
            move_head(&repo, from, to)
        });
    if let Err(err) = finished {
        match exchange(live, fresh) {
            Ok(()) => undo_before_exchange(live, fresh, &staged_git_dir),
            Err(undo) => tracing::error!(
                content = %live.display(),
                error = %undo,
                "cannot swap the old tree back; the next sync completes the fast-forward"
            ),
        }
        return Err(err);
    }
    finish_pending(&git_dir.live)?;
    if let Err(err) = fs::remove_dir_all(fresh) {
        tracing::warn!(folder = %fresh.display(), error = %err, "cannot remove the old content tree");
    }
    Ok(())
}

/// Builds an index for `tree` and checks it out into the empty folder `dest`, returning the
/// index with the checked-out files' stat data.
fn checkout(
    repo: &gix::Repository,
    tree: gix::ObjectId,
    dest: &Path,
) -> Result<gix::index::File, SyncError> {
    let checkout_err =
        |what: &str, err: &gix::Error| SyncError::Checkout(format!("{what}: {}", describe(err)));
    let mut index = repo
        .index_from_tree(&tree)
        .map_err(|err| checkout_err(&format!("cannot build an index from tree {tree}"), &err))?;
    let mut opts = repo
        .checkout_options(gix::worktree::stack::state::attributes::Source::IdMapping)
        .map_err(|err| checkout_err("invalid checkout configuration", &err))?;
    opts.destination_is_initially_empty = true;
    let objects =
        repo.objects.clone().into_arc().map_err(|err| {
            SyncError::Checkout(format!("cannot share the object database: {err}"))
        })?;
    let interrupt = AtomicBool::new(false);
    let outcome = gix::worktree::state::checkout(
        &mut index,
        dest,
        objects,
        &gix::progress::Discard,
        &gix::progress::Discard,
        &interrupt,
        opts,
    )
    .map_err(|err| {
        checkout_err(
            &format!("cannot check out tree {tree} into {}", dest.display()),
            &err,
        )
    })?;
    if let Some(collision) = outcome.collisions.first() {
        return Err(SyncError::Checkout(format!(
            "path {} collides with another entry in {}",
            collision.path,
            dest.display()
        )));
    }
    if let Some(record) = outcome.errors.first() {
        return Err(SyncError::Checkout(format!(
            "cannot check out {}: {}",
            record.path,
            describe(&record.error)
        )));
    }
    Ok(index)
}

/// Moves HEAD's branch (or a detached HEAD) from `from` to `to`, writing the reflog.
fn move_head(
    repo: &gix::Repository,
    from: gix::ObjectId,
    to: gix::ObjectId,
) -> Result<(), SyncError> {
    let head: FullName =
        "HEAD"
            .try_into()
            .map_err(|err: gix::validate::reference::name::Error| {
                SyncError::Repository(err.to_string())
            })?;
    let edit = RefEdit::new(
        head,
        Change::Update {
            log: LogChange {
                mode: RefLog::AndReference,
                force_create_reflog: false,
                message: REFLOG_MESSAGE.into(),
            },
            expected: PreviousValue::MustExistAndMatch(Target::Object(from)),
            new: Target::Object(to),
        },
    )
    .with_deref(true);
    repo.edit_reference(edit)
        .map_err(|err| repo_err(format!("cannot move HEAD from {from} to {to}"), &err))?;
    Ok(())
}

/// Installs the new index and drops the journal once HEAD has been moved.
fn finish_pending(git_dir: &Path) -> Result<(), SyncError> {
    let new_index = git_dir.join(NEW_INDEX_FILE);
    if new_index.exists() {
        let index = git_dir.join("index");
        fs::rename(&new_index, &index)
            .map_err(|source| io_err("install the new index as", &index, source))?;
    }
    let pending = git_dir.join(PENDING_FILE);
    fs::remove_file(&pending).map_err(|source| io_err("remove", &pending, source))
}

/// Reverses everything done before a successful exchange: drops the journal and the new
/// index, moves `.git` back into `live`, and removes `fresh`. Best effort; failures are logged
/// and repaired by the next sync.
fn undo_before_exchange(live: &Path, fresh: &Path, staged_git_dir: &Path) {
    // The journal goes first: without it, a crash below is repaired by moving `.git` back.
    for file in [PENDING_FILE, NEW_INDEX_FILE] {
        let path = staged_git_dir.join(file);
        if let Err(err) = fs::remove_file(&path)
            && err.kind() != io::ErrorKind::NotFound
        {
            tracing::error!(path = %path.display(), error = %err, "cannot remove sync file");
        }
    }
    match fs::rename(fresh.join(".git"), live.join(".git")) {
        Ok(()) => remove_quietly(fresh),
        Err(err) => tracing::error!(
            content = %live.display(),
            folder = %fresh.display(),
            error = %err,
            "cannot move .git back; the next sync moves it back"
        ),
    }
}

/// Atomically exchanges the directories `a` and `b`.
fn exchange(a: &Path, b: &Path) -> Result<(), SyncError> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE)
        .map_err(|errno| io_err("atomically swap", a, errno.into()))
}

/// Takes an exclusive `flock` on `dir`, released when the returned file is dropped.
fn lock_dir(dir: &Path) -> Result<fs::File, SyncError> {
    let file = fs::File::open(dir).map_err(|source| io_err("open", dir, source))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|errno| io_err("lock", dir, errno.into()))?;
    Ok(file)
}

/// Repairs what an interrupted sync left in the folders: moves a stranded `.git` back into
/// `live` (returning `true` if it did) and removes leftover sibling folders.
fn recover_folders(parent: &Path, name: &str, live: &Path) -> Result<bool, SyncError> {
    let prefix = format!(".{name}.sync-");
    let mut leftovers = Vec::new();
    for entry in fs::read_dir(parent).map_err(|source| io_err("list", parent, source))? {
        let entry = entry.map_err(|source| io_err("list", parent, source))?;
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            leftovers.push(entry.path());
        }
    }
    let live_dot_git = live.join(".git");
    let mut moved_back = false;
    if fs::symlink_metadata(&live_dot_git).is_err()
        && let Some(stranded) = leftovers
            .iter()
            .find(|folder| fs::symlink_metadata(folder.join(".git")).is_ok())
    {
        let source = stranded.join(".git");
        fs::rename(&source, &live_dot_git).map_err(|err| io_err("move back", &source, err))?;
        tracing::warn!(content = %live.display(), "moved .git back from an interrupted sync");
        moved_back = true;
    }
    for folder in leftovers {
        if fs::symlink_metadata(folder.join(".git")).is_ok() {
            tracing::error!(folder = %folder.display(), "leftover sync folder holds a .git; leaving it alone");
            continue;
        }
        fs::remove_dir_all(&folder).map_err(|source| io_err("remove leftover", &folder, source))?;
        tracing::warn!(folder = %folder.display(), "removed a leftover sync folder");
    }
    Ok(moved_back)
}

/// Completes (or, if `.git` was just moved back, discards) a swap recorded in the journal.
fn recover_pending(repo: &gix::Repository, moved_back: bool) -> Result<(), SyncError> {
    let git_dir = repo.git_dir();
    let pending = git_dir.join(PENDING_FILE);
    let journal = match fs::read_to_string(&pending) {
        Ok(journal) => journal,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(io_err("read", &pending, source)),
    };
    if moved_back {
        // The swap never happened: the folder still holds the old tree matching HEAD.
        for file in [PENDING_FILE, NEW_INDEX_FILE] {
            let path = git_dir.join(file);
            if let Err(source) = fs::remove_file(&path)
                && source.kind() != io::ErrorKind::NotFound
            {
                return Err(io_err("remove", &path, source));
            }
        }
        return Ok(());
    }
    let ids: Vec<gix::ObjectId> = journal
        .split_whitespace()
        .map(|hex| gix::ObjectId::from_hex(hex.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|err| {
            SyncError::Repository(format!("corrupt journal {}: {err}", pending.display()))
        })?;
    let [from, to] = ids[..] else {
        return Err(SyncError::Repository(format!(
            "corrupt journal {}: expected two commit ids",
            pending.display()
        )));
    };
    let head = repo
        .head_id()
        .map_err(|err| repo_err("cannot read HEAD".into(), &err))?
        .detach();
    if head != to {
        move_head(repo, from, to)?;
    }
    finish_pending(git_dir)?;
    tracing::warn!(git_dir = %git_dir.display(), %to, "completed an interrupted fast-forward");
    Ok(())
}

/// A suffix unlikely to collide: process id and current time in nanoseconds.
fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos}", std::process::id())
}

/// Removes `folder` recursively, logging a failure.
fn remove_quietly(folder: &Path) {
    if let Err(err) = fs::remove_dir_all(folder) {
        tracing::warn!(folder = %folder.display(), error = %err, "cannot remove sync folder");
    }
}

fn io_err(action: &'static str, path: &Path, source: io::Error) -> SyncError {
    SyncError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

fn repo_err(what: String, err: &gix::Error) -> SyncError {
    SyncError::Repository(format!("{what}: {}", describe(err)))
}

/// Renders an error and its sources on one line, `outer: inner: …`, skipping repeats.
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(err) = current {
        let message = err
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !message.is_empty() && !parts.iter().any(|part| part.contains(&message)) {
            parts.push(message);
        }
        current = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::process::Command;

    /// Runs git in `dir` with a fixed identity, returning trimmed stdout; panics on failure.
    fn git(dir: &Path, args: &[&str]) -> String {
        git_env(dir, args, &[])
    }

    fn git_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
        let output = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args([
                "-c",
                "user.name=Test Author",
                "-c",
                "user.email=test@example.com",
            ])
            .args([
                "-c",
                "init.defaultBranch=main",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .envs(env.iter().copied())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "git {args:?} in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .expect("git prints UTF-8")
            .trim()
            .to_owned()
    }

    fn write(path: &Path, text: &str) {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent folders");
        }
        fs::write(path, text).expect("write file");
    }

    /// A bare remote, the content clone `site`, and a second clone `work` to push from.
    struct Fixture {
        _tmp: tempfile::TempDir,
        root: PathBuf,
        site: PathBuf,
        work: PathBuf,
    }

    impl Fixture {
        fn new() -> Self {
            let tmp = tempfile::tempdir().expect("temp dir");
            let root = tmp.path().to_owned();
            git(&root, &["init", "--bare", "-b", "main", "remote.git"]);
            let seed = root.join("seed");
            fs::create_dir(&seed).expect("create seed");
            git(&seed, &["init", "-b", "main"]);
            write(&seed.join("index.md"), "# Home\n");
            write(&seed.join(".gitignore"), "*.log\n");
            write(&seed.join("posts/first.md"), "first\n");
            git(&seed, &["add", "."]);
            git(&seed, &["commit", "-m", "initial"]);
            git(&seed, &["push", "../remote.git", "main"]);
            git(&root, &["clone", "remote.git", "site"]);
            git(&root, &["clone", "remote.git", "work"]);
            Self {
                site: root.join("site"),
                work: root.join("work"),
                root,
                _tmp: tmp,
            }
        }

        /// Commits a change in `work` (a new post, an executable, a symlink) and pushes it.
        fn push_update(&self) -> String {
            let script = self.work.join("bin/build.sh");
            write(&script, "#!/bin/sh\necho hi\n");
            fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
            write(&self.work.join("posts/second.md"), "second\n");
            symlink("first.md", self.work.join("posts/latest.md")).expect("symlink");
            fs::remove_file(self.work.join("index.md")).expect("remove");
            write(&self.work.join("index.md"), "# Home, updated\n");
            git(&self.work, &["add", "-A"]);
            git(&self.work, &["commit", "-m", "second post"]);
            git(&self.work, &["push", "origin", "main"]);
            git(&self.work, &["rev-parse", "HEAD"])
        }

        fn head(&self) -> String {
            git(&self.site, &["log", "-1", "--format=%H"])
        }

        fn leftovers(&self) -> Vec<String> {
            fs::read_dir(&self.root)
                .expect("list root")
                .map(|entry| {
                    entry
                        .expect("entry")
                        .file_name()
                        .to_string_lossy()
                        .into_owned()
                })
                .filter(|name| name.starts_with(".site.sync-"))
                .collect()
        }
    }

    #[test]
    fn fast_forwards_then_is_up_to_date() {
        let fx = Fixture::new();
        let before = fx.head();
        let remote_head = fx.push_update();
        fs::set_permissions(&fx.site, fs::Permissions::from_mode(0o750)).expect("chmod site");

        let synced = sync(&fx.site, "origin", "main").expect("sync succeeds");
        assert_eq!(
            synced,
            Synced::FastForwarded {
                from: before.clone(),
                to: remote_head.clone()
            }
        );
        assert_eq!(
            fs::read_to_string(fx.site.join("posts/second.md")).expect("new file"),
            "second\n"
        );
        assert_eq!(
            fs::read_to_string(fx.site.join("index.md")).expect("changed file"),
            "# Home, updated\n"
        );
        assert_eq!(git(&fx.site, &["status", "--porcelain", "--ignored"]), "");
        assert_eq!(fx.head(), remote_head);
        assert_eq!(
            git(&fx.site, &["rev-parse", "refs/heads/main"]),
            remote_head
        );
        assert_eq!(git(&fx.site, &["symbolic-ref", "HEAD"]), "refs/heads/main");
        assert_eq!(
            git(&fx.site, &["reflog", "-1", "--format=%gs", "main"]),
            REFLOG_MESSAGE
        );
        assert_eq!(
            git(&fx.site, &["reflog", "-1", "--format=%gs", "HEAD"]),
            REFLOG_MESSAGE
        );

        let mode = fs::metadata(fx.site.join("bin/build.sh"))
            .expect("script")
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "executable bit kept, mode {mode:o}");
        let link = fx.site.join("posts/latest.md");
        assert!(
            fs::symlink_metadata(&link)
                .expect("link")
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            fs::read_link(&link).expect("read link"),
            Path::new("first.md")
        );
        assert!(fx.leftovers().is_empty(), "leftovers: {:?}", fx.leftovers());

        let folder_mode = fs::metadata(&fx.site).expect("site").permissions().mode();
        assert_eq!(
            folder_mode & 0o7777,
            0o750,
            "content folder mode {folder_mode:o}"
        );

        let again = sync(&fx.site, "origin", "main").expect("second sync succeeds");
        assert_eq!(again, Synced::UpToDate { head: remote_head });
        assert_eq!(git(&fx.site, &["status", "--porcelain"]), "");
    }

    #[test]
    fn diverged_history_leaves_content_untouched() {
        let fx = Fixture::new();
        write(&fx.site.join("local.md"), "local\n");
        git(&fx.site, &["add", "local.md"]);
        git(&fx.site, &["commit", "-m", "local edit"]);
        let local = fx.head();
        let remote_head = fx.push_update();

        let err = sync(&fx.site, "origin", "main").expect_err("diverged");
        match &err {
            SyncError::Diverged {
                local: l,
                remote: r,
            } => {
                assert_eq!(l, &local);
                assert_eq!(r, &remote_head);
            }
            other => panic!("expected Diverged, got {other:?}"),
        }
        assert!(!err.to_string().contains('\n'));
        assert_eq!(fx.head(), local);
        assert_eq!(
            fs::read_to_string(fx.site.join("index.md")).expect("index"),
            "# Home\n"
        );
        assert!(fx.site.join("local.md").exists());
        assert!(!fx.site.join("posts/second.md").exists());
        assert_eq!(git(&fx.site, &["status", "--porcelain"]), "");
        assert!(fx.leftovers().is_empty());
    }

    #[test]
    fn missing_branch_and_not_a_repository() {
        let fx = Fixture::new();
        match sync(&fx.site, "origin", "no-such-branch") {
            Err(SyncError::NoSuchBranch { remote, branch }) => {
                assert_eq!(
                    (remote.as_str(), branch.as_str()),
                    ("origin", "no-such-branch")
                );
            }
            other => panic!("expected NoSuchBranch, got {other:?}"),
        }
        assert!(matches!(
            sync(&fx.site, "upstream", "main"),
            Err(SyncError::Fetch(message)) if message.contains("upstream")
        ));

        let plain = fx.root.join("plain");
        fs::create_dir(&plain).expect("create plain folder");
        assert!(matches!(
            sync(&plain, "origin", "main"),
            Err(SyncError::NotARepository { .. })
        ));
        let missing = fx.root.join("missing");
        assert!(matches!(
            sync(&missing, "origin", "main"),
            Err(SyncError::NotARepository { .. })
        ));
        // A subfolder of a work tree is not the work tree itself.
        let err = sync(&fx.site.join("posts"), "origin", "main").expect_err("subfolder");
        assert!(matches!(err, SyncError::NotARepository { .. }), "{err}");
        assert!(matches!(
            sync(&fx.root.join("remote.git"), "origin", "main"),
            Err(SyncError::NotARepository { .. })
        ));
    }

    #[test]
    fn dirty_work_tree_is_refused() {
        let fx = Fixture::new();
        let before = fx.head();
        fx.push_update();

        write(&fx.site.join("index.md"), "# edited on the server\n");
        write(&fx.site.join("drafts/new.md"), "draft\n");
        let err = sync(&fx.site, "origin", "main").expect_err("dirty");
        match &err {
            SyncError::Dirty { paths, total } => {
                assert_eq!(*total, 2, "{paths:?}");
                assert!(paths.iter().any(|path| path == "index.md"), "{paths:?}");
                assert!(
                    paths.iter().any(|path| path.starts_with("drafts")),
                    "{paths:?}"
                );
            }
            other => panic!("expected Dirty, got {other:?}"),
        }
        assert!(err.to_string().contains("index.md"), "{err}");
        assert_eq!(fx.head(), before);
        assert_eq!(
            fs::read_to_string(fx.site.join("index.md")).expect("index"),
            "# edited on the server\n"
        );
        assert!(fx.site.join("drafts/new.md").exists());
        assert!(fx.leftovers().is_empty());

        // Only an untracked file is still refused; a staged change too.
        git(&fx.site, &["checkout", "--", "index.md"]);
        assert!(matches!(
            sync(&fx.site, "origin", "main"),
            Err(SyncError::Dirty { total: 1, .. })
        ));
        fs::remove_dir_all(fx.site.join("drafts")).expect("remove drafts");
        write(&fx.site.join("posts/first.md"), "staged\n");
        git(&fx.site, &["add", "posts/first.md"]);
        assert!(matches!(
            sync(&fx.site, "origin", "main"),
            Err(SyncError::Dirty { total: 1, .. })
        ));
        git(&fx.site, &["reset", "--hard"]);

        // Ignored files do not block the sync (and are not carried over).
        write(&fx.site.join("server.log"), "noise\n");
        assert!(matches!(
            sync(&fx.site, "origin", "main"),
            Ok(Synced::FastForwarded { .. })
        ));
        assert!(!fx.site.join("server.log").exists());
        assert_eq!(git(&fx.site, &["status", "--porcelain"]), "");
    }

    #[test]
    fn detached_head_is_moved_itself() {
        let fx = Fixture::new();
        let before = fx.head();
        git(&fx.site, &["checkout", "--detach"]);
        let remote_head = fx.push_update();
        let synced = sync(&fx.site, "origin", "main").expect("sync succeeds");
        assert_eq!(
            synced,
            Synced::FastForwarded {
                from: before.clone(),
                to: remote_head.clone()
            }
        );
        assert_eq!(fx.head(), remote_head);
        assert_eq!(git(&fx.site, &["rev-parse", "refs/heads/main"]), before);
        assert_eq!(git(&fx.site, &["status", "--porcelain"]), "");
    }

    #[test]
    fn works_without_a_configured_identity() {
        let fx = Fixture::new();
        let remote_head = fx.push_update();
        let synced = sync_with(&fx.site, "origin", "main", gix::open::Options::isolated())
            .expect("sync succeeds");
        assert!(matches!(synced, Synced::FastForwarded { to, .. } if to == remote_head));
        assert_eq!(
            git(&fx.site, &["reflog", "-1", "--format=%gn", "main"]),
            FALLBACK_COMMITTER.0
        );
    }

    #[test]
    fn recovers_a_git_dir_stranded_before_the_swap() {
        let fx = Fixture::new();
        let before = fx.head();
        let remote_head = fx.push_update();
        // As if a sync died after moving `.git` into its fresh folder.
        let fresh = fx.root.join(".site.sync-1-2");
        write(&fresh.join("half.md"), "half\n");
        fs::rename(fx.site.join(".git"), fresh.join(".git")).expect("strand .git");
        write(&fresh.join(".git").join(NEW_INDEX_FILE), "junk");
        write(
            &fresh.join(".git").join(PENDING_FILE),
            &format!("{before} {remote_head}\n"),
        );

        let synced = sync(&fx.site, "origin", "main").expect("sync succeeds");
        assert_eq!(
            synced,
            Synced::FastForwarded {
                from: before,
                to: remote_head.clone()
            }
        );
        assert_eq!(fx.head(), remote_head);
        assert_eq!(git(&fx.site, &["status", "--porcelain"]), "");
        assert!(!fx.site.join(".git").join(PENDING_FILE).exists());
        assert!(fx.leftovers().is_empty());
    }

    #[test]
    fn completes_a_swap_interrupted_before_the_ref_update() {
        let fx = Fixture::new();
        let before = fx.head();
        let remote_head = fx.push_update();
        // As if a sync died right after the exchange: new tree, old HEAD and index.
        git(&fx.site, &["fetch", "origin"]);
        let git_dir = fx.site.join(".git");
        fs::copy(git_dir.join("index"), git_dir.join(NEW_INDEX_FILE)).expect("copy index");
        git_env(
            &fx.site,
            &["read-tree", "-m", "-u", "HEAD", "origin/main"],
            &[("GIT_INDEX_FILE", ".git/index.hearth-sync")],
        );
        write(
            &git_dir.join(PENDING_FILE),
            &format!("{before} {remote_head}\n"),
        );
        write(&fx.root.join(".site.sync-1-2/old.md"), "old tree\n");

        let synced = sync(&fx.site, "origin", "main").expect("sync succeeds");
        assert_eq!(
            synced,
            Synced::UpToDate {
                head: remote_head.clone()
            }
        );
        assert_eq!(fx.head(), remote_head);
        assert_eq!(git(&fx.site, &["status", "--porcelain"]), "");
        assert!(!git_dir.join(PENDING_FILE).exists());
        assert!(fx.leftovers().is_empty());
    }

    #[test]
    fn failure_after_moving_git_dir_restores_the_folder() {
        let fx = Fixture::new();
        let before = fx.head();
        let remote_head = fx.push_update();
        // A directory where the new index is to be written makes that step fail after `.git`
        // has already moved into the fresh folder.
        let blocker = fx.site.join(".git").join(NEW_INDEX_FILE);
        fs::create_dir(&blocker).expect("create blocker");

        let err = sync(&fx.site, "origin", "main").expect_err("index write fails");
        assert!(matches!(err, SyncError::Checkout(_)), "{err}");
        assert!(fx.site.join(".git").is_dir());
        assert_eq!(fx.head(), before);
        assert_eq!(
            fs::read_to_string(fx.site.join("index.md")).expect("index"),
            "# Home\n"
        );
        assert!(!fx.site.join("posts/second.md").exists());
        assert_eq!(git(&fx.site, &["status", "--porcelain"]), "");
        assert!(fx.leftovers().is_empty(), "leftovers: {:?}", fx.leftovers());

        fs::remove_dir(&blocker).expect("remove blocker");
        let synced = sync(&fx.site, "origin", "main").expect("sync succeeds");
        assert!(matches!(synced, Synced::FastForwarded { to, .. } if to == remote_head));
    }

    #[test]
    fn concurrent_syncs_queue_up() {
        let fx = Fixture::new();
        let remote_head = fx.push_update();
        let results: Vec<Synced> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..2)
                .map(|_| scope.spawn(|| sync(&fx.site, "origin", "main")))
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("thread runs").expect("sync succeeds"))
                .collect()
        });
        let forwarded = results
            .iter()
            .filter(|synced| matches!(synced, Synced::FastForwarded { .. }))
            .count();
        assert_eq!(forwarded, 1, "{results:?}");
        assert!(results.contains(&Synced::UpToDate {
            head: remote_head.clone()
        }));
        assert_eq!(fx.head(), remote_head);
        assert_eq!(git(&fx.site, &["status", "--porcelain"]), "");
    }

    #[test]
    fn https_remotes_go_through_the_built_in_http_client() {
        let fx = Fixture::new();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind a loopback port")
            .local_addr()
            .expect("local address")
            .port();
        let url = format!("https://127.0.0.1:{port}/remote.git");
        git(&fx.site, &["remote", "set-url", "origin", &url]);
        match sync(&fx.site, "origin", "main") {
            // The URL in the message comes from the HTTP client's own error.
            Err(SyncError::Fetch(message)) => assert!(message.contains(&url), "{message}"),
            other => panic!("expected a connection failure, got {other:?}"),
        }
    }

    #[test]
    fn error_messages_are_one_line() {
        let errors = [
            SyncError::Dirty {
                paths: vec!["a".into(), "b".into()],
                total: 7,
            },
            SyncError::NoSuchBranch {
                remote: "origin".into(),
                branch: "main".into(),
            },
            io_err("remove", Path::new("/x"), io::Error::other("boom")),
        ];
        for err in errors {
            let text = err.to_string();
            assert!(!text.contains('\n'), "{text}");
        }
        assert_eq!(
            SyncError::Dirty {
                paths: vec!["a".into(), "b".into()],
                total: 7
            }
            .to_string(),
            "work tree has 7 local change(s) (a, b, …); refusing to sync"
        );
    }
}
