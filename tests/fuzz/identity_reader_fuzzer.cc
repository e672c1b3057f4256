// libFuzzer target: the operator's population file (engine/bulk IdentityReader), read to the
// end. The first byte picks the format by file name (even: users.csv, odd: users.txt; a .txt
// file is still CSV when its first data line holds a comma) and, CSV only, whether the URI
// column is named ("uri") or found by the known names. Lines are capped at 256 octets so that
// over-long lines are seen too.
// Beyond "no crash": every identity returned is non-empty and its line number only grows.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "engine/bulk/identity_reader.h"
#include "tests/fuzz/scratch_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mcx::fuzz::ScratchFile csv("users.csv");
  static mcx::fuzz::ScratchFile plain("users.txt");
  if (size == 0) return 0;
  const mcx::fuzz::ScratchFile& file = (data[0] & 1) == 0 ? csv : plain;
  file.Write(data + 1, size - 1);
  mcx::IdentityReaderOptions options;
  options.max_line_bytes = 256;
  if ((data[0] & 2) != 0) options.uri_column = "uri";
  auto reader = mcx::IdentityReader::Open(file.path(), options, [](uint64_t, const std::string&) {});
  if (!reader.ok()) return 0;
  uint64_t last_line = 0;
  for (int i = 0; i < 100000; ++i) {
    mcx::Result<std::optional<mcx::Identity>> id = (*reader)->Next();
    if (!id.ok() || !id->has_value()) break;
    if ((*id)->uri.empty() || (*id)->line <= last_line) std::abort();
    last_line = (*id)->line;
  }
  return 0;
}
