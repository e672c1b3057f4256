// KeyPeriod: which key period a moment falls in, and the bounds of a period (TS 33.180).
//
// Times are NTP seconds, counted from 1900-01-01T00:00:00Z in 64 bits, so dates after the 32-bit
// NTP era rolls over in 2036 work. KeyPeriodNo = floor((t - UserKeyOffset) / UserKeyPeriod).
// A period covers [ValidFrom, ValidTo] inclusive: ValidTo is its last second.
#pragma once

#include <cstdint>

#include "base/env.h"
#include "base/status.h"
#include "engine/keys/community_parameters.h"

namespace mcx {

inline constexpr int64_t kNtpUnixOffset = 2208988800;  // seconds from 1900-01-01 to 1970-01-01

using NtpSeconds = uint64_t;

// Unix seconds (may be negative, for dates before 1970) to NTP seconds; fails before 1900.
Result<NtpSeconds> NtpFromUnix(int64_t unix_seconds);
// NTP seconds to Unix seconds.
int64_t UnixFromNtp(NtpSeconds ntp);
// The current time in NTP seconds, by `env`'s clock.
NtpSeconds NtpNow(Env& env = Env::Default());

struct KeyPeriod {
  uint64_t number = 0;       // KeyPeriodNo
  NtpSeconds valid_from = 0; // first second of the period
  NtpSeconds valid_to = 0;   // last second of the period

  // The period that contains `t`. Fails when t is before UserKeyOffset (no period 0 yet).
  static Result<KeyPeriod> Containing(const CommunityParameters& params, NtpSeconds t);
  // Period number `n`. Fails when its bounds do not fit in 64 bits.
  static Result<KeyPeriod> Numbered(const CommunityParameters& params, uint64_t n);
};

// Formats NTP seconds as xs:dateTime in UTC, e.g. 2026-11-28T09:10:00Z.
std::string FormatUtc(NtpSeconds t);
// Parses "YYYY-MM-DD" or "YYYY-MM-DDThh:mm:ssZ" (UTC) into NTP seconds.
Result<NtpSeconds> ParseUtc(const std::string& text);

}  // namespace mcx
