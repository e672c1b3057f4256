// UserPattern: the accepted forms of --user-pattern expand as printf would have, and every other
// use of '%' is refused with the flag and the accepted forms named.
#include <gtest/gtest.h>

#include "tools/cli/user_pattern.h"

namespace mcx::cli {
namespace {

std::string Expand(std::string_view pattern, unsigned n) {
  Result<UserPattern> p = UserPattern::Parse(pattern);
  EXPECT_TRUE(p.ok()) << pattern << ": " << p.status().ToString();
  return p.ok() ? p->Expand(n) : "";
}

TEST(UserPatternTest, AcceptedForms) {
  EXPECT_EQ(Expand("sip:user%05d@example.org", 42), "sip:user00042@example.org");
  EXPECT_EQ(Expand("sip:user%d@example.org", 42), "sip:user42@example.org");
  EXPECT_EQ(Expand("sip:user%u@example.org", 7), "sip:user7@example.org");
  EXPECT_EQ(Expand("tel:+%4d", 7), "tel:+   7");
  EXPECT_EQ(Expand("tel:+%4u", 12345), "tel:+12345");  // a width is a minimum, as in printf
  EXPECT_EQ(Expand("%d", 0), "0");
  EXPECT_EQ(Expand("sip:a%%40%03d@b", 9), "sip:a%40009@b");  // %% is a literal '%'
  EXPECT_EQ(Expand("%020u", 4294967295u), "00000000004294967295");
}

TEST(UserPatternTest, RefusesEverythingElse) {
  const std::pair<const char*, const char*> refused[] = {
      {"sip:user@example.org", "has no placeholder"},
      {"sip:%d@%d", "more than one placeholder"},
      {"sip:%s@example.org", "not %d or %u"},
      {"sip:%n@example.org", "not %d or %u"},
      {"sip:%x@example.org", "not %d or %u"},
      {"sip:%ld@example.org", "not %d or %u"},
      {"sip:%-5d@example.org", "not %d or %u"},
      {"sip:%.3d@example.org", "not %d or %u"},
      {"sip:%*d@example.org", "not %d or %u"},
      {"sip:%1$d@example.org", "not %d or %u"},
      {"sip:%0d@example.org", "0 flag without a width"},
      {"sip:%21d@example.org", "width over 20"},
      {"sip:%99999999999999999999d", "width over 20"},
      {"sip:user%", "not %d or %u"},
      {"sip:%d%", "not %d or %u"},
  };
  for (const auto& [pattern, why] : refused) {
    Result<UserPattern> p = UserPattern::Parse(pattern);
    ASSERT_FALSE(p.ok()) << pattern;
    EXPECT_EQ(p.status().code(), Status::Code::kInvalidArgument);
    const std::string message = p.status().ToString();
    EXPECT_NE(message.find(why), std::string::npos) << pattern << ": " << message;
    EXPECT_NE(message.find("--user-pattern"), std::string::npos) << message;
    EXPECT_NE(message.find("%05d"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace mcx::cli
