#include "engine/math/ifma52.h"

namespace mcx::ifma52 {

bool CpuHasIfma() {
#if defined(MCX_HAVE_IFMA52)
  static const bool available = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
  }();
  return available;
#else
  return false;
#endif
}

}  // namespace mcx::ifma52
