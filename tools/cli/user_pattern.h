// UserPattern: the users' URIs of `bench http --user-pattern`, one per number. The pattern is the
// operator's text, so it is never handed to printf: it is checked once, when the command line is
// parsed, and expanded here. It holds exactly one integer placeholder, in one of the printf forms
// %d, %u, %Nd, %Nu, %0Nd or %0Nu (N a width from 1 to 20: spaces, or zeros, in front), and may
// write a literal percent sign as %%. Anything else with a '%' is refused.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace mcx::cli {

class UserPattern {
 public:
  // InvalidArgument naming `flag` (if not empty) and the accepted forms when `pattern` is not of them.
  static Result<UserPattern> Parse(std::string_view pattern, std::string_view flag = "--user-pattern");

  // The URI of user n (n >= 0), e.g. "sip:user00042@example.org" from sip:user%05d@example.org.
  std::string Expand(unsigned n) const;

 private:
  std::string before_, after_;  // the literal text around the placeholder, %% already resolved
  int width_ = 0;
  bool zero_pad_ = false;
};

}  // namespace mcx::cli
