//! hub-identity: sign-in through OAuth2/OpenID Connect providers (openidconnect) and local accounts (argon2).
//!
//! Empty for now: it implements the domain's `IdentityProvider` and `PasswordHasher` ports with the
//! authentication milestone. The crate exists so the workspace has its final shape and the dependency rule covers
//! it from the start.
