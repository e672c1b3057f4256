// `mcx-kms cert ...`, `mcx-kms revoke`, `mcx-kms reinstate`: the KMS's lifecycle, as an operator
// runs it (docs/lifecycle.md). Each act is one transaction in the store; a running server on the
// same store serves the result within a second, without a restart.
#include <cstdio>

#include <fmt/format.h>

#include "api/kms_xml.h"
#include "base/env.h"
#include "engine/custody/certificate_lifecycle.h"
#include "engine/custody/certificate_record.h"
#include "engine/custody/kms_instance.h"
#include "tools/cli/command.h"
#include "tools/cli/kms_options.h"

namespace mcx::cli {
namespace {

struct LifecycleOptions {
  KmsLocation loc;
  std::string valid_from, valid_to;  // rollover
  std::string file;                  // import
  std::string cert_uri;              // remove, revoke --certificate
  std::string user_uri, from;        // revoke --user, reinstate
};

Result<std::unique_ptr<KmsInstance>> OpenKms(const LifecycleOptions& opt) {
  Result<KmsConfig> config = LoadKmsConfig(opt.loc);
  if (!config.ok()) return config.status();
  return OpenKmsForCommand(*config);
}

Result<NtpSeconds> ParseWhen(const std::string& text, const char* flag) {
  if (text == "now") return NtpNow();
  Result<NtpSeconds> t = ParseUtc(text);
  if (!t.ok()) return t.status().Annotate(flag);
  return t;
}

const char* StateOf(const StoredCertificate& c, NtpSeconds now) {
  if (c.revoked) return "revoked";
  if (c.expired || c.valid_to < now) return "expired";
  if (c.valid_from > now) return "published (not yet in force)";
  return "valid";
}

Status RunRollover(const LifecycleOptions& opt) {
  Result<NtpSeconds> from = ParseWhen(opt.valid_from, "--valid-from");
  if (!from.ok()) return from.status();
  RolloverRequest request;
  request.valid_from = *from;
  if (!opt.valid_to.empty()) {
    Result<NtpSeconds> to = ParseWhen(opt.valid_to, "--valid-to");
    if (!to.ok()) return to.status();
    request.valid_to = *to;
  }
  Result<std::unique_ptr<KmsInstance>> kms = OpenKms(opt);
  if (!kms.ok()) return kms.status();
  Result<RolloverResult> rolled = RollOverCertificate(**kms, request);
  if (!rolled.ok()) return rolled.status();
  const KmsCertificate& c = rolled->certificate;
  MCX_RETURN_IF_ERROR((*kms)->RecordOrRefuse({AuditEventKind::kCertificateRolledOver, LocalOperator(), "", c.cert_uri,
                                              "valid " + FormatUtc(c.valid_from) + " to " + FormatUtc(c.valid_to)}));
  if (rolled->from_rounded) {
    fmt::print("--valid-from {} is inside a key period: rounded up to the next period boundary, {}\n",
               opt.valid_from, FormatUtc(c.valid_from));
  }
  if (rolled->to_rounded) {
    fmt::print("--valid-to rounded down to the end of the last whole key period, {}\n", FormatUtc(c.valid_to));
  }
  fmt::print("new certificate {} (KMS {}), valid {} to {}\n", c.cert_uri, c.params.kms_uri, FormatUtc(c.valid_from),
             FormatUtc(c.valid_to));
  fmt::print("published in the certificate cache now; it takes over at {}. The previous certificate stays valid "
             "to its ValidTo.\n", FormatUtc(c.valid_from));
  fmt::print("pre-provision its first periods ahead of the switch with: mcx-kms provision --users FILE "
             "--certificate {}\n", c.cert_uri);
  return Status::Ok();
}

Status RunList(const LifecycleOptions& opt) {
  Result<std::unique_ptr<KmsInstance>> kms = OpenKms(opt);
  if (!kms.ok()) return kms.status();
  LifecycleStore& lifecycle = (*kms)->store().lifecycle();
  Result<std::vector<StoredCertificate>> certs = lifecycle.ListCertificates();
  if (!certs.ok()) return certs.status();
  Result<uint64_t> cache_num = lifecycle.CacheNum();
  if (!cache_num.ok()) return cache_num.status();
  const NtpSeconds now = NtpNow();
  const IssuingCertificate* in_force = (*kms)->certificates()->InForceAt(now);
  fmt::print("CacheNum {}\n", *cache_num);
  fmt::print("{:<48} {:<9} {:<20} {:<20} {}\n", "CertUri", "Role", "ValidFrom", "ValidTo", "State");
  for (const StoredCertificate& c : *certs) {
    const bool current = in_force != nullptr && in_force->certificate.cert_uri == c.cert_uri;
    fmt::print("{:<48} {:<9} {:<20} {:<20} {}{}\n", c.cert_uri, c.own ? kRoleRoot : kRoleExternal,
               FormatUtc(c.valid_from), c.own || c.valid_to < (~NtpSeconds{0} >> 1) ? FormatUtc(c.valid_to) : "-",
               StateOf(c, now), current ? ", in force now" : "");
  }
  Result<std::vector<UserRevocation>> users = lifecycle.ListRevokedUsers();
  if (!users.ok()) return users.status();
  if (!users->empty()) fmt::print("revoked users: {} (mcx-kms revoke --list)\n", users->size());
  return Status::Ok();
}

Status RunImport(const LifecycleOptions& opt) {
  Result<Bytes> text = Env::Default().ReadFile(opt.file);
  if (!text.ok()) return text.status().Annotate("reading the certificate file");
  Result<KmsCertificate> cert = api::ParseKmsCertificate(std::string_view(reinterpret_cast<const char*>(text->data()),
                                                                          text->size()));
  if (!cert.ok()) return cert.status().Annotate(opt.file);
  if (cert->role != kRoleExternal) {
    fmt::print("the certificate's Role is '{}': it is imported as External (another security domain's)\n",
               cert->role);
  }
  Result<std::unique_ptr<KmsInstance>> kms = OpenKms(opt);
  if (!kms.ok()) return kms.status();
  MCX_RETURN_IF_ERROR(ImportExternalCertificate(**kms, *cert));
  MCX_RETURN_IF_ERROR((*kms)->RecordOrRefuse({AuditEventKind::kCertificateImported, LocalOperator(), "",
                                              cert->cert_uri, "KMS " + cert->params.kms_uri + " from " + opt.file}));
  fmt::print("imported {} (KMS {}, {} domain(s)); served in the certificate cache and by cert/{}\n", cert->cert_uri,
             cert->params.kms_uri, cert->kms_domains.size(), cert->params.kms_uri);
  return Status::Ok();
}

Status RunRemove(const LifecycleOptions& opt) {
  Result<std::unique_ptr<KmsInstance>> kms = OpenKms(opt);
  if (!kms.ok()) return kms.status();
  MCX_RETURN_IF_ERROR((*kms)->store().lifecycle().RemoveImportedCertificate(opt.cert_uri));
  MCX_RETURN_IF_ERROR(
      (*kms)->RecordOrRefuse({AuditEventKind::kCertificateRemoved, LocalOperator(), "", opt.cert_uri, ""}));
  fmt::print("removed {} from the certificate cache\n", opt.cert_uri);
  return Status::Ok();
}

Status RunRevokeCertificate(const LifecycleOptions& opt) {
  Result<std::unique_ptr<KmsInstance>> kms = OpenKms(opt);
  if (!kms.ok()) return kms.status();
  Result<bool> changed = (*kms)->store().lifecycle().RevokeCertificate(opt.cert_uri);
  if (!changed.ok()) return changed.status();
  if (!*changed) {
    fmt::print("{} was revoked already\n", opt.cert_uri);
    return Status::Ok();
  }
  MCX_RETURN_IF_ERROR(
      (*kms)->RecordOrRefuse({AuditEventKind::kCertificateRevoked, LocalOperator(), "", opt.cert_uri, ""}));
  fmt::print("revoked {}: it is served with Revoked true and no key material is issued under it\n", opt.cert_uri);
  Status reload = (*kms)->Reload();
  if (reload.ok() && (*kms)->certificates()->issuing.empty()) {
    fmt::print("warning: no certificate of this KMS issues keys now: roll over (mcx-kms cert rollover)\n");
  }
  return Status::Ok();
}

Status RunRevokeUser(const LifecycleOptions& opt) {
  Result<NtpSeconds> from = ParseWhen(opt.from.empty() ? "now" : opt.from, "--from");
  if (!from.ok()) return from.status();
  MCX_RETURN_IF_ERROR(ValidateUserUri(opt.user_uri, "--user"));
  Result<std::unique_ptr<KmsInstance>> kms = OpenKms(opt);
  if (!kms.ok()) return kms.status();
  Result<size_t> marked = (*kms)->store().lifecycle().RevokeUser(opt.user_uri, *from);
  if (!marked.ok()) return marked.status();
  MCX_RETURN_IF_ERROR((*kms)->RecordOrRefuse({AuditEventKind::kUserRevoked, LocalOperator(), opt.user_uri, "",
                                              "from " + FormatUtc(*from) + ", " + std::to_string(*marked) +
                                                  " key set(s) marked revoked"}));
  fmt::print("revoked {} from {}: no key material for periods that end at or after it; {} key set(s) already "
             "issued marked revoked\n", opt.user_uri, FormatUtc(*from), *marked);
  return Status::Ok();
}

Status RunReinstate(const LifecycleOptions& opt) {
  MCX_RETURN_IF_ERROR(ValidateUserUri(opt.user_uri, "--user"));
  Result<std::unique_ptr<KmsInstance>> kms = OpenKms(opt);
  if (!kms.ok()) return kms.status();
  Result<bool> changed = (*kms)->store().lifecycle().ReinstateUser(opt.user_uri);
  if (!changed.ok()) return changed.status();
  if (!*changed) return Status::NotFound(opt.user_uri + " is not revoked");
  MCX_RETURN_IF_ERROR(
      (*kms)->RecordOrRefuse({AuditEventKind::kUserReinstated, LocalOperator(), opt.user_uri, "", ""}));
  fmt::print("reinstated {}: it gets key sets again for periods that had none; key sets revoked stay revoked\n",
             opt.user_uri);
  return Status::Ok();
}

Status RunListRevoked(const LifecycleOptions& opt) {
  Result<std::unique_ptr<KmsInstance>> kms = OpenKms(opt);
  if (!kms.ok()) return kms.status();
  Result<std::vector<UserRevocation>> users = (*kms)->store().lifecycle().ListRevokedUsers();
  if (!users.ok()) return users.status();
  for (const UserRevocation& u : *users) fmt::print("{}\trevoked from {}\n", u.user_uri, FormatUtc(u.from));
  return Status::Ok();
}

void AddKmsOptions(CLI::App* cmd, LifecycleOptions& opt) {
  AddDataDirOption(cmd, opt.loc);
  AddHsmOptions(cmd, opt.loc);
}

}  // namespace

void RegisterLifecycleCommands(CLI::App& app, CommandResult& result) {
  auto opt = std::make_shared<LifecycleOptions>();
  CLI::App* cert = app.add_subcommand(
      "cert",
      "The KMS's certificates: roll over to new master secrets, list, import or remove another domain's "
      "certificate, revoke one. A running server on the same store serves each change within a second.");
  cert->require_subcommand(1);

  CLI::App* rollover = cert->add_subcommand(
      "rollover",
      "New master secrets born in the HSM and a new certificate (new CertUri, same KmsUri), published in the "
      "certificate cache now and taking over at --valid-from, rounded up to a key-period boundary. The current "
      "certificate stays valid to its ValidTo.");
  rollover->add_option("--valid-from", opt->valid_from, "when it takes over: YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ (UTC)")
      ->required();
  rollover->add_option("--valid-to", opt->valid_to, "when it ends (default: 20 years on), rounded down to a period's end");
  AddKmsOptions(rollover, *opt);
  rollover->callback([opt, &result] { result.status = RunRollover(*opt); });

  CLI::App* list = cert->add_subcommand("list", "Every certificate with its role, window and state, and the CacheNum.");
  AddKmsOptions(list, *opt);
  list->callback([opt, &result] { result.status = RunList(*opt); });

  CLI::App* import = cert->add_subcommand(
      "import", "Serve another security domain's KmsCertificate (Role External) in the cache and by cert/<KMS URI>.");
  import->add_option("FILE", opt->file, "an XML file holding a KmsCertificate (or a KmsResponse with one)")
      ->required();
  AddKmsOptions(import, *opt);
  import->callback([opt, &result] { result.status = RunImport(*opt); });

  CLI::App* remove = cert->add_subcommand("remove", "Take an imported certificate out of the cache.");
  remove->add_option("CERT_URI", opt->cert_uri, "its CertUri (see cert list)")->required();
  AddKmsOptions(remove, *opt);
  remove->callback([opt, &result] { result.status = RunRemove(*opt); });

  CLI::App* cert_revoke = cert->add_subcommand(
      "revoke", "Revoke a certificate: served with Revoked true, no key material issued or served under it.");
  cert_revoke->add_option("CERT_URI", opt->cert_uri, "its CertUri (see cert list)")->required();
  AddKmsOptions(cert_revoke, *opt);
  cert_revoke->callback([opt, &result] { result.status = RunRevokeCertificate(*opt); });

  CLI::App* revoke = app.add_subcommand(
      "revoke",
      "Revoke a user (no key material for the periods that end at or after --from; key sets already issued for "
      "them are never served again; bulk provisioning skips the user) or a certificate.");
  auto user = revoke->add_option("--user", opt->user_uri, "the user URI to revoke");
  revoke->add_option("--from", opt->from, "from when (default now): YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ (UTC)")
      ->needs(user);
  auto by_cert = revoke->add_option("--certificate", opt->cert_uri, "a CertUri to revoke (as `cert revoke`)");
  bool list_revoked = false;
  auto listing = revoke->add_flag("--list", list_revoked, "list the revoked users");
  user->excludes(by_cert)->excludes(listing);
  by_cert->excludes(listing);
  AddKmsOptions(revoke, *opt);
  revoke->callback([opt, &result, listing, user, by_cert] {
    if (listing->count() > 0) {
      result.status = RunListRevoked(*opt);
    } else if (by_cert->count() > 0) {
      result.status = RunRevokeCertificate(*opt);
    } else if (user->count() > 0) {
      result.status = RunRevokeUser(*opt);
    } else {
      result.status = Status::InvalidArgument("say what to revoke: --user URI or --certificate CERT_URI (or --list)");
    }
  });

  CLI::App* reinstate = app.add_subcommand(
      "reinstate", "Lift a user's revocation: fresh key sets for periods that had none; revoked key sets stay revoked.");
  reinstate->add_option("--user", opt->user_uri, "the user URI")->required();
  AddKmsOptions(reinstate, *opt);
  reinstate->callback([opt, &result] { result.status = RunReinstate(*opt); });
}

}  // namespace mcx::cli
