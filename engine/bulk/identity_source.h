// IdentitySource: where the provisioning pipeline reads its population from, one identity at a
// time: an operator's file (IdentityReader) or a list already in memory (IdentityList: a chunk
// of a provisioning job, whose identities were checked when the job was made).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace mcx {

struct Identity {
  std::string uri;
  uint64_t line = 0;  // 1-based line number in the file (for a list: position in the population)
};

class IdentitySource {
 public:
  virtual ~IdentitySource() = default;
  // The next valid identity, or nullopt at the end.
  virtual Result<std::optional<Identity>> Next() = 0;
  // Lines skipped as invalid so far.
  virtual uint64_t skipped() const { return 0; }
};

// The identities of a vector, in order, numbered from `first_position`.
class IdentityList final : public IdentitySource {
 public:
  IdentityList(std::vector<std::string> uris, uint64_t first_position)
      : uris_(std::move(uris)), first_(first_position) {}

  Result<std::optional<Identity>> Next() override {
    if (next_ == uris_.size()) return std::optional<Identity>();
    Identity id{std::move(uris_[next_]), first_ + next_};
    ++next_;
    return std::optional<Identity>(std::move(id));
  }

 private:
  std::vector<std::string> uris_;
  uint64_t first_;
  size_t next_ = 0;
};

}  // namespace mcx
