#include "base/cpu_count.h"

#include <algorithm>
#include <thread>

namespace mcx {

int CoreCount() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

}  // namespace mcx
