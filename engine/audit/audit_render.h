// Readable audit records, for `mcx-kms audit show`: who got which key sets, and when.
//
// One line per record:
//   2026-12-02T01:43:03Z  kms-1#42  key-set-issued  user sip:alice@example.org  periods 3905-3916
//       cert kms.example.org/cert-1  by server
// (on one line). A batch record is followed by one indented line per user it lists; asked for
// one user, only that user's line of each batch is shown.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "engine/audit/audit_record.h"

namespace mcx {

// "2026-12-02T01:43:03Z".
std::string FormatAuditTime(int64_t unix_seconds);
// Unix seconds from "2026-12-02", "2026-12-02T01:43:03Z" (or with a space for the T, or without
// the Z: always UTC), or a plain number of Unix seconds.
Result<int64_t> ParseAuditTime(std::string_view text);

// The record's line(s), each ending in '\n'. With `only_user`, a batch shows that user's line only.
std::string RenderAuditRecord(const AuditRecord& record, std::string_view only_user = {});

}  // namespace mcx
