#include "engine/custody/certificate_record.h"

#include <sstream>

#include <toml++/toml.h>

namespace mcx {
Bytes EncodeCertificateRecord(const KmsCertificate& c) {
  toml::array domains;
  for (const std::string& d : c.kms_domains) domains.push_back(d);
  // NTP seconds fit in TOML's signed 64-bit integers for the next 292 billion years.
  toml::table t{
      {"version", c.version},
      {"role", c.role},
      {"cert_uri", c.cert_uri},
      {"kms_uri", c.params.kms_uri},
      {"issuer", c.issuer},
      {"valid_from", static_cast<int64_t>(c.valid_from)},
      {"valid_to", static_cast<int64_t>(c.valid_to)},
      {"user_id_format", static_cast<int64_t>(c.user_id_format)},
      {"user_key_period", static_cast<int64_t>(c.params.user_key_period)},
      {"user_key_offset", static_cast<int64_t>(c.params.user_key_offset)},
      {"pub_enc_key", ToUpperHex(c.keys.z_pub)},
      {"pub_auth_key", ToUpperHex(c.keys.kpak)},
      {"parameter_set", static_cast<int64_t>(c.parameter_set)},
      {"kms_domains", domains},
  };
  std::ostringstream text;
  text << t;
  const std::string s = text.str();
  return Bytes(s.begin(), s.end());
}

Result<KmsCertificate> DecodeCertificateRecord(ByteView record, const std::string& origin) {
  toml::table t;
  try {
    t = toml::parse(std::string_view(reinterpret_cast<const char*>(record.data()), record.size()), origin);
  } catch (const toml::parse_error& e) {
    return Status::DataLoss("the certificate record " + origin + " is damaged (" + std::string(e.description()) +
                            "); restore the store from backup");
  }
  auto bad = [&](const char* key) {
    return Status::DataLoss("the certificate record " + origin + " has no valid " + key +
                            "; restore the store from backup");
  };
  KmsCertificate c;
  auto text = [&](const char* key, std::string& out) {
    std::optional<std::string> v = t[key].value<std::string>();
    if (v) out = *v;
    return v.has_value();
  };
  auto integer = [&](const char* key, int64_t& out) {
    std::optional<int64_t> v = t[key].value_exact<int64_t>();
    if (v) out = *v;
    return v.has_value();
  };
  std::string kms_uri;
  int64_t from = 0, to = 0, format = 0, period = 0, offset = 0, set = 0;
  if (!text("version", c.version) || !text("role", c.role) || !text("cert_uri", c.cert_uri) ||
      !text("kms_uri", kms_uri) || !text("issuer", c.issuer)) {
    return bad("version, role, cert_uri, kms_uri or issuer");
  }
  if (!integer("valid_from", from) || !integer("valid_to", to) || !integer("user_id_format", format) ||
      !integer("user_key_period", period) || !integer("user_key_offset", offset) || !integer("parameter_set", set) ||
      from < 0 || to < 0) {
    return bad("validity, user_id_format, user_key_period, user_key_offset or parameter_set");
  }
  Result<CommunityParameters> params = CommunityParameters::Make(kms_uri, period, offset);
  if (!params.ok()) return params.status().Annotate(origin);
  c.params = *params;
  c.valid_from = static_cast<NtpSeconds>(from);
  c.valid_to = static_cast<NtpSeconds>(to);
  c.user_id_format = static_cast<int>(format);
  c.parameter_set = static_cast<int>(set);
  if (!FromHexInto(t["pub_enc_key"].value_or<std::string>(""), c.keys.z_pub)) return bad("pub_enc_key");
  if (!FromHexInto(t["pub_auth_key"].value_or<std::string>(""), c.keys.kpak)) return bad("pub_auth_key");
  if (const toml::array* domains = t["kms_domains"].as_array()) {
    for (const auto& d : *domains) {
      std::optional<std::string> v = d.value<std::string>();
      if (!v) return bad("kms_domains");
      c.kms_domains.push_back(*v);
    }
  }
  return c;
}

StoredCertificate CertificateRow(const KmsCertificate& cert, const SealedMasterSecrets* sealed) {
  StoredCertificate row;
  row.cert_uri = cert.cert_uri;
  row.own = sealed != nullptr;
  row.record = EncodeCertificateRecord(cert);
  if (sealed != nullptr) {
    row.sealed_z = sealed->z;
    row.sealed_ksak = sealed->ksak;
  }
  row.valid_from = cert.valid_from;
  row.valid_to = cert.valid_to != 0 ? cert.valid_to : ~NtpSeconds{0} >> 1;
  row.revoked = cert.revoked;
  return row;
}

}  // namespace mcx
