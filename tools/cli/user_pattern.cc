#include "tools/cli/user_pattern.h"

#include <fmt/format.h>

namespace mcx::cli {

Result<UserPattern> UserPattern::Parse(std::string_view pattern, std::string_view flag) {
  auto refuse = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format(
        "{}{}'{}' {}: it must hold exactly one integer placeholder, %d, %u, %5d or %05d (a width up to 20), "
        "and %% for a literal percent sign, e.g. sip:user%05d@example.org",
        flag, flag.empty() ? "" : " ", pattern, why));
  };
  UserPattern out;
  bool placed = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    std::string& text = placed ? out.after_ : out.before_;
    if (pattern[i] != '%') {
      text += pattern[i];
      continue;
    }
    if (i + 1 < pattern.size() && pattern[i + 1] == '%') {
      text += '%';
      ++i;
      continue;
    }
    size_t j = i + 1;
    const bool zero_pad = j < pattern.size() && pattern[j] == '0';
    if (zero_pad) ++j;
    int width = 0;
    while (j < pattern.size() && pattern[j] >= '0' && pattern[j] <= '9' && width <= 20) {
      width = width * 10 + (pattern[j] - '0');
      ++j;
    }
    if (width > 20) return refuse("has a width over 20");
    if (zero_pad && width == 0) return refuse("has a 0 flag without a width");
    if (j == pattern.size() || (pattern[j] != 'd' && pattern[j] != 'u')) {
      return refuse("has a placeholder that is not %d or %u");
    }
    if (placed) return refuse("has more than one placeholder");
    out.width_ = width;
    out.zero_pad_ = zero_pad;
    placed = true;
    i = j;
  }
  if (!placed) return refuse("has no placeholder, so every user would be the same");
  return out;
}

std::string UserPattern::Expand(unsigned n) const {
  // The format strings here are ours; the operator's text is only ever an argument.
  const std::string number = zero_pad_ ? fmt::format("{:0{}}", n, width_) : fmt::format("{:>{}}", n, width_);
  return before_ + number + after_;
}

}  // namespace mcx::cli
