//! Value types that settings parse into. Each parser returns the phrase that completes
//! "`<value>` is not …", so the caller can build the one-line error.

use std::fmt;
use std::time::Duration;

/// A string that never shows itself in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(********)")
    }
}

/// Which database engine a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
    /// A MySQL or MariaDB server.
    MySql,
}

impl Engine {
    /// The short name used in logs and health output.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
            Engine::MySql => "mysql",
        }
    }
}

/// A database URL: its engine is known, and its password never leaks through `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: SecretString,
    engine: Engine,
}

impl DatabaseUrl {
    /// Parses `sqlite:`, `postgres://`/`postgresql://` and `mysql://`/`mariadb://` URLs.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let (scheme, rest) = raw
            .split_once(':')
            .ok_or("a database URL (expected sqlite://, postgres:// or mysql://)")?;
        let engine = match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Engine::Sqlite,
            "postgres" | "postgresql" => Engine::Postgres,
            "mysql" | "mariadb" => Engine::MySql,
            _ => return Err("a database URL (expected sqlite://, postgres:// or mysql://)"),
        };
        if engine != Engine::Sqlite && !rest.starts_with("//") {
            return Err("a database URL (expected scheme://host/database)");
        }
        if engine != Engine::Sqlite && rest.trim_start_matches('/').is_empty() {
            return Err("a database URL (the host is missing)");
        }
        // sqlx knows MariaDB by its MySQL name.
        let url = match engine {
            Engine::MySql => format!("mysql:{rest}"),
            _ => raw.to_owned(),
        };
        Ok(Self {
            url: SecretString::new(url),
            engine,
        })
    }

    /// The URL for a SQLite file, created on first use.
    pub fn sqlite_file(path: &std::path::Path) -> Self {
        Self {
            url: SecretString::new(format!("sqlite://{}?mode=rwc", path.display())),
            engine: Engine::Sqlite,
        }
    }

    /// Which engine this URL names.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The full URL, password included, for the connection pool only.
    pub fn expose(&self) -> &str {
        self.url.expose()
    }

    /// The URL with any password replaced by `********`.
    pub fn redacted(&self) -> String {
        let url = self.url.expose();
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.to_owned();
        };
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
                let masked = if userinfo.contains(':') {
                    format!("{user}:********")
                } else {
                    user.to_owned()
                };
                format!("{scheme}://{masked}@{host}{tail}")
            }
            None => url.to_owned(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Parses `250ms`, `30s`, `5m`, `2h`, `14d` (a bare number means seconds).
pub fn parse_duration(raw: &str) -> Result<Duration, &'static str> {
    const WHAT: &str = "a duration (like 500ms, 30s, 5m, 1h or 14d)";
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: f64 = number.parse().map_err(|_| WHAT)?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        "d" => number * 86400.0,
        _ => return Err(WHAT),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| WHAT)
}

/// Shows a duration the way [`parse_duration`] reads it.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else if ms.is_multiple_of(86_400_000) && ms > 0 {
        format!("{}d", ms / 86_400_000)
    } else if ms.is_multiple_of(3_600_000) && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

/// An address range (`10.0.0.0/8`, `fd00::/8`) or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    pub fn parse(raw: &str) -> Result<IpNet, &'static str> {
        const WHAT: &str = "an address or range (like 10.0.0.0/8 or 192.168.1.5)";
        let (addr, prefix) = match raw.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (raw.trim(), None),
        };
        let addr: std::net::IpAddr = addr.parse().map_err(|_| WHAT)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or(WHAT)?,
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }

    /// Whether `ip` is in the range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (a, b, bits) = match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                (u128::from(a.to_bits()), u128::from(b.to_bits()), 32)
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => (a.to_bits(), b.to_bits(), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        shift >= bits || (a >> shift) == (b >> shift)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Parses a size: `512`, `64KiB`, `2MiB`, `1GiB`, `10MB` (decimal units too).
pub fn parse_size(raw: &str) -> Result<u64, &'static str> {
    const WHAT: &str = "a size (like 512KiB, 2MiB or 1GB)";
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = number.parse().map_err(|_| WHAT)?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        _ => return Err(WHAT),
    };
    number.checked_mul(factor).ok_or(WHAT)
}

/// Shows a size the way [`parse_size`] reads it.
pub fn format_size(bytes: u64) -> String {
    for (unit, factor) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= factor && bytes.is_multiple_of(factor) {
            return format!("{}{unit}", bytes / factor);
        }
    }
    format!("{bytes}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        for text in ["250ms", "30s", "5m", "2h", "1500ms", "14d"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), text);
        }
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 fortnights").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn sizes_round_trip() {
        assert_eq!(parse_size("2MiB").unwrap(), 2 << 20);
        assert_eq!(parse_size("10MB").unwrap(), 10_000_000);
        assert_eq!(format_size(2 << 20), "2MiB");
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
    }

    #[test]
    fn database_urls_know_their_engine_and_hide_passwords() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db:5432/hearth").unwrap();
        assert_eq!(url.engine(), Engine::Postgres);
        assert_eq!(url.redacted(), "postgres://app:********@db:5432/hearth");
        assert!(!format!("{url:?}").contains("s3cret"));

        let url = DatabaseUrl::parse("mariadb://root@127.0.0.1/test").unwrap();
        assert_eq!(url.engine(), Engine::MySql);
        assert_eq!(url.expose(), "mysql://root@127.0.0.1/test");

        let url = DatabaseUrl::parse("mysql://u:p@ss@h/db").unwrap();
        assert_eq!(url.redacted(), "mysql://u:********@h/db");

        assert!(DatabaseUrl::parse("sqlite://data/x.db").is_ok());
        assert!(DatabaseUrl::parse("oracle://x").is_err());
        assert!(DatabaseUrl::parse("postgres:x").is_err());
        assert!(DatabaseUrl::parse("nonsense").is_err());
    }

    #[test]
    fn address_ranges_contain_what_they_should() {
        let net = IpNet::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        let one = IpNet::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            IpNet::parse("fd00::/8")
                .unwrap()
                .contains("fd12::1".parse().unwrap())
        );
        assert!(IpNet::parse("10.0.0.0/33").is_err());
        assert!(IpNet::parse("proxy").is_err());
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let s = SecretString::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }
}
