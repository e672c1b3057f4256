// mcx-kms: the KMS's command line.
#include <cstdio>

#include "tools/cli/command.h"
#include "tools/cli/kms_options.h"

int main(int argc, char** argv) {
  CLI::App app{
      "mcx-kms: a Key Management Server for 3GPP mission-critical services (MCPTT, MCData, "
      "MCVideo).\nIt issues MIKEY-SAKKE key material: per user and key period, a SAKKE receiver "
      "secret key\n(RFC 6508) and an ECCSI signing key and token (RFC 6507)."};
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
