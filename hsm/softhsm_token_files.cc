#include "hsm/softhsm_token_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>

namespace mcx::hsm {
namespace {

namespace fs = std::filesystem;

constexpr char kDefaultConf[] = "/etc/softhsm/softhsm2.conf";  // Debian's softhsm2 package

// Denied by permissions, as opposed to absent.
bool Denied(const fs::path& p, int how) {
  return faccessat(AT_FDCWD, p.c_str(), how, AT_EACCESS) != 0 && (errno == EACCES || errno == EPERM);
}

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

}  // namespace

bool IsSoftHsmModule(const fs::path& module_path) {
  return module_path.filename().string().find("softhsm") != std::string::npos;
}

fs::path SoftHsmConfPath(const ModuleEnvironment& environment) {
  for (const auto& [name, value] : environment) {
    if (name == "SOFTHSM2_CONF") return value;
  }
  const char* set = std::getenv("SOFTHSM2_CONF");
  return set != nullptr && *set != '\0' ? fs::path(set) : fs::path(kDefaultConf);
}

std::optional<fs::path> UnreadableSoftHsmPath(const fs::path& softhsm2_conf) {
  if (Denied(softhsm2_conf, R_OK)) return softhsm2_conf;
  std::ifstream in(softhsm2_conf);
  fs::path token_dir;
  for (std::string line; std::getline(in, line);) {
    line = Trim(line.substr(0, line.find('#')));
    const size_t eq = line.find('=');
    if (eq != std::string::npos && Trim(line.substr(0, eq)) == "directories.tokendir") {
      token_dir = Trim(line.substr(eq + 1));
    }
  }
  if (token_dir.empty()) return std::nullopt;
  if (Denied(token_dir, R_OK | X_OK)) return token_dir;
  std::error_code ec;
  for (const fs::directory_entry& token : fs::directory_iterator(token_dir, ec)) {
    if (!token.is_directory(ec)) continue;
    if (Denied(token.path(), R_OK | X_OK)) return token.path();
    for (const fs::directory_entry& file : fs::directory_iterator(token.path(), ec)) {
      if (Denied(file.path(), R_OK)) return file.path();
    }
  }
  return std::nullopt;
}

}  // namespace mcx::hsm
