// `mcx-kms hsm info`: what a PKCS#11 module offers (slots, tokens, mechanisms) and whether each
// token has what mcx-kms needs. Needs no PIN: it only reads public token information.
#include <cstdio>

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
      std::printf("%s\n", line.c_str());
      line = "      ";
    }
    line += name;
  }
  std::printf("%s\n", line.c_str());
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
  std::printf("module %s\n  %s, %s, Cryptoki %d.%d\n", config.module_path.string().c_str(), d->manufacturer.c_str(),
              d->library.c_str(), d->cryptoki_major, d->cryptoki_minor);
  Result<std::vector<hsm::SlotDescription>> slots = (*module)->Slots();
  if (!slots.ok()) return slots.status();
  bool configured_found = configured_label.empty();
  for (const hsm::SlotDescription& s : *slots) {
    std::printf("slot %lu: %s\n", static_cast<unsigned long>(s.id), s.description.c_str());
    if (!s.token_present) { std::printf("  no token\n"); continue; }
    if (!s.token_initialized) { std::printf("  token not initialised\n"); continue; }
    const bool ours = s.token_label == configured_label;
    configured_found = configured_found || ours;
    std::printf("  token '%s' (model %s, serial %s)%s\n", s.token_label.c_str(), s.token_model.c_str(),
                s.token_serial.c_str(), ours ? "  <- this KMS's token" : "");
    Result<std::vector<CK_MECHANISM_TYPE>> mechs = (*module)->Mechanisms(s.id);
    if (mechs.ok()) {
      std::printf("    %zu mechanisms:\n", mechs->size());
      PrintMechanisms(*mechs);
    }
    Result<std::vector<hsm::TokenRequirement>> reqs = hsm::CheckTokenRequirements(**module, s.id);
    if (!reqs.ok()) return reqs.status();
    std::printf("    what mcx-kms needs:\n");
    for (const hsm::TokenRequirement& r : *reqs) {
      std::printf("      [%s] %-18s for %s\n", r.met ? "ok" : "MISSING", r.name.c_str(), r.needed.c_str());
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
              "(CKM_AES_KEY_GEN, CKM_AES_GCM, a random generator). The module comes from --module or the KMS's "
              "configuration.");
  AddDataDirOption(info, f->loc);
  info->add_option("--module", f->loc.module, "path of the PKCS#11 library to inspect");
  info->callback([f, &result] { result.status = RunHsmInfo(*f); });
}

}  // namespace mcx::cli
