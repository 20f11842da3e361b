//! The process's memory, as the allocator sees it.
//!
//! wordgate allocates in two very different patterns: requests make small,
//! short-lived allocations, and a dictionary build makes tens of megabytes of
//! scratch at once and frees it. The second is what this module is for.

/// Returns memory the allocator holds but no longer uses to the system.
///
/// glibc's malloc keeps freed memory in its arenas (here, the arena of the
/// blocking thread that built or dropped an engine) and only trims the top
/// of the main heap by itself, so without this the process would stay at
/// its reload peak for good: with 100k entries, 110 MiB resident after a
/// reload instead of 50 (BENCHMARKS.md). `malloc_trim` walks every arena.
/// Other allocators return memory on their own.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim takes no pointers and is thread-safe; it only
        // returns free pages of malloc's own arenas to the kernel.
        unsafe {
            malloc_trim(0);
        }
    }
}
