// CoreCount: how many threads this machine runs at once, never less than 1.
// std::thread::hardware_concurrency() may answer 0 when it cannot tell; every caller here sizes a
// thread pool or divides by the count, so an unknown count is taken as one core.
#pragma once

namespace mcx {

int CoreCount();

}  // namespace mcx
