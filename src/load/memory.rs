//! Process-wide memory settings for a small, flat footprint.

/// Turns transparent huge pages off for this process. With THP in `madvise` mode the allocator's
/// arenas are marked for huge pages, so the first byte touched in each 2 MiB region commits (and
/// zeroes) all of it: a one-request run sat at ~26 MiB RSS, 16 MiB of it in 8 huge pages, and
/// zeroing them was a quarter of a short run's CPU time. With 4 KiB pages the same run is ~13 MiB.
/// Nothing on the hot path benefits measurably from huge pages (the working set is a few buffers
/// per connection and the histograms).
pub fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_THP_DISABLE only sets a flag on the calling process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong);
    }
}
