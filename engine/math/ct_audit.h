// Hooks for the constant-time audit (tests/ctgrind): under valgrind memcheck, secrets are marked
// undefined, so any branch or memory index that depends on them is reported. Declassify() marks a
// value as public again where revealing it is harmless by design (a blinded value, a flag that is
// in range by contract); every call says why. Outside valgrind a client request is a few
// instructions that do nothing, so the hooks stay in the production build that the audit runs.
#pragma once

#include <cstddef>

#if __has_include(<valgrind/memcheck.h>)
#define MCX_HAVE_MEMCHECK 1
#include <valgrind/memcheck.h>
#endif

namespace mcx {

inline void Declassify(const void* p, size_t n) {
#if defined(MCX_HAVE_MEMCHECK)
  VALGRIND_MAKE_MEM_DEFINED(p, n);
#else
  (void)p;
  (void)n;
#endif
}

}  // namespace mcx
