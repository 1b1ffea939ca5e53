//! Raw deflate with per-thread state, and inflation under a cap.
//!
//! A fresh level-6 compressor costs two to three times a reused one, and its
//! large buffers made glibc map and unmap memory on every request. Each
//! thread (actix runs one per worker) therefore keeps one `Compress` and one
//! `Decompress` and resets them between uses.

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::Oversize;
use crate::cart::Limits;

thread_local! {
    static DEFLATER: RefCell<Option<(u32, Compress)>> = const { RefCell::new(None) };
    static INFLATER: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// Why inflation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
    /// The output would pass the cap (a deflate bomb, or a cart too large).
    TooLarge,
    /// Not a complete raw deflate stream, or bytes after its end.
    Malformed,
}

/// Compresses `input` as raw deflate (no zlib or gzip header: the token's
/// MAC already gives integrity) at `level` (0..=9).
pub fn deflate(input: &[u8], level: u32) -> Vec<u8> {
    DEFLATER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let compress = match &mut *slot {
            Some((l, c)) if *l == level => {
                c.reset();
                c
            }
            _ => {
                &mut slot
                    .insert((level, Compress::new(Compression::new(level), false)))
                    .1
            }
        };
        let mut out = Vec::with_capacity(input.len() / 2 + 64);
        loop {
            let consumed = usize::try_from(compress.total_in()).unwrap_or(usize::MAX);
            let status = compress
                .compress_vec(
                    &input[consumed.min(input.len())..],
                    &mut out,
                    FlushCompress::Finish,
                )
                .expect("deflate of an in-memory buffer cannot fail");
            if status == Status::StreamEnd {
                return out;
            }
            out.reserve(out.capacity().max(64));
        }
    })
}

/// Carts of less compact JSON than this deflate at level 1 (or 0, when the
/// configured level is 0), whatever the configured level: measured on
/// realistic carts (`cargo bench --bench codec -- --levels`,
/// docs/benchmarks.md, "Deflate level"), every level above 1 costs a fixed
/// reset of the compressor's tables worth several microseconds, which a
/// small cart does not repay, while on a 100-line cart level 6 halves the
/// token.
pub const FAST_DEFLATE_BELOW: usize = 2048;

/// Deflates a cart's compact JSON for a token or a store value, at `level`
/// (at most level 1 below [`FAST_DEFLATE_BELOW`] bytes), refusing a cart
/// that [`inflate_capped`] would then refuse to open under `limits`: a cart
/// is never saved in a form it cannot be read back from.
pub fn pack(json: &[u8], level: u32, limits: &Limits) -> Result<Vec<u8>, Oversize> {
    let level = if json.len() < FAST_DEFLATE_BELOW {
        level.min(1)
    } else {
        level
    };
    let packed = deflate(json, level);
    let cap = limits.inflate_cap(packed.len());
    if json.len() > cap {
        return Err(Oversize::Inflated {
            length: json.len(),
            cap,
        });
    }
    Ok(packed)
}

/// Inflates raw deflate `input`, refusing to produce more than
/// [`Limits::inflate_cap`] bytes. Memory use is bounded by that cap, whatever
/// the input claims.
pub fn inflate_capped(input: &[u8], limits: &Limits) -> Result<Vec<u8>, InflateError> {
    let cap = limits.inflate_cap(input.len());
    INFLATER.with(|cell| {
        let mut inflater = cell.borrow_mut();
        inflater.reset(false);
        // One byte of slack tells "exactly at the cap" from "past it".
        let mut out = Vec::with_capacity(
            cap.saturating_add(1)
                .min(input.len().saturating_mul(4).max(1024)),
        );
        loop {
            let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
            let before = (consumed, out.len());
            let status = inflater
                .decompress_vec(
                    &input[consumed.min(input.len())..],
                    &mut out,
                    FlushDecompress::Finish,
                )
                .map_err(|_| InflateError::Malformed)?;
            if out.len() > cap {
                return Err(InflateError::TooLarge);
            }
            match status {
                Status::StreamEnd => {
                    let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
                    return if consumed == input.len() {
                        Ok(out)
                    } else {
                        Err(InflateError::Malformed)
                    };
                }
                _ if out.len() == out.capacity() => {
                    // Room ran out: grow, but never past the cap + 1.
                    let room = (cap + 1).saturating_sub(out.len());
                    if room == 0 {
                        return Err(InflateError::TooLarge);
                    }
                    out.reserve_exact(room.min(out.capacity().max(1024)));
                }
                _ => {
                    let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
                    if (consumed, out.len()) == before || consumed >= input.len() {
                        // No progress with input left, or input used up
                        // before the end of the stream: truncated.
                        return Err(InflateError::Malformed);
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(max_out: usize, max_ratio: usize) -> Limits {
        Limits {
            max_inflated_bytes: max_out,
            max_inflate_ratio: max_ratio,
            ..Limits::default()
        }
    }

    #[test]
    fn round_trips_and_reuses_state() {
        for level in [1, 6, 6, 9] {
            let data = b"[[\"TEE-100\",2,{\"size\":\"M\"}],[\"MUG-104\",1]]".repeat(20);
            let packed = deflate(&data, level);
            assert!(packed.len() < data.len());
            assert_eq!(inflate_capped(&packed, &caps(65536, 200)).unwrap(), data);
        }
    }

    #[test]
    fn a_bomb_stops_at_the_cap() {
        let bomb = deflate(&vec![b'a'; 100 * 1024 * 1024], 9);
        assert!(bomb.len() < 200 * 1024, "100 MB of one byte deflates small");
        assert_eq!(
            inflate_capped(&bomb, &caps(64 * 1024, usize::MAX)),
            Err(InflateError::TooLarge)
        );
        assert_eq!(
            inflate_capped(&bomb, &caps(usize::MAX, 200)),
            Err(InflateError::TooLarge)
        );
    }

    #[test]
    fn exactly_at_the_cap_is_accepted_and_one_past_is_not() {
        let data = vec![b'x'; 4096];
        let packed = deflate(&data, 6);
        assert_eq!(
            inflate_capped(&packed, &caps(4096, usize::MAX))
                .unwrap()
                .len(),
            4096
        );
        assert_eq!(
            inflate_capped(&packed, &caps(4095, usize::MAX)),
            Err(InflateError::TooLarge)
        );
    }

    #[test]
    fn pack_refuses_what_inflate_would_refuse_and_nothing_else() {
        let data = vec![b'x'; 4096];
        let limits = caps(4096, usize::MAX);
        let packed = pack(&data, 6, &limits).expect("exactly at the cap");
        assert_eq!(inflate_capped(&packed, &limits).unwrap(), data);
        assert_eq!(
            pack(&data, 6, &caps(4095, usize::MAX)),
            Err(Oversize::Inflated {
                length: 4096,
                cap: 4095
            })
        );
        // The ratio cap: 4 KiB of one byte deflates to a few bytes.
        let ratio = caps(65536, 20);
        assert!(matches!(
            pack(&data, 6, &ratio),
            Err(Oversize::Inflated { length: 4096, .. })
        ));
        assert!(inflate_capped(&deflate(&data, 6), &ratio).is_err());
    }

    #[test]
    fn truncated_and_trailing_garbage_are_malformed() {
        let data = b"some cart bytes that are long enough to matter, some cart bytes".to_vec();
        let packed = deflate(&data, 6);
        assert_eq!(
            inflate_capped(&packed[..packed.len() - 3], &caps(65536, 200)),
            Err(InflateError::Malformed)
        );
        let mut trailing = packed.clone();
        trailing.extend_from_slice(b"garbage");
        assert_eq!(
            inflate_capped(&trailing, &caps(65536, 200)),
            Err(InflateError::Malformed)
        );
        assert_eq!(
            inflate_capped(b"\xff\xff\xff\xff", &caps(65536, 200)),
            Err(InflateError::Malformed)
        );
        assert_eq!(
            inflate_capped(b"", &caps(65536, 200)),
            Err(InflateError::Malformed)
        );
    }
}
