#include "engine/keys/key_period.h"

#include <cstdio>
#include <limits>

namespace mcx {
namespace {

// Days since 1970-01-01 for a proleptic Gregorian date, and back (H. Hinnant's civil algorithms).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

}  // namespace

Result<NtpSeconds> NtpFromUnix(int64_t unix_seconds) {
  if (unix_seconds < -kNtpUnixOffset) {
    return Status::InvalidArgument("time is before the NTP epoch (1900-01-01T00:00:00Z)");
  }
  return static_cast<NtpSeconds>(unix_seconds + kNtpUnixOffset);
}

int64_t UnixFromNtp(NtpSeconds ntp) { return static_cast<int64_t>(ntp) - kNtpUnixOffset; }

NtpSeconds NtpNow(Env& env) { return static_cast<NtpSeconds>(env.NowUnixSeconds() + kNtpUnixOffset); }

Result<KeyPeriod> KeyPeriod::Containing(const CommunityParameters& params, NtpSeconds t) {
  if (params.user_key_period == 0) return Status::InvalidArgument("UserKeyPeriod is zero");
  if (t < params.user_key_offset) {
    return Status::InvalidArgument("time " + FormatUtc(t) +
                                   " is before the first key period, which starts at UserKeyOffset (" +
                                   std::to_string(params.user_key_offset) + " s after 1900-01-01)");
  }
  return Numbered(params, (t - params.user_key_offset) / params.user_key_period);
}

Result<KeyPeriod> KeyPeriod::Numbered(const CommunityParameters& params, uint64_t n) {
  const uint64_t len = params.user_key_period;
  if (len == 0) return Status::InvalidArgument("UserKeyPeriod is zero");
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  if (n > (kMax - params.user_key_offset) / len ||
      n * len + params.user_key_offset > kMax - (len - 1)) {
    return Status::InvalidArgument("key period " + std::to_string(n) + " lies beyond 64-bit NTP time");
  }
  KeyPeriod kp;
  kp.number = n;
  kp.valid_from = n * len + params.user_key_offset;
  kp.valid_to = kp.valid_from + (len - 1);
  return kp;
}

std::string FormatUtc(NtpSeconds t) {
  int64_t unix_s = UnixFromNtp(t);
  int64_t days = unix_s >= 0 ? unix_s / 86400 : -((-unix_s + 86399) / 86400);
  int64_t secs = unix_s - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  if (y < 0 || y > 9999) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<long long>(y), m, d,
                  static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                  static_cast<long long>(secs % 60));
    return buf;
  }
  // Every response carries a few of these: digits by hand, not through printf's format parser.
  std::string out = "0000-00-00T00:00:00Z";
  const auto put = [&out](size_t at, int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10) out[at + static_cast<size_t>(i)] = static_cast<char>('0' + value % 10);
  };
  put(0, y, 4);
  put(5, m, 2);
  put(8, d, 2);
  put(11, secs / 3600, 2);
  put(14, secs / 60 % 60, 2);
  put(17, secs % 60, 2);
  return out;
}

Result<NtpSeconds> ParseUtc(const std::string& text) {
  long long y = 0;
  unsigned mo = 0, d = 0, h = 0, mi = 0, s = 0;
  int used = 0;
  bool ok = false;
  if (text.size() == 10) {
    ok = std::sscanf(text.c_str(), "%4lld-%2u-%2u%n", &y, &mo, &d, &used) == 3 && used == 10;
  } else if (text.size() == 20) {
    ok = std::sscanf(text.c_str(), "%4lld-%2u-%2uT%2u:%2u:%2uZ%n", &y, &mo, &d, &h, &mi, &s, &used) == 6 &&
         used == 20;
  }
  if (!ok || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) {
    return Status::InvalidArgument("'" + text + "' is not a UTC date: use YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ");
  }
  int64_t days = DaysFromCivil(y, mo, d);
  int64_t unix_s = days * 86400 + h * 3600 + mi * 60 + s;
  return NtpFromUnix(unix_s);
}

}  // namespace mcx
