#include <gtest/gtest.h>

#include <ctime>
#include <random>

#include "engine/keys/key_period.h"

namespace mcx {
namespace {

CommunityParameters Params(int64_t period, int64_t offset) {
  Result<CommunityParameters> p = CommunityParameters::Make("kms.example.org", period, offset);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return *p;
}

TEST(KeyPeriodTest, FirstAndLastSecondOfAPeriod) {
  const CommunityParameters p = Params(2592000, 0);
  Result<KeyPeriod> kp = KeyPeriod::Numbered(p, 1388);
  ASSERT_TRUE(kp.ok());
  EXPECT_EQ(kp->valid_from, 1388ull * 2592000);
  EXPECT_EQ(kp->valid_to, 1389ull * 2592000 - 1);
  EXPECT_EQ(KeyPeriod::Containing(p, kp->valid_from)->number, 1388u);
  EXPECT_EQ(KeyPeriod::Containing(p, kp->valid_to)->number, 1388u);
  EXPECT_EQ(KeyPeriod::Containing(p, kp->valid_from - 1)->number, 1387u);
  EXPECT_EQ(KeyPeriod::Containing(p, kp->valid_to + 1)->number, 1389u);
}

TEST(KeyPeriodTest, NonZeroOffsetShiftsTheBoundaries) {
  const CommunityParameters p = Params(86400, 3600);
  // 1970-01-01T00:00:00Z is NTP 2208988800 = 25567 days exactly; with a one-hour offset the
  // period that starts at 01:00 that day is number 25567, and midnight still belongs to 25566.
  Result<NtpSeconds> midnight = NtpFromUnix(0);
  ASSERT_TRUE(midnight.ok());
  EXPECT_EQ(KeyPeriod::Containing(p, *midnight)->number, 25566u);
  EXPECT_EQ(KeyPeriod::Containing(p, *midnight + 3599)->number, 25566u);
  EXPECT_EQ(KeyPeriod::Containing(p, *midnight + 3600)->number, 25567u);
  Result<KeyPeriod> kp = KeyPeriod::Numbered(p, 25567);
  EXPECT_EQ(kp->valid_from, *midnight + 3600);
  EXPECT_EQ(kp->valid_to, *midnight + 3600 + 86399);
  EXPECT_EQ(FormatUtc(kp->valid_from), "1970-01-01T01:00:00Z");
  EXPECT_EQ(FormatUtc(kp->valid_to), "1970-01-02T00:59:59Z");
}

TEST(KeyPeriodTest, TimeBeforeTheOffsetHasNoPeriod) {
  const CommunityParameters p = Params(86400, 1000);
  Result<KeyPeriod> kp = KeyPeriod::Containing(p, 999);
  ASSERT_FALSE(kp.ok());
  EXPECT_NE(kp.status().message().find("before the first key period"), std::string::npos);
  EXPECT_EQ(KeyPeriod::Containing(p, 1000)->number, 0u);
}

TEST(KeyPeriodTest, DatesPastTheNtpEraRolloverWork) {
  const CommunityParameters p = Params(2592000, 0);
  // 2036-02-07T06:28:16Z is where 32-bit NTP seconds wrap; 2100 and 2500 are far beyond.
  Result<NtpSeconds> wrap = ParseUtc("2036-02-07T06:28:16Z");
  ASSERT_TRUE(wrap.ok());
  EXPECT_EQ(*wrap, 1ull << 32);
  Result<NtpSeconds> far = ParseUtc("2500-01-01");
  ASSERT_TRUE(far.ok());
  EXPECT_GT(*far, 1ull << 34);
  Result<KeyPeriod> kp = KeyPeriod::Containing(p, *far);
  ASSERT_TRUE(kp.ok());
  EXPECT_EQ(kp->number, *far / 2592000);
  EXPECT_LE(kp->valid_from, *far);
  EXPECT_GE(kp->valid_to, *far);
  EXPECT_EQ(FormatUtc(*far), "2500-01-01T00:00:00Z");
}

TEST(KeyPeriodTest, UnixAndNtpConvert) {
  EXPECT_EQ(*NtpFromUnix(0), 2208988800u);
  EXPECT_EQ(UnixFromNtp(2208988800u), 0);
  EXPECT_EQ(*NtpFromUnix(-2208988800LL), 0u);
  EXPECT_EQ(FormatUtc(0), "1900-01-01T00:00:00Z");
}

TEST(KeyPeriodTest, TimeBeforeTheNtpEpochIsRefused) {
  Result<NtpSeconds> t = NtpFromUnix(-2208988801LL);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(t.status().message().find("NTP epoch"), std::string::npos);
  EXPECT_FALSE(ParseUtc("1899-12-31").ok());
}

TEST(KeyPeriodTest, ZeroOrNegativePeriodIsRefused) {
  for (int64_t bad : {0LL, -1LL, -2592000LL}) {
    Result<CommunityParameters> p = CommunityParameters::Make("kms.example.org", bad, 0);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_NE(p.status().message().find("UserKeyPeriod must be at least 1 second"), std::string::npos);
  }
  Result<CommunityParameters> p = CommunityParameters::Make("kms.example.org", 60, -5);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("UserKeyOffset"), std::string::npos);
}

TEST(KeyPeriodTest, PeriodsBeyond64BitTimeAreRefused) {
  const CommunityParameters p = Params(2592000, 0);
  EXPECT_FALSE(KeyPeriod::Numbered(p, ~0ull / 2592000 + 1).ok());
  EXPECT_FALSE(KeyPeriod::Numbered(p, ~0ull / 2592000).ok());  // its last second would overflow
  EXPECT_TRUE(KeyPeriod::Numbered(p, ~0ull / 2592000 - 1).ok());
}

TEST(KeyPeriodTest, ParseUtcRejectsMalformedDates) {
  for (const char* bad : {"", "2026-13-01", "2026-01-32", "2026/01/01", "2026-01-01T25:00:00Z",
                          "2026-01-01T00:00:00", "tomorrow"}) {
    EXPECT_FALSE(ParseUtc(bad).ok()) << bad;
  }
  EXPECT_EQ(FormatUtc(*ParseUtc("2026-11-28T09:10:00Z")), "2026-11-28T09:10:00Z");
}

}  // namespace
}  // namespace mcx

namespace mcx {
namespace {

// FormatUtc writes its digits by hand for years 0000-9999: it must agree with the C library's
// calendar for every second it may be asked about (NTP era 0 and past the 2036 rollover).
TEST(KeyPeriodTest, FormatUtcAgreesWithTheCLibrarysCalendar) {
  constexpr int64_t kFirst = -2208988800;     // 1900-01-01T00:00:00Z, the NTP epoch
  constexpr int64_t kLast = 253402300799;     // 9999-12-31T23:59:59Z
  std::mt19937_64 rng(20261202);
  for (int i = 0; i < 20000; ++i) {
    const int64_t u = i == 0 ? kFirst : i == 1 ? kLast : kFirst + static_cast<int64_t>(rng() % (kLast - kFirst + 1));
    Result<NtpSeconds> t_or = NtpFromUnix(u);
    ASSERT_TRUE(t_or.ok()) << u;
    const NtpSeconds t = *t_or;
    const time_t unix_s = static_cast<time_t>(UnixFromNtp(t));
    std::tm tm{};
    ASSERT_NE(gmtime_r(&unix_s, &tm), nullptr);
    char want[32];
    std::strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
    ASSERT_EQ(FormatUtc(t), want) << "Unix time " << unix_s;
  }
}

}  // namespace
}  // namespace mcx
