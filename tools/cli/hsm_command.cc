// `mcx-kms hsm info`: what a PKCS#11 module offers (slots, tokens, mechanisms) and whether each
// token has what mcx-kms needs. Needs no PIN: it only reads public token information.
#include <cstdio>

#include <fmt/format.h>

#include "engine/custody/kms_token.h"
#include "hsm/token_requirements.h"
#include "tools/cli/command.h"
#include "tools/cli/kms_options.h"

namespace mcx::cli {
namespace {

struct HsmInfoFlags {
  KmsLocation loc;
};

void PrintMechanisms(const std::vector<CK_MECHANISM_TYPE>& mechs) {
  std::string line = "      ";
  for (size_t i = 0; i < mechs.size(); ++i) {
    std::string name = hsm::MechanismName(mechs[i]) + (i + 1 < mechs.size() ? ", " : "");
    if (line.size() + name.size() > 100) {
      fmt::print("{}\n", line);
      line = "      ";
    }
    line += name;
  }
  fmt::print("{}\n", line);
}

Status RunHsmInfo(const HsmInfoFlags& f) {
  KmsConfig config;
  std::string configured_label;
  if (f.loc.data_dir_given() || HasKmsConfig(f.loc.DataDir())) {
    Result<KmsConfig> loaded = LoadKmsConfig(f.loc);
    if (!loaded.ok()) return loaded.status();
    config = *loaded;
    configured_label = config.token_label;
  } else if (f.loc.module.empty()) {
    return Status::InvalidArgument("no KMS here to take the module from: pass --module PATH or --data-dir DIR");
  } else {
    config.module_path = f.loc.module;
  }
  Result<std::shared_ptr<hsm::Pkcs11Module>> module = LoadKmsModule(config);
  if (!module.ok()) return module.status();
  Result<hsm::ModuleDescription> d = (*module)->Describe();
  if (!d.ok()) return d.status();
  fmt::print("module {}\n  {}, {}, Cryptoki {}.{}\n", config.module_path.string(), d->manufacturer, d->library,
             d->cryptoki_major, d->cryptoki_minor);
  Result<std::vector<hsm::SlotDescription>> slots = (*module)->Slots();
  if (!slots.ok()) return slots.status();
  bool configured_found = configured_label.empty();
  for (const hsm::SlotDescription& s : *slots) {
    fmt::print("slot {}: {}\n", s.id, s.description);
    if (!s.token_present) { std::fputs("  no token\n", stdout); continue; }
    if (!s.token_initialized) { std::fputs("  token not initialised\n", stdout); continue; }
    const bool ours = s.token_label == configured_label;
    configured_found = configured_found || ours;
    fmt::print("  token '{}' (model {}, serial {}){}\n", s.token_label, s.token_model, s.token_serial,
               ours ? "  <- this KMS's token" : "");
    Result<std::vector<CK_MECHANISM_TYPE>> mechs = (*module)->Mechanisms(s.id);
    if (mechs.ok()) {
      fmt::print("    {} mechanisms:\n", mechs->size());
      PrintMechanisms(*mechs);
    }
    Result<std::vector<hsm::TokenRequirement>> reqs = hsm::CheckTokenRequirements(**module, s.id);
    if (!reqs.ok()) return reqs.status();
    std::fputs("    what mcx-kms needs:\n", stdout);
    for (const hsm::TokenRequirement& r : *reqs) {
      fmt::print("      [{}] {:<18} for {}\n", r.met ? "ok" : "MISSING", r.name, r.needed);
    }
  }
  if (!configured_found) {
    return Status::NotFound("this KMS's token '" + configured_label + "' is not among the module's tokens");
  }
  return Status::Ok();
}

}  // namespace

void RegisterHsmCommand(CLI::App& app, CommandResult& result) {
  CLI::App* hsm = app.add_subcommand("hsm", "Inspect the PKCS#11 HSM.");
  hsm->require_subcommand(1);
  auto f = std::make_shared<HsmInfoFlags>();
  CLI::App* info = hsm->add_subcommand(
      "info", "List the module's slots, tokens and mechanisms, and whether each token offers what mcx-kms needs "
              "(CKM_AES_KEY_GEN, CKM_AES_GCM, CKM_GENERIC_SECRET_KEY_GEN, CKM_SHA256_HMAC, a random generator). "
              "The module comes from --module or the KMS's configuration.");
  AddDataDirOption(info, f->loc);
  info->add_option("--module", f->loc.module, "path of the PKCS#11 library to inspect");
  info->callback([f, &result] { result.status = RunHsmInfo(*f); });
}

}  // namespace mcx::cli
