// IdentityReader: streams user identities out of an operator's population file.
//
// Two formats: one URI per line (blank lines and lines starting with '#' are ignored), or CSV
// with a header row naming the URI column (chosen by name, or the first of uri, user_uri,
// mcptt_id, mc_id, identity). A file is CSV when its name ends in .csv or its first data line
// holds a comma. Lines are read one at a time, so memory does not grow with the file; the only
// state that does is a 12-octet entry per distinct identity, to report duplicates.
//
// Bad lines do not stop the read: a malformed URI, a duplicate, an over-long line, a CSV row
// without the URI column are handed to the BadLineSink with their line numbers and skipped.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "base/status.h"
#include "engine/bulk/identity_source.h"

namespace mcx {

struct IdentityReaderOptions {
  std::string uri_column;          // CSV: the header of the URI column; empty picks a known name
  size_t max_line_bytes = 4096;    // longer lines are reported and skipped
};

// Called for each skipped line: its number and why (no secret ever goes here).
using BadLineSink = std::function<void(uint64_t line, const std::string& reason)>;

class IdentityReader final : public IdentitySource {
 public:
  static Result<std::unique_ptr<IdentityReader>> Open(const std::filesystem::path& path,
                                                      const IdentityReaderOptions& options, BadLineSink sink);
  ~IdentityReader() override;

  // The next valid identity, or nullopt at the end of the file.
  Result<std::optional<Identity>> Next() override;

  uint64_t lines_read() const { return line_no_; }
  uint64_t skipped() const override { return skipped_; }
  // Lines in the file, counted once at open; for progress estimates only.
  uint64_t total_lines() const { return total_lines_; }
  bool is_csv() const { return csv_; }

 private:
  IdentityReader() = default;
  // Reads one physical line into `line`; false at EOF. Over-long lines are consumed and flagged.
  Result<bool> ReadLine(std::string& line, bool& too_long);
  Status ReadHeader(const std::string& header);
  void Skip(uint64_t line, const std::string& reason);

  std::FILE* file_ = nullptr;
  std::filesystem::path path_;
  IdentityReaderOptions options_;
  BadLineSink sink_;
  bool csv_ = false;
  bool header_done_ = false;
  size_t uri_field_ = 0;
  std::optional<std::string> pending_;  // the first data line, read while sniffing the format
  uint64_t pending_line_ = 0;
  uint64_t line_no_ = 0;
  uint64_t skipped_ = 0;
  uint64_t total_lines_ = 0;
  std::unordered_map<uint64_t, uint32_t> seen_;  // hash of an identity -> its first line
};

// Splits one CSV row (RFC 4180 quoting, no embedded line breaks). Fails on an unterminated quote.
Result<std::vector<std::string>> SplitCsvRow(const std::string& row);

}  // namespace mcx
