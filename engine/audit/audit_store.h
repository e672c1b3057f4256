// AuditStore: where the audit chains live.
//
// One chain per node (a KMS host; replicas each keep their own), ordered by sequence number.
// Append() is the only write: within one transaction that excludes every other writer of the
// same store, also in other processes, it reads the tip of the node's chain, asks `seal` for the
// records that continue it, inserts them and commits; all of them or none. Records are never
// updated or deleted through this interface.
//
// Implementations are safe to use from many threads at once; Append is durable when it returns OK.
// A visitor must not call back into the store (a scan may hold the store's read connection).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/audit/audit_record.h"

namespace mcx {

// The last record of a chain; seq 0 and a zero hash for an empty chain.
struct AuditChainTip {
  uint64_t seq = 0;
  AuditHash hash{};
};

// Which records Scan() visits: all of them by default.
struct AuditFilter {
  std::string node;                // empty: every node
  std::string user_uri;            // empty: every user; else records that concern it (batches included)
  std::optional<int64_t> since;    // Unix seconds, inclusive
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;

  // `seal(tip)` returns the records to append, numbered from tip.seq + 1 and chained from tip.hash.
  // Its error, or the store's, is returned and nothing is written.
  using Sealer = std::function<Result<std::vector<AuditRecord>>(const AuditChainTip& tip)>;
  virtual Status Append(const std::string& node, const Sealer& seal) = 0;

  // The nodes that have records, in name order.
  virtual Result<std::vector<std::string>> Nodes() = 0;
  virtual Result<AuditChainTip> Tip(const std::string& node) = 0;
  // Visits the node's records with seq >= from_seq in sequence order while `visit` returns true.
  virtual Status ScanChain(const std::string& node, uint64_t from_seq,
                           const std::function<bool(const AuditRecord&)>& visit) = 0;
  // Visits the records that pass `filter`, by time, then node, then seq, while `visit` returns true.
  virtual Status Scan(const AuditFilter& filter, const std::function<bool(const AuditRecord&)>& visit) = 0;
};

}  // namespace mcx
