// VerifyAuditChain: checks every node's audit chain and names the first bad record of each.
//
// For each node it walks the records in sequence order and checks, for every record, that its
// hash matches its fields, that its MAC (recomputed with the HSM's key) matches its hash, that its
// sequence number follows the previous one without a gap, and that its prev_hash is the previous
// record's hash. The first record that fails is classified:
//
//   edited     its fields do not match its hash, or its MAC does not match (a field changed, with
//              or without the hash recomputed, or the MAC itself changed)
//   deleted    records are missing before it: a gap in the sequence numbers, or (when the later
//              records were renumbered to hide the gap) a genuine record whose predecessor is gone
//   reordered  a genuine record that belongs at another position (its hash and MAC verify with
//              another sequence number, after the record its prev_hash names)
//   inserted   a record the KMS did not write: the next record chains over it, or it is an extra
//              record at the end whose MAC does not verify (or a second copy of a chain mixed in)
//
// What it cannot detect on its own: the removal of the LAST records of a chain (truncation of the
// tail), or of a whole node's chain, since what remains is a valid chain. Anchors close that
// gap: give the tips (node, seq, hash) noted from an earlier verification (or exported to another
// system), and a chain that no longer reaches its anchor, or reaches it with another record, is
// reported as truncated. It also cannot tell an edited last record whose hash was recomputed
// from an appended forgery (both are reported, as "inserted").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/audit/audit_record.h"
#include "engine/audit/audit_store.h"

namespace mcx {

enum class AuditProblem { kEdited, kDeleted, kReordered, kInserted, kTruncated };
const char* AuditProblemName(AuditProblem problem);

struct AuditFinding {
  std::string node;
  uint64_t seq = 0;  // where the chain first goes wrong
  AuditProblem problem = AuditProblem::kEdited;
  std::string explanation;
};

struct AuditAnchor {
  std::string node;
  AuditChainTip tip;
};

struct AuditVerification {
  uint64_t nodes = 0;
  uint64_t records = 0;                // records read
  std::vector<AuditAnchor> tips;       // each node's last record, to anchor a later verification
  std::vector<AuditFinding> findings;  // at most one per node: its first bad record
  bool ok() const { return findings.empty(); }
};

// An error only when the store or the authenticator fails; tampering is reported in findings.
Result<AuditVerification> VerifyAuditChain(AuditStore& store, RecordAuthenticator& authenticator,
                                           const std::vector<AuditAnchor>& anchors = {});

// "NODE:SEQ:HASH" (hash in hex), the form `audit verify` prints and takes back with --anchor.
std::string FormatAuditAnchor(const AuditAnchor& anchor);
Result<AuditAnchor> ParseAuditAnchor(const std::string& text);

}  // namespace mcx
