//! Process figures for `/metrics`, read from `/proc` at scrape time (never on a
//! request's path). On systems without `/proc` they are simply absent.

use std::fs;

/// A snapshot of this process.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessStats {
    /// Resident memory in bytes.
    pub resident_memory_bytes: Option<f64>,
    /// Virtual memory in bytes.
    pub virtual_memory_bytes: Option<f64>,
    /// User plus system CPU time, seconds.
    pub cpu_seconds: Option<f64>,
    /// Open file descriptors.
    pub open_fds: Option<f64>,
    /// The soft limit on open file descriptors.
    pub max_fds: Option<f64>,
    /// When the process started, Unix seconds.
    pub start_time_seconds: Option<f64>,
    /// OS threads.
    pub threads: Option<f64>,
}

/// Clock ticks per second for `/proc/<pid>/stat`: 100 on every Linux target we build for.
const TICKS_PER_SECOND: f64 = 100.0;

impl ProcessStats {
    /// Reads `/proc/self`.
    pub fn read() -> Self {
        let mut stats = ProcessStats::default();
        if let Ok(status) = fs::read_to_string("/proc/self/status") {
            stats.resident_memory_bytes = status_kib(&status, "VmRSS:");
            stats.virtual_memory_bytes = status_kib(&status, "VmSize:");
            stats.threads = status_field(&status, "Threads:");
        }
        if let Ok(stat) = fs::read_to_string("/proc/self/stat") {
            // Fields after the command name, which may itself contain spaces.
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.split_whitespace().collect())
                .unwrap_or_default();
            let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
            if let (Some(utime), Some(stime)) = (field(14), field(15)) {
                stats.cpu_seconds = Some((utime + stime) / TICKS_PER_SECOND);
            }
            if let (Some(start), Some(boot)) = (field(22), boot_time()) {
                stats.start_time_seconds = Some(boot + start / TICKS_PER_SECOND);
            }
        }
        if let Ok(dir) = fs::read_dir("/proc/self/fd") {
            stats.open_fds = Some(dir.count() as f64);
        }
        if let Ok(limits) = fs::read_to_string("/proc/self/limits") {
            stats.max_fds = limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse().ok());
        }
        stats
    }
}

fn status_field(status: &str, name: &str) -> Option<f64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn status_kib(status: &str, name: &str) -> Option<f64> {
    status_field(status, name).map(|kib| kib * 1024.0)
}

fn boot_time() -> Option<f64> {
    fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let stats = ProcessStats::read();
        assert!(stats.resident_memory_bytes.unwrap() > 1024.0 * 1024.0);
        assert!(stats.open_fds.unwrap() >= 3.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = stats.start_time_seconds.unwrap();
        assert!(start <= now + 1.0 && start > now - 86_400.0 * 365.0);
    }
}
