//! Asking the memory for bytes before a kernel reads them. The weights of a file's memory map lie
//! in 4 KiB pages placed anywhere, and the processor's own prefetching stops at every page
//! boundary, so a decoding step, which streams through every matrix once, would otherwise wait on
//! each new page.

/// Asks the memory for the `len` bytes from `at` into the nearest cache, a line at a time. A
/// prefetch never faults, so `at` may point anywhere, past the end of a buffer included.
#[inline(always)]
pub fn prefetch(at: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    for line in (0..len).step_by(64) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch never faults, wherever it points; SSE is part of x86_64.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(line) as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (at, len);
}
