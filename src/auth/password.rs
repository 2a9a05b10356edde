//! Passwords: Argon2id with the crate's recommended parameters (19 MiB, 2 passes), in the
//! PHC string format so parameters can change later without breaking old hashes.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The shortest password accepted when one is set.
pub const MIN_LENGTH: usize = 10;
/// The longest: hashing work must stay bounded whatever is posted.
pub const MAX_LENGTH: usize = 1024;

/// A hash of a password that nobody has, verified against when the account does not
/// exist, so an unknown name costs the same time as a wrong password.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$aGVhcnRoLWRlY295LXNhbHQ$8pWf4Sw4Y5xG1dq9YbW7kzH0C3+e5wq4zN1bJm5bUuM";

/// Why a password cannot be set.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too short.
    #[error("the password is too short: use at least {MIN_LENGTH} characters")]
    TooShort,
    /// Too long.
    #[error("the password is too long: use at most {MAX_LENGTH} bytes")]
    TooLong,
    /// Hashing failed (no randomness, most likely).
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// Hashes a new password, checking its length first.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_LENGTH {
        return Err(PasswordError::TooLong);
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches `stored`; with no stored hash, does the same work and
/// answers no.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    if password.len() > MAX_LENGTH {
        return false;
    }
    let (hash, real) = match stored.and_then(|s| PasswordHash::new(s).ok()) {
        Some(hash) => (hash, true),
        None => match PasswordHash::new(DECOY) {
            Ok(hash) => (hash, false),
            Err(_) => return false,
        },
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok();
    real && matches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(verify("correct horse battery", Some(&a)));
        assert!(!verify("correct horse battery!", Some(&a)));
        assert!(!verify("anything", None));
        assert!(!verify(&"x".repeat(MAX_LENGTH + 1), Some(&a)));
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
        assert!(matches!(
            hash(&"y".repeat(MAX_LENGTH + 1)),
            Err(PasswordError::TooLong)
        ));
    }

    #[test]
    fn the_decoy_is_a_valid_hash() {
        assert!(PasswordHash::new(DECOY).is_ok());
    }
}
