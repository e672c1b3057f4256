#include "engine/custody/kms_config.h"

#include <cstdlib>
#include <sstream>

#include <toml++/toml.h>

#include "engine/custody/file_staging.h"
#include "engine/store/postgres_database.h"

namespace mcx {
namespace {

namespace fs = std::filesystem;

std::string Relative(const fs::path& p, const fs::path& dir) {
  fs::path rel = p.lexically_relative(dir);
  if (!rel.empty() && *rel.begin() != "..") return rel.string();
  return p.string();
}

fs::path Resolve(const std::string& p, const fs::path& dir) {
  fs::path path(p);
  return path.is_absolute() ? path : (dir / path).lexically_normal();
}

bool IsHexId(const std::string& s) {
  if (s.size() != 32) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Reads the TOML; the only place toml++'s exceptions can come from, and they stop here.
Result<toml::table> ParseFile(const fs::path& file, Env& env) {
  Result<Bytes> text = env.ReadFile(file);
  if (!text.ok()) return text.status();
  try {
    return toml::parse(std::string_view(reinterpret_cast<const char*>(text->data()), text->size()), file.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << file.string() << " line " << e.source().begin.line << ", column " << e.source().begin.column
        << ": " << e.description() << "; fix the file or re-create the KMS with `mcx-kms init`";
    return Status::InvalidArgument(msg.str());
  }
}

}  // namespace

fs::path DefaultDataDir() {
  const char* env = std::getenv(kDataDirEnvironment);
  if (env != nullptr && env[0] != '\0') return fs::path(env);
  return fs::path(kDefaultDataDirName);
}

bool HasKmsConfig(const fs::path& data_dir, Env& env) { return env.FileExists(data_dir / kKmsConfigFileName); }

Result<KmsConfig> LoadKmsConfig(const fs::path& data_dir, Env& env) {
  std::error_code ec;
  fs::path dir = fs::absolute(data_dir, ec).lexically_normal();
  if (ec) dir = data_dir;
  const fs::path file = dir / kKmsConfigFileName;
  if (!env.FileExists(file)) {
    return Status::NotFound("no KMS in '" + dir.string() + "' (it has no " + kKmsConfigFileName +
                            "): run `mcx-kms init` (or `mcx-kms init --demo`) to create one, or point "
                            "--data-dir / " + kDataDirEnvironment + " at an existing KMS");
  }
  Result<toml::table> parsed = ParseFile(file, env);
  if (!parsed.ok()) return parsed.status();
  const toml::table& t = *parsed;
  auto missing = [&](const char* key, const char* what) {
    return Status::InvalidArgument(file.string() + ": " + key + " is missing or not " + what +
                                   "; fix the file or re-create the KMS with `mcx-kms init`");
  };

  KmsConfig c;
  c.data_dir = dir;
  std::optional<std::string> uri = t["kms"]["uri"].value<std::string>();
  if (!uri) return missing("kms.uri", "a string");
  // value_exact: an integer only. value<int64_t>() would also try to convert a float, and casts
  // one beyond int64's range (undefined behaviour, found by tests/fuzz/kms_config_fuzzer.cc).
  std::optional<int64_t> period = t["kms"]["user_key_period"].value_exact<int64_t>();
  if (!period) return missing("kms.user_key_period", "an integer");
  std::optional<int64_t> offset = t["kms"]["user_key_offset"].value_exact<int64_t>();
  if (!offset) return missing("kms.user_key_offset", "an integer");
  Result<CommunityParameters> params = CommunityParameters::Make(*uri, *period, *offset);
  if (!params.ok()) return params.status().Annotate(file.string());
  c.params = *params;
  std::optional<std::string> id = t["kms"]["id"].value<std::string>();
  if (!id || !IsHexId(*id)) return missing("kms.id", "32 lower-case hex digits");
  c.kms_id = *id;

  std::optional<std::string> module = t["hsm"]["module"].value<std::string>();
  if (!module || module->empty()) return missing("hsm.module", "a path");
  c.module_path = *module;
  std::optional<std::string> label = t["hsm"]["token_label"].value<std::string>();
  if (!label || label->empty()) return missing("hsm.token_label", "a string");
  c.token_label = *label;
  std::optional<std::string> pin_env = t["hsm"]["pin_env"].value<std::string>();
  std::optional<std::string> pin_file = t["hsm"]["pin_file"].value<std::string>();
  if (pin_env.has_value() == pin_file.has_value()) {
    return Status::InvalidArgument(file.string() + ": give exactly one of hsm.pin_env and hsm.pin_file");
  }
  c.pin = pin_env ? hsm::PinSource::Environment(*pin_env)
                  : hsm::PinSource::File(Resolve(*pin_file, dir).string());
  if (std::optional<std::string> conf = t["hsm"]["softhsm2_conf"].value<std::string>()) {
    c.softhsm2_conf = Resolve(*conf, dir);
  }
  c.store_path = Resolve(t["store"]["path"].value_or<std::string>("store.sqlite"), dir);
  c.store_url = t["store"]["url"].value_or<std::string>("");
  if (!c.store_url.empty() && !IsPostgresUrl(c.store_url)) {
    return Status::InvalidArgument(file.string() + ": store.url must be a PostgreSQL URL (postgresql://user@host:port/"
                                   "database); leave it out for the SQLite store at store.path");
  }
  if (std::optional<std::string> key = t["idms"]["public_key"].value<std::string>()) {
    c.idms_public_key = Resolve(*key, dir);
  }
  c.idms_issuer = t["idms"]["issuer"].value_or<std::string>("");
  c.idms_audience = t["idms"]["audience"].value_or<std::string>("mcx-kms");
  const std::string on_failure = t["audit"]["on_failure"].value_or<std::string>("refuse");
  if (on_failure != "refuse" && on_failure != "serve") {
    return Status::InvalidArgument(file.string() + ": audit.on_failure must be \"refuse\" (the default) or \"serve\"");
  }
  c.audit_fail_open = on_failure == "serve";
  return c;
}

std::string FormatKmsConfig(const KmsConfig& c) {
  toml::table kms{
      {"uri", c.params.kms_uri},
      {"id", c.kms_id},
      {"user_key_period", static_cast<int64_t>(c.params.user_key_period)},
      {"user_key_offset", static_cast<int64_t>(c.params.user_key_offset)},
  };
  toml::table hsm{{"module", c.module_path.string()}, {"token_label", c.token_label}};
  if (c.pin.kind == hsm::PinSource::Kind::kEnvironment) hsm.insert("pin_env", c.pin.name);
  if (c.pin.kind == hsm::PinSource::Kind::kFile) hsm.insert("pin_file", Relative(c.pin.name, c.data_dir));
  if (!c.softhsm2_conf.empty()) hsm.insert("softhsm2_conf", Relative(c.softhsm2_conf, c.data_dir));
  toml::table store{{"path", Relative(c.store_path, c.data_dir)}};
  if (!c.store_url.empty()) store.insert("url", c.store_url);
  toml::table audit{{"on_failure", c.audit_fail_open ? "serve" : "refuse"}};
  toml::table root{{"kms", kms}, {"hsm", hsm}, {"store", store}, {"audit", audit}};
  if (!c.idms_public_key.empty()) {
    root.insert("idms", toml::table{{"public_key", Relative(c.idms_public_key, c.data_dir)},
                                    {"issuer", c.idms_issuer},
                                    {"audience", c.idms_audience}});
  }
  std::ostringstream out;
  out << "# mcx-kms configuration, written by `mcx-kms init`. No secrets here: the token PIN is read\n"
         "# from hsm.pin_env or hsm.pin_file. Relative paths are relative to this directory.\n"
         "# Never change kms.uri or kms.id: every issued key and sealed secret depends on them.\n\n"
      << root << "\n";
  return out.str();
}

Status SaveKmsConfig(const KmsConfig& config, Env& env) {
  Result<FileStaging> staging = FileStaging::Begin(config.data_dir, env);
  if (!staging.ok()) return staging.status();
  MCX_RETURN_IF_ERROR(staging->Add(kKmsConfigFileName, AsBytes(FormatKmsConfig(config)), 0600));
  return staging->Commit();
}

}  // namespace mcx
