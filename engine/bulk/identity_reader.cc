#include "engine/bulk/identity_reader.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "engine/keys/community_parameters.h"

namespace mcx {
namespace {

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return s.substr(b, e - b);
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool IsIgnorable(const std::string& trimmed) { return trimmed.empty() || trimmed[0] == '#'; }

uint64_t CountLines(std::FILE* f) {
  char buf[1 << 16];
  uint64_t n = 0;
  size_t got;
  bool last_newline = true;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) {
    n += static_cast<uint64_t>(std::count(buf, buf + got, '\n'));
    last_newline = buf[got - 1] == '\n';
  }
  if (!last_newline) ++n;
  std::rewind(f);
  return n;
}

}  // namespace

Result<std::vector<std::string>> SplitCsvRow(const std::string& row) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < row.size(); ++i) {
    char c = row[i];
    if (quoted) {
      if (c == '"' && i + 1 < row.size() && row[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  if (quoted) return Status::InvalidArgument("unterminated quote in a CSV row");
  for (auto& f : fields) f = Trim(f);
  return fields;
}

Result<std::unique_ptr<IdentityReader>> IdentityReader::Open(const std::filesystem::path& path,
                                                             const IdentityReaderOptions& options, BadLineSink sink) {
  std::unique_ptr<IdentityReader> r(new IdentityReader());
  r->path_ = path;
  r->options_ = options;
  r->sink_ = std::move(sink);
  r->file_ = std::fopen(path.c_str(), "rb");
  if (r->file_ == nullptr) {
    return Status::NotFound("cannot open the users file " + path.string() + ": " + std::strerror(errno));
  }
  r->total_lines_ = CountLines(r->file_);

  // Sniff the format from the name and the first data line.
  bool by_name = Lower(path.extension().string()) == ".csv";
  std::string line;
  bool too_long = false;
  while (true) {
    Result<bool> got = r->ReadLine(line, too_long);
    if (!got.ok()) return got.status();
    if (!*got) break;
    if (too_long) {
      r->Skip(r->line_no_, "line longer than " + std::to_string(options.max_line_bytes) + " octets");
      continue;
    }
    std::string t = Trim(line);
    if (IsIgnorable(t)) continue;
    r->csv_ = by_name || t.find(',') != std::string::npos;
    if (r->csv_) {
      MCX_RETURN_IF_ERROR(r->ReadHeader(t));
    } else {
      r->pending_ = t;
      r->pending_line_ = r->line_no_;
    }
    break;
  }
  r->header_done_ = true;
  return r;
}

IdentityReader::~IdentityReader() {
  if (file_) std::fclose(file_);
}

Status IdentityReader::ReadHeader(const std::string& header) {
  Result<std::vector<std::string>> cols = SplitCsvRow(header);
  if (!cols.ok()) return cols.status().Annotate(path_.string() + " line " + std::to_string(line_no_));
  std::vector<std::string> wanted;
  if (!options_.uri_column.empty()) {
    wanted.push_back(Lower(options_.uri_column));
  } else {
    wanted = {"uri", "user_uri", "mcptt_id", "mc_id", "identity"};
  }
  for (const std::string& w : wanted) {
    for (size_t i = 0; i < cols->size(); ++i) {
      if (Lower((*cols)[i]) == w) {
        uri_field_ = i;
        return Status::Ok();
      }
    }
  }
  std::string names;
  for (const auto& w : wanted) names += (names.empty() ? "" : ", ") + w;
  return Status::InvalidArgument(path_.string() + " is CSV, but its header (line " + std::to_string(line_no_) +
                                 ") has no column named " + names +
                                 ": name the URI column with --uri-column, or use one URI per line");
}

Result<bool> IdentityReader::ReadLine(std::string& line, bool& too_long) {
  line.clear();
  too_long = false;
  int c;
  bool any = false;
  while ((c = getc_unlocked(file_)) != EOF) {  // one reader thread owns the file
    any = true;
    if (c == '\n') break;
    if (line.size() < options_.max_line_bytes + 1) {
      line.push_back(static_cast<char>(c));
    } else {
      too_long = true;
    }
  }
  if (std::ferror(file_)) {
    return Status::Unavailable("reading " + path_.string() + " failed at line " + std::to_string(line_no_ + 1) +
                               ": " + std::strerror(errno));
  }
  if (!any) return false;
  ++line_no_;
  if (line.size() > options_.max_line_bytes) too_long = true;
  return true;
}

void IdentityReader::Skip(uint64_t line, const std::string& reason) {
  ++skipped_;
  if (sink_) sink_(line, reason);
}

Result<std::optional<Identity>> IdentityReader::Next() {
  std::string line;
  while (true) {
    uint64_t at;
    if (pending_) {
      line = std::move(*pending_);
      pending_.reset();
      at = pending_line_;
    } else {
      bool too_long = false;
      Result<bool> got = ReadLine(line, too_long);
      if (!got.ok()) return got.status();
      if (!*got) return std::optional<Identity>();
      at = line_no_;
      if (too_long) {
        Skip(at, "line longer than " + std::to_string(options_.max_line_bytes) + " octets");
        continue;
      }
    }
    std::string uri = Trim(line);
    if (IsIgnorable(uri)) continue;
    if (csv_) {
      Result<std::vector<std::string>> fields = SplitCsvRow(uri);
      if (!fields.ok()) {
        Skip(at, fields.status().message());
        continue;
      }
      if (fields->size() <= uri_field_) {
        Skip(at, "CSV row has no URI column (" + std::to_string(fields->size()) + " fields)");
        continue;
      }
      uri = (*fields)[uri_field_];
    }
    if (Status st = ValidateUserUri(uri); !st.ok()) {
      Skip(at, st.message());
      continue;
    }
    const uint64_t h = std::hash<std::string_view>()(uri);
    auto [it, inserted] = seen_.emplace(h, static_cast<uint32_t>(at));
    if (!inserted) {
      Skip(at, "duplicate of line " + std::to_string(it->second));
      continue;
    }
    return std::optional<Identity>(Identity{std::move(uri), at});
  }
}

}  // namespace mcx
