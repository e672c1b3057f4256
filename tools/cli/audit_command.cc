// `mcx-kms audit verify` and `mcx-kms audit show`: check the tamper-evident audit chain, and read
// who got which key sets, when (docs/audit.md).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine/audit/audit_render.h"
#include "engine/audit/audit_verify.h"
#include "engine/custody/audit_custody.h"
#include "engine/store/store_location.h"
#include "tools/cli/command.h"
#include "tools/cli/kms_options.h"

namespace mcx::cli {
namespace {

struct AuditFlags {
  KmsLocation loc;
  std::vector<std::string> anchors;
  std::string user, since, node;
};

Result<std::unique_ptr<AuditStore>> OpenStore(const KmsConfig& config) {
  return OpenAuditStore(config.store_location());  // NotFound, saying why, for a KMS never opened (SQLite)
}

Status RunVerify(const AuditFlags& f) {
  std::vector<AuditAnchor> anchors;
  for (const std::string& a : f.anchors) {
    Result<AuditAnchor> anchor = ParseAuditAnchor(a);
    if (!anchor.ok()) return anchor.status();
    anchors.push_back(*anchor);
  }
  Result<KmsConfig> config = LoadKmsConfig(f.loc);
  if (!config.ok()) return config.status();
  Result<std::unique_ptr<AuditStore>> store = OpenStore(*config);
  if (!store.ok()) return store.status();
  Result<std::unique_ptr<AuditCustody>> custody = AuditCustody::Open(*config);
  if (!custody.ok()) return custody.status().Annotate("opening the audit key");
  Result<AuditVerification> v = VerifyAuditChain(**store, **custody, anchors);
  if (!v.ok()) return v.status();
  fmt::print("audit log in {}: {} node(s), {} record(s), MACs checked with HSM key '{}'\n",
             config->store_location().Describe(), v->nodes, v->records, (*custody)->key_label());
  for (const AuditAnchor& tip : v->tips) {
    fmt::print("  node {}: last record {}; anchor {}\n", tip.node, tip.tip.seq, FormatAuditAnchor(tip));
  }
  for (const AuditFinding& bad : v->findings) {
    fmt::print("  node {}: FIRST BAD RECORD {}: {} — {}\n", bad.node, bad.seq, AuditProblemName(bad.problem),
               bad.explanation);
  }
  if (!v->ok()) {
    return Status::DataLoss("the audit log was tampered with (" + std::to_string(v->findings.size()) +
                            " node(s), first bad record of each listed above); keep the store (file or database) as evidence and "
                            "compare it with a backup");
  }
  fmt::print("ok: every chain is intact (the tail of a chain is only covered by an anchor: keep the anchors above "
             "and pass them with --anchor next time)\n");
  return Status::Ok();
}

Status RunShow(const AuditFlags& f) {
  AuditFilter filter;
  filter.user_uri = f.user;
  filter.node = f.node;
  if (!f.since.empty()) {
    Result<int64_t> since = ParseAuditTime(f.since);
    if (!since.ok()) return since.status().Annotate("--since");
    filter.since = *since;
  }
  Result<KmsConfig> config = LoadKmsConfig(f.loc);
  if (!config.ok()) return config.status();
  Result<std::unique_ptr<AuditStore>> store = OpenStore(*config);
  if (!store.ok()) return store.status();
  uint64_t shown = 0;
  MCX_RETURN_IF_ERROR((*store)->Scan(filter, [&](const AuditRecord& r) {
    std::fputs(RenderAuditRecord(r, f.user).c_str(), stdout);
    ++shown;
    return true;
  }));
  fmt::print("{} record(s){}\n", shown, shown == 0 ? "" : " (not verified here: run `mcx-kms audit verify`)");
  return Status::Ok();
}

}  // namespace

void RegisterAuditCommand(CLI::App& app, CommandResult& result) {
  auto f = std::make_shared<AuditFlags>();
  CLI::App* cmd = app.add_subcommand(
      "audit",
      "The tamper-evident audit log: every issuance, delivery, revocation, certificate change, refused request "
      "and administrative command, chained by SHA-256 and authenticated by an HMAC key that never leaves the HSM.");
  cmd->require_subcommand(1);

  CLI::App* verify = cmd->add_subcommand(
      "verify",
      "Check every node's chain: each record's hash and HSM MAC, its sequence number and its link to the one "
      "before. Reports the first edited, deleted, reordered or inserted record of each node and exits non-zero. "
      "Needs the token (it recomputes the MACs). Removing the LAST records of a chain leaves a valid chain: "
      "keep the anchors it prints and pass them back with --anchor to catch that too.");
  AddDataDirOption(verify, f->loc);
  AddHsmOptions(verify, f->loc);
  verify->add_option("--anchor", f->anchors,
                     "NODE:SEQ:HASH printed by an earlier verify: the chain must still reach that record (repeatable)");
  verify->callback([f, &result] { result.status = RunVerify(*f); });

  CLI::App* show = cmd->add_subcommand(
      "show",
      "Print the audit records, one line each, oldest first: when, node#seq, what, for which user and periods, "
      "under which certificate, by whom. A batch record (bulk provisioning) lists its users below it. Reads the "
      "store only (no token, no verification: run `audit verify` for that).");
  AddDataDirOption(show, f->loc);
  show->add_option("--user", f->user,
                   "only records about this user URI (its key sets, deliveries, revocation), batches included");
  show->add_option("--since", f->since, "only records from this time on: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)");
  show->add_option("--node", f->node, "only this node's records");
  show->callback([f, &result] { result.status = RunShow(*f); });
}

}  // namespace mcx::cli
