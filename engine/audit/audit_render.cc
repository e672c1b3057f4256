#include "engine/audit/audit_render.h"

#include <cstdio>
#include <ctime>

#include "engine/audit/audit_event.h"

namespace mcx {

std::string FormatAuditTime(int64_t unix_seconds) {
  const time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_seconds);
  char buf[64];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) return std::to_string(unix_seconds);
  return buf;
}

Result<int64_t> ParseAuditTime(std::string_view text) {
  const Status bad = Status::InvalidArgument(
      "a date is YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC) or Unix seconds, got '" + std::string(text) + "'");
  if (text.empty()) return bad;
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    if (text.size() > 18) return bad;
    return static_cast<int64_t>(std::stoll(std::string(text)));
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  const std::string t(text);
  char sep = 0, zone = 0;
  int used = 0;
  if (t.size() == 10) {
    if (std::sscanf(t.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10) return bad;
  } else {
    const int n = std::sscanf(t.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%c", &y, &mo, &d, &sep, &h, &mi, &s, &zone);
    const size_t length = n == 8 ? 20u : 19u;
    if ((n != 7 && n != 8) || (sep != 'T' && sep != ' ') || (n == 8 && zone != 'Z') || t.size() != length) {
      return bad;
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return bad;
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm));
}

std::string RenderAuditRecord(const AuditRecord& r, std::string_view only_user) {
  std::string line = FormatAuditTime(r.time) + "  " + r.node + "#" + std::to_string(r.seq) + "  " + r.kind;
  const std::vector<ListedKeySets> listed = ListKeySets(r.user_uri, r.detail);
  const bool batch = r.user_uri.empty() && !listed.empty();
  if (!r.user_uri.empty()) line += "  user " + r.user_uri;
  if (!batch) {
    if (!r.detail.empty()) {
      std::string detail = r.detail;
      for (char& c : detail) {
        if (c == '\n') c = ' ';
      }
      line += "  " + detail;
    }
  } else {
    line += "  batch of " + std::to_string(listed.size()) + " user(s)";
  }
  if (!r.cert_uri.empty()) line += "  cert " + r.cert_uri;
  line += "  by " + (r.actor.empty() ? std::string("?") : r.actor) + "\n";
  if (batch) {
    for (const ListedKeySets& l : listed) {
      if (!only_user.empty() && l.user_uri != only_user) continue;
      line += "    user " + l.user_uri + "  periods " + l.periods + "\n";
    }
  }
  return line;
}

}  // namespace mcx
