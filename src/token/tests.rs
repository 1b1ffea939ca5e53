use std::cell::Cell;

thread_local! {
    static DECRYPT_ATTEMPTS: Cell<u64> = const { Cell::new(0) };
}

/// Called just before every decryption or verification, so that tests can
/// prove that a token under an unknown kid costs no crypto at all.
pub(crate) fn count_decrypt_attempt() {
    DECRYPT_ATTEMPTS.with(|c| c.set(c.get() + 1));
}

pub(crate) fn decrypt_attempts() -> u64 {
    DECRYPT_ATTEMPTS.with(Cell::get)
}
