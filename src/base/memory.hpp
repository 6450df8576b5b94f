#pragma once

#include <cstdint>

namespace nebula::base {

// What release_idle_memory() handed back.
struct ReleasedMemory {
  std::uint64_t code_bytes = 0;  // this executable's read-only mappings advised out
  bool heap_trimmed = false;
};

// For a process that has gone idle: returns malloc's free pages to the
// kernel, and asks the kernel to reclaim the resident pages of this
// executable's read-only file mappings (its code and constants, MADV_PAGEOUT),
// which the work done so far — compiling, starting up — faulted in and
// nothing would otherwise give back. They are clean copies of the file: the
// next use faults them in again from the page cache or the disk, a cost
// paid once by the first request after the rest. Safe to call from any
// thread at any time; a kernel without MADV_PAGEOUT (before Linux 5.4)
// skips that part.
ReleasedMemory release_idle_memory() noexcept;

}  // namespace nebula::base
