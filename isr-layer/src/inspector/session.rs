//! Signed-in sessions of the inspector: a cookie signed with a key derived from the secret, a
//! CSRF token bound to the session, and the bound on wrong secrets.
//!
//! The cookie holds an expiry, a random nonce and an HMAC-SHA256 of both under a key derived
//! from the revalidation secret; the secret itself is never in the cookie, a URL or a page.
//! Instances that share the secret accept each other's sessions, and changing the secret ends
//! every session.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use crate::purge::PurgeAuth;

type HmacSha256 = Hmac<Sha256>;

/// The session cookie's name.
pub(super) const COOKIE: &str = "isr_inspector";

/// How long a session lasts.
pub(super) const SESSION_SECS: u64 = 3600;

/// Wrong secrets accepted per [`WINDOW`] before sign-in is refused for the rest of it.
const MAX_FAILURES: usize = 5;
const WINDOW: Duration = Duration::from_secs(60);

/// The keys of one inspector.
#[derive(Clone)]
pub(super) struct Sessions {
    key: [u8; 32],
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

/// A verified session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Session {
    nonce: String,
}

impl Sessions {
    pub(super) fn new(auth: &PurgeAuth) -> Self {
        let mut mac = mac(auth.secret_bytes());
        mac.update(b"isr inspector session key v1");
        Self {
            key: mac.finalize().into_bytes().into(),
        }
    }

    /// A new session expiring `SESSION_SECS` after `now_secs` (Unix time): the cookie value.
    /// `None` if the system has no randomness to offer.
    pub(super) fn open(&self, now_secs: u64) -> Option<String> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).ok()?;
        let nonce = hex(&nonce);
        let expires = now_secs + SESSION_SECS;
        Some(format!(
            "{expires}.{nonce}.{}",
            self.sign(&["session", &expires.to_string(), &nonce])
        ))
    }

    /// The session a cookie value holds, if it is signed by this key and not expired.
    pub(super) fn verify(&self, cookie: &str, now_secs: u64) -> Option<Session> {
        let mut parts = cookie.split('.');
        let (expires, nonce, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let expected = self.sign(&["session", expires, nonce]);
        if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
            return None;
        }
        let expires: u64 = expires.parse().ok()?;
        (now_secs < expires).then(|| Session {
            nonce: nonce.to_owned(),
        })
    }

    /// The CSRF token of `session`, for its forms.
    pub(super) fn csrf(&self, session: &Session) -> String {
        self.sign(&["csrf", &session.nonce])
    }

    /// Whether `token` is the CSRF token of `session`, in constant time.
    pub(super) fn csrf_matches(&self, session: &Session, token: &str) -> bool {
        bool::from(self.csrf(session).as_bytes().ct_eq(token.as_bytes()))
    }

    fn sign(&self, parts: &[&str]) -> String {
        let mut mac = mac(&self.key);
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(b"\0");
        }
        hex(&mac.finalize().into_bytes())
    }
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a `String` cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The wrong secrets of the last minute: past [`MAX_FAILURES`], sign-in is refused until the
/// oldest leaves the window (for every visitor: the form is the only way in, and one bound
/// for all keeps guessing slow whatever the number of addresses).
#[derive(Debug, Default)]
pub(super) struct SignInLimit {
    failures: Mutex<VecDeque<Instant>>,
}

impl SignInLimit {
    /// Checks a secret with `verify` unless sign-in is refused now, and counts it if it is
    /// wrong, all under one lock: requests sent together cannot get more guesses than the bound
    /// between their checks. `Err` holds how long sign-in stays refused.
    pub(super) fn attempt(&self, verify: impl FnOnce() -> bool) -> Result<bool, Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        while failures
            .front()
            .is_some_and(|&at| now.duration_since(at) >= WINDOW)
        {
            failures.pop_front();
        }
        if failures.len() >= MAX_FAILURES {
            let oldest = failures.front().copied().unwrap_or(now);
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        let right = verify();
        if !right {
            failures.push_back(now);
        }
        Ok(right)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(secret: &str) -> Sessions {
        Sessions::new(&PurgeAuth::new(secret).unwrap())
    }

    #[test]
    fn a_session_is_signed_expires_and_never_holds_the_secret() {
        let keys = sessions("inspector-secret");
        let cookie = keys.open(1_000).unwrap();
        assert!(!cookie.contains("inspector-secret"));
        let session = keys.verify(&cookie, 1_000).unwrap();
        assert!(keys.verify(&cookie, 1_000 + SESSION_SECS - 1).is_some());
        assert!(
            keys.verify(&cookie, 1_000 + SESSION_SECS).is_none(),
            "expired"
        );
        // Another secret's key, a changed expiry or signature, garbage: refused.
        assert!(sessions("another-secret").verify(&cookie, 1_000).is_none());
        let (_, rest) = cookie.split_once('.').unwrap();
        assert!(keys.verify(&format!("99999999.{rest}"), 1_000).is_none());
        assert!(keys.verify(&format!("{cookie}0"), 1_000).is_none());
        for garbage in ["", "a.b", "1.2.3.4", "..", "x.y.z"] {
            assert!(keys.verify(garbage, 1_000).is_none(), "{garbage:?}");
        }
        // Each sign-in is a session of its own, with its own CSRF token.
        let other = keys.verify(&keys.open(1_000).unwrap(), 1_000).unwrap();
        assert_ne!(session, other);
        assert!(keys.csrf_matches(&session, &keys.csrf(&session)));
        assert!(!keys.csrf_matches(&session, &keys.csrf(&other)));
        assert!(!keys.csrf_matches(&session, ""));
    }

    #[tokio::test(start_paused = true)]
    async fn wrong_secrets_past_the_bound_refuse_sign_in_for_the_rest_of_the_minute() {
        let limit = SignInLimit::default();
        for _ in 0..MAX_FAILURES - 1 {
            assert_eq!(limit.attempt(|| false), Ok(false));
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(limit.attempt(|| false), Ok(false));
        // The oldest failure leaves the window 50 s from now; until then even the right secret
        // is not checked.
        let mut checked = false;
        assert_eq!(
            limit.attempt(|| {
                checked = true;
                true
            }),
            Err(Duration::from_secs(50))
        );
        assert!(!checked);
        tokio::time::advance(Duration::from_secs(50)).await;
        assert_eq!(limit.attempt(|| true), Ok(true));
    }
}
