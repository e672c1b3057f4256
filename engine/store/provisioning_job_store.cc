#include "engine/store/provisioning_job_store.h"

namespace mcx {

ChunkState ChunkStateNamed(const std::string& name) {
  if (name == "leased") return ChunkState::kLeased;
  if (name == "done") return ChunkState::kDone;
  return ChunkState::kPending;
}

std::vector<std::string> SplitChunkUsers(const std::string& lines) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < lines.size()) {
    size_t end = lines.find('\n', start);
    if (end == std::string::npos) end = lines.size();
    out.emplace_back(lines, start, end - start);
    start = end + 1;
  }
  return out;
}

}  // namespace mcx
