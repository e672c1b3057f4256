// mcx-kms: the KMS's command line.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/math/lane_field.h"
#include "tools/cli/command.h"
#include "tools/cli/kms_options.h"

namespace {

// The arithmetic paths this CPU has and the one in use: --help says what a figure measured.
std::string MathPathFooter() {
  std::string have;
  for (mcx::MathPath p : {mcx::MathPath::kIfma, mcx::MathPath::kAvx2, mcx::MathPath::kPortable}) {
    if (!mcx::MathPathAvailable(p)) continue;
    have += have.empty() ? "" : ", ";
    have += mcx::MathPathName(p);
  }
  const char* forced = std::getenv("MCX_MATH_PATH");
  mcx::Result<mcx::MathPath> in_use = mcx::ParseMathPath(forced);
  std::string footer = "Arithmetic: this CPU runs " + have + "; ";
  if (!in_use.ok()) {
    footer += "MCX_MATH_PATH is wrong: " + in_use.status().message();
  } else {
    footer += std::string("in use: ") + mcx::MathPathName(*in_use) +
              (forced != nullptr && *forced != '\0' ? " (forced by MCX_MATH_PATH)" : " (the fastest)");
  }
  return footer + ".\nMCX_MATH_PATH=ifma|avx2|portable forces one path (bench figures name the path they ran).";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "mcx-kms: a Key Management Server for 3GPP mission-critical services (MCPTT, MCData, "
      "MCVideo).\nIt issues MIKEY-SAKKE key material: per user and key period, a SAKKE receiver "
      "secret key\n(RFC 6508) and an ECCSI signing key and token (RFC 6507)."};
  app.footer(MathPathFooter());
  app.require_subcommand(1);
  app.set_version_flag("--version", "mcx-kms 0.1.0");
  mcx::cli::SetCommandLine(argc, argv);
  mcx::cli::CommandResult result;
  mcx::cli::RegisterAuditCommand(app, result);
  mcx::cli::RegisterBenchCommand(app, result);
  mcx::cli::RegisterCheckStoreCommand(app, result);
  mcx::cli::RegisterDemoCommand(app, result);
  mcx::cli::RegisterHsmCommand(app, result);
  mcx::cli::RegisterInitCommand(app, result);
  mcx::cli::RegisterLifecycleCommands(app, result);
  mcx::cli::RegisterProvisionCommand(app, result);
  mcx::cli::RegisterVerifyCommand(app, result);
  mcx::cli::RegisterServeCommand(app, result);
  mcx::cli::RegisterTokenCommand(app, result);
  CLI11_PARSE(app, argc, argv);
  if (!result.status.ok()) {
    std::fprintf(stderr, "mcx-kms: %s\n", result.status.ToString().c_str());
    return result.exit_code != 0 ? result.exit_code : 1;
  }
  return result.exit_code;
}
