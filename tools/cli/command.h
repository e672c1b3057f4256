// Each subcommand registers itself on the application and reports its exit status through the
// shared CommandResult. Subcommands print operator-facing errors to stderr in one place (main).
#pragma once

#include <CLI/CLI.hpp>

#include "base/status.h"

namespace mcx::cli {

// Exit status of a run that completed but skipped some input (bad lines, unkeyable pairs).
inline constexpr int kExitSkippedInput = 3;

struct CommandResult {
  Status status;
  int exit_code = 0;  // set by commands that exit non-zero without an error (e.g. skipped input)
};

// Where `serve --demo` and `token` keep the test IdMS key by default.
inline constexpr const char* kDefaultDemoDir = "mcx-kms-demo";

void RegisterAuditCommand(CLI::App& app, CommandResult& result);
void RegisterBenchCommand(CLI::App& app, CommandResult& result);
void RegisterCheckStoreCommand(CLI::App& app, CommandResult& result);
void RegisterDemoCommand(CLI::App& app, CommandResult& result);
void RegisterHsmCommand(CLI::App& app, CommandResult& result);
void RegisterInitCommand(CLI::App& app, CommandResult& result);
// cert {rollover,list,import,remove,revoke}, revoke, reinstate.
void RegisterLifecycleCommands(CLI::App& app, CommandResult& result);
void RegisterProvisionCommand(CLI::App& app, CommandResult& result);
void RegisterVerifyCommand(CLI::App& app, CommandResult& result);
void RegisterServeCommand(CLI::App& app, CommandResult& result);
void RegisterTokenCommand(CLI::App& app, CommandResult& result);

}  // namespace mcx::cli
