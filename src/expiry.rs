//! The expiry policy of every store, written once: an idle expiry that
//! slides forward on use, an absolute expiry fixed when the cart is created,
//! and a leeway for clocks that differ between replicas.
//!
//! - `exp` (idle) is `now + idle` at every write (and at every read in the
//!   store modes, as Redis's `GETEX` does), and never passes `abs`.
//! - `abs` (absolute) is `created + absolute` and never moves: it bounds how
//!   long any credential, replayed or not, keeps a cart.
//! - Opening allows `leeway` seconds of clock skew on every bound. A write
//!   inside that leeway after `abs` is refused as expired: it would seal a
//!   credential whose `exp` is before its `iat`, invalid from birth.

/// Why lifetimes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Past the idle or the absolute expiry (beyond the leeway when
    /// opening).
    #[error("expired")]
    Expired,
    /// Issued or valid only in the future, beyond the leeway.
    #[error("not yet valid")]
    NotYetValid,
    /// Lifetimes that no writer produces (`exp` after `abs`, or before
    /// `iat`).
    #[error("inconsistent lifetimes")]
    Inconsistent,
}

/// The lifetimes a credential carries, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// `iat`.
    pub issued_at: i64,
    /// `nbf`: sealed equal to `iat`.
    pub not_before: i64,
    /// `exp`: the idle expiry.
    pub expires_at: i64,
    /// `abs`: the absolute expiry, which `exp` never passes.
    pub absolute_expiry: i64,
}

/// The expiry settings, in seconds, clamped once into `i64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    idle: i64,
    absolute: i64,
    leeway: i64,
    reseal_within: i64,
}

/// Seconds from config (`u64`) as the `i64` of Unix time. Config validation
/// keeps them far below the clamp; the clamp keeps the arithmetic total.
fn secs(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Expiry {
    /// The policy for these lifetimes (`token.idle_ttl_secs` and friends).
    pub fn new(idle_secs: u64, absolute_secs: u64, leeway_secs: u64, reseal_secs: u64) -> Self {
        Self {
            idle: secs(idle_secs).max(1),
            absolute: secs(absolute_secs).max(1),
            leeway: secs(leeway_secs),
            reseal_within: secs(reseal_secs),
        }
    }

    /// The idle lifetime in seconds.
    pub fn idle_secs(&self) -> i64 {
        self.idle
    }

    /// The lifetimes of a credential written at `now` for a cart whose
    /// absolute expiry is `absolute_expiry` (`None` for a new cart, which
    /// starts its absolute lifetime now). A cart past its absolute expiry
    /// cannot be written: [`TimeError::Expired`].
    pub fn on_write(&self, now: i64, absolute_expiry: Option<i64>) -> Result<Lifetimes, TimeError> {
        let abs = absolute_expiry.unwrap_or_else(|| now.saturating_add(self.absolute));
        if abs < now {
            return Err(TimeError::Expired);
        }
        Ok(Lifetimes {
            issued_at: now,
            not_before: now,
            expires_at: self.slide(now, abs),
            absolute_expiry: abs,
        })
    }

    /// The idle expiry of a cart used at `now`: `now + idle`, never past
    /// `absolute_expiry`.
    pub fn slide(&self, now: i64, absolute_expiry: i64) -> i64 {
        now.saturating_add(self.idle).min(absolute_expiry)
    }

    /// Checks a credential's lifetimes at `now`, with the leeway on every
    /// bound. Lifetimes that no writer produces are invalid, not expired.
    pub fn check(&self, t: &Lifetimes, now: i64) -> Result<(), TimeError> {
        if t.expires_at > t.absolute_expiry || t.expires_at < t.issued_at {
            return Err(TimeError::Inconsistent);
        }
        if t.issued_at.max(t.not_before) > now.saturating_add(self.leeway) {
            return Err(TimeError::NotYetValid);
        }
        if now > t.expires_at.saturating_add(self.leeway)
            || now > t.absolute_expiry.saturating_add(self.leeway)
        {
            return Err(TimeError::Expired);
        }
        Ok(())
    }

    /// True when a credential read at `now` should be re-sealed so that an
    /// active reader keeps the cart: it expires within
    /// `token.reseal_within_secs`, and a new one would live longer.
    pub fn near_expiry(&self, t: &Lifetimes, now: i64) -> bool {
        t.expires_at.saturating_sub(now) < self.reseal_within && t.expires_at < t.absolute_expiry
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::NOW;

    fn policy() -> Expiry {
        Expiry::new(7 * 86_400, 30 * 86_400, 60, 86_400)
    }

    #[test]
    fn a_new_cart_starts_both_lifetimes_now() {
        let t = policy().on_write(NOW, None).unwrap();
        assert_eq!(t.issued_at, NOW);
        assert_eq!(t.expires_at, NOW + 7 * 86_400);
        assert_eq!(t.absolute_expiry, NOW + 30 * 86_400);
        assert_eq!(policy().check(&t, NOW), Ok(()));
    }

    #[test]
    fn the_idle_expiry_never_passes_the_absolute_one() {
        let abs = NOW + 100;
        let t = policy().on_write(NOW, Some(abs)).unwrap();
        assert_eq!((t.expires_at, t.absolute_expiry), (abs, abs));
        assert_eq!(policy().slide(NOW, abs), abs);
    }

    #[test]
    fn a_write_at_the_absolute_expiry_is_allowed_and_one_second_after_is_expired() {
        let abs = NOW;
        let at = policy().on_write(abs, Some(abs)).unwrap();
        assert_eq!(policy().check(&at, abs), Ok(()), "born valid");
        // Inside the leeway a read still opens, but a write would seal a
        // credential whose exp is before its iat.
        assert_eq!(
            policy().on_write(abs + 1, Some(abs)),
            Err(TimeError::Expired)
        );
        assert_eq!(
            policy().on_write(abs + 30, Some(abs)),
            Err(TimeError::Expired)
        );
    }

    #[test]
    fn the_leeway_applies_to_every_bound() {
        let t = policy().on_write(NOW, None).unwrap();
        let p = policy();
        assert_eq!(p.check(&t, t.expires_at + 60), Ok(()));
        assert_eq!(p.check(&t, t.expires_at + 61), Err(TimeError::Expired));
        assert_eq!(p.check(&t, NOW - 60), Ok(()));
        assert_eq!(p.check(&t, NOW - 61), Err(TimeError::NotYetValid));
    }
}
