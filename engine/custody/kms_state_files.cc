#include "engine/custody/kms_state_files.h"

#include <sstream>

#include <toml++/toml.h>

namespace mcx {
namespace {

namespace fs = std::filesystem;


}  // namespace

Result<KmsCertificateRecord> KmsStateFiles::ReadCertificate() const {
  const fs::path file = dir_ / kCertificateFile;
  if (!env_.FileExists(file)) {
    return Status::NotFound("the KMS certificate '" + file.string() +
                            "' is missing; restore the data directory from backup");
  }
  Result<Bytes> text = env_.ReadFile(file);
  if (!text.ok()) return text.status();
  return ParseCertificate(std::string(text->begin(), text->end()), file.string());
}

Result<KmsCertificateRecord> ParseCertificate(const std::string& text, const std::string& origin) {
  toml::table t;
  try {
    t = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return Status::DataLoss("the KMS certificate '" + origin + "' is not valid TOML (" +
                            std::string(e.description()) + "); restore it from backup");
  }
  auto bad = [&](const char* key) {
    return Status::DataLoss("the KMS certificate '" + origin + "' has no valid " + key +
                            "; restore it from backup");
  };
  const auto cert = t["certificate"];
  std::optional<std::string> uri = cert["kms_uri"].value<std::string>();
  std::optional<int64_t> period = cert["user_key_period"].value_exact<int64_t>();
  std::optional<int64_t> offset = cert["user_key_offset"].value_exact<int64_t>();
  if (!uri || !period || !offset) return bad("kms_uri, user_key_period or user_key_offset");
  Result<CommunityParameters> params = CommunityParameters::Make(*uri, *period, *offset);
  if (!params.ok()) return params.status().Annotate(origin);
  KmsCertificateRecord c;
  c.params = *params;
  std::optional<std::string> id = cert["kms_id"].value<std::string>();
  if (!id) return bad("kms_id");
  c.kms_id = *id;
  if (!FromHexInto(cert["pub_enc_key"].value_or<std::string>(""), c.pub.z_pub)) return bad("pub_enc_key");
  if (!FromHexInto(cert["pub_auth_key"].value_or<std::string>(""), c.pub.kpak)) return bad("pub_auth_key");
  return c;
}

Result<SealedMasterSecrets> KmsStateFiles::ReadSealedSecrets() const {
  SealedMasterSecrets s;
  for (auto [name, out] : {std::pair{kSealedZFile, &s.z}, std::pair{kSealedKsakFile, &s.ksak}}) {
    Result<Bytes> blob = env_.ReadFile(dir_ / name);
    if (!blob.ok()) {
      return blob.status().Annotate("the sealed master secrets are incomplete; restore the data directory from backup");
    }
    *out = std::move(blob).value();
  }
  return s;
}

Status KmsStateFiles::Stage(FileStaging& staging, const KmsCertificateRecord& cert, const SealedMasterSecrets& sealed) {
  toml::table body{
      {"kms_uri", cert.params.kms_uri},
      {"kms_id", cert.kms_id},
      {"user_key_period", static_cast<int64_t>(cert.params.user_key_period)},
      {"user_key_offset", static_cast<int64_t>(cert.params.user_key_offset)},
      {"sakke_parameter_set", static_cast<int64_t>(kSakkeParameterSet)},
      {"user_id_format", static_cast<int64_t>(kUserIdFormat)},
      {"pub_enc_key", ToUpperHex(cert.pub.z_pub)},
      {"pub_auth_key", ToUpperHex(cert.pub.kpak)},
  };
  std::ostringstream text;
  text << "# The public KMS certificate (TS 33.180 KmsCertificate fields). Public; no secrets.\n\n"
       << toml::table{{"certificate", body}} << "\n";
  const std::string s = text.str();
  MCX_RETURN_IF_ERROR(staging.Add(kSealedZFile, sealed.z, 0600));
  MCX_RETURN_IF_ERROR(staging.Add(kSealedKsakFile, sealed.ksak, 0600));
  return staging.Add(kCertificateFile, AsBytes(s), 0600);
}

}  // namespace mcx
