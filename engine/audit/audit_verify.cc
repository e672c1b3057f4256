#include "engine/audit/audit_verify.h"

#include <algorithm>
#include <map>

#include "base/secret.h"

namespace mcx {
namespace {

constexpr uint64_t kRenumberSearch = 64;  // how far past a hole a renumbered record is looked for

class ChainChecker {
 public:
  ChainChecker(AuditStore& store, RecordAuthenticator& auth, const std::string& node)
      : store_(store), auth_(auth), node_(node) {}

  // Walks the chain; sets `finding` for its first bad record.
  Status Walk(uint64_t& records, AuditChainTip& tip, std::optional<AuditFinding>& finding) {
    uint64_t expected = 1;
    AuditHash prev{};
    std::optional<AuditRecord> bad;
    Status error;
    MCX_RETURN_IF_ERROR(store_.ScanChain(node_, 1, [&](const AuditRecord& r) {
      ++records;
      Result<bool> mac_ok = MacOk(r);
      if (!mac_ok.ok()) {
        error = mac_ok.status();
        return false;
      }
      if (ComputeAuditHash(r) == r.hash && *mac_ok && r.seq == expected && r.prev_hash == prev) {
        ++expected;
        prev = r.hash;
        tip = {r.seq, r.hash};
        return true;
      }
      bad = r;
      return false;
    }));
    MCX_RETURN_IF_ERROR(error);
    if (!bad.has_value()) return Status::Ok();
    Result<AuditFinding> f = Classify(*bad, expected, prev);
    if (!f.ok()) return f.status();
    finding = std::move(f).value();
    return Status::Ok();
  }

 private:
  Result<bool> MacOk(const AuditRecord& r) {
    Result<AuditMac> mac = auth_.Authenticate(r.hash);
    if (!mac.ok()) return mac.status().Annotate("verifying the audit chain of node '" + node_ + "'");
    return ConstantTimeEqual(*mac, r.mac);
  }

  // The record with seq > `seq` that comes next, if any.
  Result<std::optional<AuditRecord>> Next(uint64_t seq) {
    std::optional<AuditRecord> next;
    MCX_RETURN_IF_ERROR(store_.ScanChain(node_, seq + 1, [&](const AuditRecord& r) {
      next = r;
      return false;
    }));
    return next;
  }

  // The seq of the stored record whose hash column is `hash`, if any.
  Result<std::optional<uint64_t>> SeqOfHash(const AuditHash& hash) {
    std::optional<uint64_t> seq;
    MCX_RETURN_IF_ERROR(store_.ScanChain(node_, 1, [&](const AuditRecord& r) {
      if (r.hash == hash) seq = r.seq;
      return !seq.has_value();
    }));
    return seq;
  }

  // Whether `r` is a genuine record when numbered `seq`.
  Result<bool> GenuineAs(const AuditRecord& r, uint64_t seq) {
    AuditRecord moved = r;
    moved.seq = seq;
    if (ComputeAuditHash(moved) != r.hash) return false;
    return MacOk(r);
  }

  AuditFinding Found(uint64_t seq, AuditProblem p, std::string why) { return {node_, seq, p, std::move(why)}; }

  Result<AuditFinding> Classify(const AuditRecord& r, uint64_t expected, const AuditHash& prev) {
    const std::string at = "record " + std::to_string(r.seq);
    const bool content_ok = ComputeAuditHash(r) == r.hash;
    Result<bool> mac_ok = MacOk(r);
    if (!mac_ok.ok()) return mac_ok.status();

    if (content_ok && *mac_ok) {
      if (r.seq > expected) {
        const uint64_t missing = r.seq - expected;
        return Found(expected, AuditProblem::kDeleted,
                     std::to_string(missing) + " record(s) missing: the chain jumps from " +
                         std::to_string(expected - 1) + " to " + std::to_string(r.seq));
      }
      return Found(r.seq, AuditProblem::kInserted,
                   at + " is genuine but does not follow record " + std::to_string(r.seq - 1) +
                       ": records of another copy of this chain were mixed in");
    }

    // A record between the one it claims to follow and a record that follows that same one.
    Result<std::optional<AuditRecord>> next = Next(r.seq);
    if (!next.ok()) return next.status();
    if (r.prev_hash == prev && next->has_value() && (*next)->prev_hash == r.prev_hash) {
      return Found(r.seq, AuditProblem::kInserted,
                   at + " was not in the chain: the record after it follows record " + std::to_string(r.seq - 1) +
                       " directly" + (*mac_ok ? "" : ", and its MAC does not verify"));
    }

    if (!content_ok) {
      // A genuine record moved: it verifies with the number after the record its prev_hash names.
      std::optional<uint64_t> origin;
      if (r.prev_hash == AuditHash{}) {
        origin = 1;
      } else {
        Result<std::optional<uint64_t>> before = SeqOfHash(r.prev_hash);
        if (!before.ok()) return before.status();
        if (before->has_value()) origin = **before + 1;
      }
      if (origin.has_value() && *origin != r.seq) {
        Result<bool> genuine = GenuineAs(r, *origin);
        if (!genuine.ok()) return genuine.status();
        if (*genuine) {
          return Found(r.seq, AuditProblem::kReordered,
                       "the record at position " + std::to_string(r.seq) + " is record " + std::to_string(*origin) +
                           ", moved");
        }
      }
      // A genuine record renumbered down to hide a hole before it.
      if (r.prev_hash != prev && !origin.has_value()) {
        for (uint64_t d = 1; d <= kRenumberSearch; ++d) {
          Result<bool> genuine = GenuineAs(r, r.seq + d);
          if (!genuine.ok()) return genuine.status();
          if (*genuine) {
            return Found(r.seq, AuditProblem::kDeleted,
                         std::to_string(d) + " record(s) deleted before " + at + ", which was record " +
                             std::to_string(r.seq + d) + ": the later records were renumbered to hide the gap");
          }
        }
      }
      return Found(r.seq, AuditProblem::kEdited, at + " was edited: its fields do not match its hash");
    }

    // Fields match the hash, the MAC does not: written by someone without the HSM's key.
    if (!next->has_value()) {
      return Found(r.seq, AuditProblem::kInserted,
                   at + " (the last) was not written by the KMS: its MAC does not verify (a record added at the end, "
                        "or the last record edited with its hash recomputed)");
    }
    return Found(r.seq, AuditProblem::kEdited,
                 at + " was edited: its MAC does not verify (a field changed and the hash recomputed, or the MAC "
                      "itself changed)");
  }

  AuditStore& store_;
  RecordAuthenticator& auth_;
  const std::string& node_;
};

}  // namespace

const char* AuditProblemName(AuditProblem problem) {
  switch (problem) {
    case AuditProblem::kEdited: return "edited";
    case AuditProblem::kDeleted: return "deleted";
    case AuditProblem::kReordered: return "reordered";
    case AuditProblem::kInserted: return "inserted";
    case AuditProblem::kTruncated: return "truncated";
  }
  return "unknown";
}

Result<AuditVerification> VerifyAuditChain(AuditStore& store, RecordAuthenticator& authenticator,
                                           const std::vector<AuditAnchor>& anchors) {
  Result<std::vector<std::string>> nodes = store.Nodes();
  if (!nodes.ok()) return nodes.status();
  std::map<std::string, const AuditAnchor*> anchored;
  for (const AuditAnchor& a : anchors) anchored[a.node] = &a;
  AuditVerification v;
  for (const std::string& node : *nodes) {
    ++v.nodes;
    ChainChecker checker(store, authenticator, node);
    AuditChainTip tip;
    std::optional<AuditFinding> finding;
    MCX_RETURN_IF_ERROR(checker.Walk(v.records, tip, finding));
    v.tips.push_back({node, tip});
    auto a = anchored.find(node);
    if (!finding.has_value() && a != anchored.end()) {
      const AuditChainTip& want = a->second->tip;
      if (tip.seq < want.seq) {
        finding = AuditFinding{node, tip.seq + 1, AuditProblem::kTruncated,
                               "the chain ends at record " + std::to_string(tip.seq) + " but was anchored at record " +
                                   std::to_string(want.seq) + ": its last records were removed"};
      } else {
        std::optional<AuditHash> at_anchor;
        MCX_RETURN_IF_ERROR(store.ScanChain(node, want.seq, [&](const AuditRecord& r) {
          if (r.seq == want.seq) at_anchor = r.hash;
          return false;
        }));
        if (!at_anchor.has_value() || *at_anchor != want.hash) {
          finding = AuditFinding{node, want.seq, AuditProblem::kTruncated,
                                 "record " + std::to_string(want.seq) +
                                     " is not the one anchored: the chain was cut there and rewritten"};
        }
      }
    }
    if (finding.has_value()) v.findings.push_back(std::move(*finding));
  }
  for (const AuditAnchor& a : anchors) {
    bool present = false;
    for (const std::string& n : *nodes) present = present || n == a.node;
    if (!present) {
      v.findings.push_back({a.node, 1, AuditProblem::kTruncated,
                            "node '" + a.node + "' was anchored at record " + std::to_string(a.tip.seq) +
                                " but has no records left: its whole chain was removed"});
    }
  }
  return v;
}

std::string FormatAuditAnchor(const AuditAnchor& anchor) {
  return anchor.node + ":" + std::to_string(anchor.tip.seq) + ":" + ToHex(anchor.tip.hash);
}

Result<AuditAnchor> ParseAuditAnchor(const std::string& text) {
  const size_t last = text.rfind(':');
  const size_t mid = last == std::string::npos || last == 0 ? std::string::npos : text.rfind(':', last - 1);
  const Status bad = Status::InvalidArgument("an anchor is NODE:SEQ:HASH as `mcx-kms audit verify` prints it, got '" +
                                             text + "'");
  if (mid == std::string::npos || mid == 0) return bad;
  AuditAnchor a;
  a.node = text.substr(0, mid);
  const std::string seq = text.substr(mid + 1, last - mid - 1);
  if (seq.empty() || seq.find_first_not_of("0123456789") != std::string::npos || seq.size() > 19) return bad;
  a.tip.seq = std::stoull(seq);
  Result<Bytes> hash = FromHex(text.substr(last + 1));
  if (!hash.ok() || hash->size() != a.tip.hash.size()) return bad;
  std::copy(hash->begin(), hash->end(), a.tip.hash.begin());
  return a;
}

}  // namespace mcx
