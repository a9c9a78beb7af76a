//! The global allocator: mimalloc, called the way its fast paths expect.
//!
//! The `mimalloc` crate hands every allocation to `mi_malloc_aligned`, whatever the alignment.
//! In mimalloc 3 that call takes its fast path only while the size class's page has a free
//! block on its allocation list; when the list runs dry it falls back to an over-allocation
//! from a larger size class — which never refills the first one's list (only a plain
//! `mi_malloc` collects the blocks freed since) — so from then on every allocation of a size
//! that is not a power of two went the slow way: about 150 instructions instead of 20 (counted
//! with callgrind on a mapped route, `perf/2026-12-02-nonproxy-backends.md`). Every mimalloc
//! block is word-aligned, so a layout aligned to a word or less takes the plain calls, as Rust's
//! `System` allocator does with `malloc`; a larger alignment keeps the aligned ones.
//!
//! Owns: the `GlobalAlloc` implementation. Must not: keep state. Costs: one compare per call.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment every mimalloc block has: a machine word.
const WORD: usize = std::mem::size_of::<usize>();

/// mimalloc behind Rust's allocator interface (`#[global_allocator]` in `main`).
pub struct Allocator;

fn plain(layout: &Layout) -> bool {
    layout.align() <= WORD
}

// SAFETY: every pointer handed out comes from mimalloc with at least `layout.align()`
// alignment (blocks are word-aligned; larger alignments use the aligned calls) and `size`
// bytes; `dealloc` and `realloc` get only pointers this allocator returned, which `mi_free`
// and `mi_realloc*` accept whichever call made them.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain FFI calls; mimalloc returns null on failure, as `alloc` must.
        unsafe {
            if plain(&layout) {
                mi::mi_malloc(layout.size()) as *mut u8
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        unsafe {
            if plain(&layout) {
                mi::mi_zalloc(layout.size()) as *mut u8
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (GlobalAlloc's contract).
        unsafe { mi::mi_free(ptr as *mut c_void) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`; the new block keeps its
        // alignment (plain: any block is word-aligned; else asked for).
        unsafe {
            if plain(&layout) {
                mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
            } else {
                mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_the_alignment_and_the_bytes_asked_for() {
        let a = Allocator;
        for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096] {
            for size in [1, 3, 7, 8, 13, 24, 40, 48, 100, 1000, 1025, 5120, 70_000] {
                let layout = Layout::from_size_align(size, align).expect("a valid layout");
                // SAFETY: a non-zero size; the block is written within `size`, then freed once.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null() && (p as usize).is_multiple_of(align), "{size} bytes aligned {align}");
                    p.write_bytes(0xa5, size);
                    let z = a.alloc_zeroed(layout);
                    assert!((z as usize).is_multiple_of(align) && (0..size).all(|i| *z.add(i) == 0));
                    let grown = a.realloc(p, layout, size * 3);
                    assert!((grown as usize).is_multiple_of(align), "{size} bytes grown, aligned {align}");
                    assert!((0..size).all(|i| *grown.add(i) == 0xa5), "the bytes survive realloc");
                    a.dealloc(grown, Layout::from_size_align(size * 3, align).expect("valid"));
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
