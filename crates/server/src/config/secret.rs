//! A configuration value that must never reach a log line.

/// A secret read from the environment (a password, a signing key, an OAuth client secret). It has no `Display` and
/// its `Debug` hides the value, so the configuration can derive `Debug` and still be logged whole; code that needs
/// the value asks for it by name with [`Secret::expose`].
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value read from the environment.
    #[must_use]
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value itself, for the one place that hands it to its consumer; the name makes each use easy to find.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_output_hides_the_value_that_expose_returns() {
        let secret = Secret::new("hunter2-but-longer".to_owned());
        assert_eq!(secret.expose(), "hunter2-but-longer");
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        assert_eq!(format!("{:?}", Some(secret)), "Some(Secret([redacted]))");
    }
}
