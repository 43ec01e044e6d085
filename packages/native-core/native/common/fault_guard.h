// Reads from a mapped file raise SIGBUS when the file shrinks underneath the mapping (a guest RAM
// file truncated or replaced while mapped). These helpers run a copy so that such a fault becomes a
// `false` return on the faulting thread instead of killing the process.
#pragma once

#include <cstddef>

namespace vmi {

// Runs fn(context) with SIGBUS on this thread turned into an early return of false. fn must not
// allocate, lock or own resources that a jump out of it would leak; an exception it throws disarms
// the guard and propagates.
bool RunFaultGuarded(void (*fn)(void*), void* context);

// memcpy that returns false instead of dying if the source mapping faults.
bool GuardedMemcpy(void* dst, const void* src, size_t length);

// memcmp (equality only) with the same protection; sets *equal.
bool GuardedEquals(const void* a, const void* b, size_t length, bool* equal);

}  // namespace vmi
