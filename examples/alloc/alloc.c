// alloc: allocates memory and touches every page of it; used to exercise
// the platform's memory limits.
//
// Input:  one whole number n, 0 <= n <= 4000: how many MiB to allocate.
// Output: "allocated <n> MiB, touched <pages> pages" (4 KiB pages).
// Failure: if the allocation is refused (a wasm memory limit), a message on
//          stderr and exit code 1. A container over its memory limit is
//          killed by the kernel instead, when the pages are touched.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "nebula_fn.h"

static const char kName[] = "alloc";
static const char kUsage[] =
    "send one whole number n with 0 <= n <= 4000, the MiB to allocate, e.g. \"64\"";

// 4000 MiB still fits a 32-bit size_t (wasm32) and a 4 GiB linear memory.
enum { kMaxMiB = 4000 };

enum { kPageSize = 4096 };

int main(void) {
  int64_t mib = 0;
  int rc = nebula_fn_read_int(kName, kUsage, "n", 0, kMaxMiB, &mib);
  if (rc != 0) return rc;

  size_t size = (size_t)mib * 1024 * 1024;
  size_t pages = size / kPageSize;
  fprintf(stderr, "%s: allocating %lld MiB\n", kName, (long long)mib);
  // volatile: the writes must really reach memory, or the compiler could
  // drop the whole allocation as unused.
  volatile unsigned char* block = malloc(size == 0 ? 1 : size);
  if (block == NULL) {
    fprintf(stderr, "%s: out of memory: cannot allocate %lld MiB\n", kName, (long long)mib);
    return 1;
  }
  for (size_t p = 0; p < pages; ++p) block[p * kPageSize] = (unsigned char)(p | 1);
  // Read every page back so that a lost write would be noticed.
  size_t touched = 0;
  for (size_t p = 0; p < pages; ++p) touched += block[p * kPageSize] == (unsigned char)(p | 1);
  free((void*)block);
  if (touched != pages) {
    fprintf(stderr, "%s: memory check failed: %zu of %zu pages read back wrong\n", kName,
            pages - touched, pages);
    return 1;
  }
  printf("allocated %lld MiB, touched %zu pages\n", (long long)mib, touched);
  return nebula_fn_flush_stdout();
}
