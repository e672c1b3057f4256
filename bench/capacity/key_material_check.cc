#include "bench/capacity/key_material_check.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <map>
#include <memory>

#include "base/bytes.h"
#include "base/secret.h"
#include "engine/keys/client_check.h"
#include "engine/keys/key_period.h"
#include "engine/keys/mikey_sakke_uid.h"

namespace mcx::capacity {
namespace {

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocFree>;

// Child element name -> trimmed text.
using Fields = std::map<std::string, std::string>;

DocPtr ParseXml(const std::string& xml) {
  return DocPtr(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "answer.xml", nullptr,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
}

std::string Trimmed(const xmlNode* n) {
  xmlChar* text = xmlNodeGetContent(n);
  std::string out = text != nullptr ? reinterpret_cast<const char*>(text) : "";
  if (text != nullptr) {
    SecureWipe(text, out.size());
    xmlFree(text);
  }
  const size_t b = out.find_first_not_of(" \t\r\n");
  const size_t e = out.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : out.substr(b, e - b + 1);
}

// The fields of every element named `name`, anywhere under `n`.
void Collect(const xmlNode* n, const char* name, std::vector<Fields>& out) {
  for (; n != nullptr; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    if (xmlStrcmp(n->name, reinterpret_cast<const xmlChar*>(name)) == 0) {
      Fields f;
      for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) f[reinterpret_cast<const char*>(c->name)] = Trimmed(c);
      }
      out.push_back(std::move(f));
    } else {
      Collect(n->children, name, out);
    }
  }
}

void WipeFields(std::vector<Fields>& sets) {
  for (Fields& f : sets) {
    for (auto& [k, v] : f) SecureWipe(v.data(), v.size());
  }
}

template <size_t N>
Status FixedHex(const Fields& f, const char* name, std::array<uint8_t, N>& out) {
  auto it = f.find(name);
  if (it == f.end()) return Status::InvalidArgument(std::string("no ") + name);
  Result<Bytes> b = FromHex(it->second);
  if (!b.ok() || b->size() != N) return Status::InvalidArgument(std::string(name) + " is not " + std::to_string(N) + " octets of hex");
  std::copy(b->begin(), b->end(), out.begin());
  return Status::Ok();
}

Result<SecretBytes> SecretHex(const Fields& f, const char* name) {
  auto it = f.find(name);
  if (it == f.end()) return Status::InvalidArgument(std::string("no ") + name);
  Result<Bytes> b = FromHex(it->second);
  if (!b.ok()) return Status::InvalidArgument(std::string(name) + " is not hex");
  SecretBytes s(*b);
  SecureWipe(b->data(), b->size());
  return s;
}

Result<uint64_t> Number(const Fields& f, const char* name) {
  auto it = f.find(name);
  if (it == f.end() || it->second.empty()) return Status::InvalidArgument(std::string("no ") + name);
  char* end = nullptr;
  const unsigned long long v = std::strtoull(it->second.c_str(), &end, 10);
  if (*end != '\0') return Status::InvalidArgument(std::string(name) + " is not a number");
  return static_cast<uint64_t>(v);
}

Status CheckOneKeySet(const KmsPublicView& kms, const Fields& f) {
  auto user = f.find("UserUri");
  if (user == f.end()) return Status::InvalidArgument("a KmsKeySet has no UserUri");
  Result<uint64_t> period = Number(f, "KeyPeriodNo");
  if (!period.ok()) return period.status();
  Uid uid{};
  MCX_RETURN_IF_ERROR(FixedHex(f, "UserID", uid));
  Result<Uid> expected = MikeySakkeUid(user->second, kms.params, *period);
  if (!expected.ok()) return expected.status().Annotate("UserUri");
  if (*expected != uid) return Status::InvalidArgument("UserID is not the UID of UserUri and KeyPeriodNo");
  P256Point pvt{};
  MCX_RETURN_IF_ERROR(FixedHex(f, "UserPubTokenPVT", pvt));
  Result<SecretBytes> rsk = SecretHex(f, "UserDecryptKey");
  if (!rsk.ok()) return rsk.status();
  Result<SecretBytes> ssk = SecretHex(f, "UserSigningKeySSK");
  if (!ssk.ok()) return ssk.status();
  MCX_RETURN_IF_ERROR(CheckReceiverSecretKey(kms.keys.z_pub, uid, rsk->view()).Annotate("RSK"));
  return CheckSigningKey(kms.keys.kpak, uid, ssk->view(), pvt).Annotate("SSK/PVT");
}

}  // namespace

Result<KmsPublicView> ParseKmsInitPublicKeys(const std::string& init_xml, const std::string& cert_uri) {
  DocPtr doc = ParseXml(init_xml);
  if (!doc) return Status::InvalidArgument("the KmsInit answer is not well-formed XML");
  std::vector<Fields> certs;
  Collect(xmlDocGetRootElement(doc.get()), "KmsCertificate", certs);
  if (certs.empty()) return Status::InvalidArgument("the KmsInit answer has no KmsCertificate");
  const Fields* chosen = &certs.front();
  if (!cert_uri.empty()) {
    chosen = nullptr;
    for (const Fields& f : certs) {
      auto uri = f.find("CertUri");
      if (uri != f.end() && uri->second == cert_uri) chosen = &f;
    }
    if (chosen == nullptr) return Status::InvalidArgument("the answer has no KmsCertificate with CertUri " + cert_uri);
  }
  const Fields& c = *chosen;
  auto kms_uri = c.find("KmsUri");
  if (kms_uri == c.end()) return Status::InvalidArgument("the KmsCertificate has no KmsUri");
  Result<uint64_t> period = Number(c, "UserKeyPeriod");
  if (!period.ok()) return period.status();
  Result<uint64_t> offset = Number(c, "UserKeyOffset");
  if (!offset.ok()) return offset.status();
  Result<CommunityParameters> params = CommunityParameters::Make(kms_uri->second, static_cast<int64_t>(*period),
                                                                 static_cast<int64_t>(*offset));
  if (!params.ok()) return params.status().Annotate("the KmsCertificate");
  KmsPublicView view{*params, {}};
  MCX_RETURN_IF_ERROR(FixedHex(c, "PubEncKey", view.keys.z_pub));
  MCX_RETURN_IF_ERROR(FixedHex(c, "PubAuthKey", view.keys.kpak));
  for (auto [name, out] : {std::pair{"ValidFrom", &view.valid_from}, std::pair{"ValidTo", &view.valid_to}}) {
    auto field = c.find(name);
    if (field == c.end()) continue;
    Result<NtpSeconds> t = ParseUtc(field->second);
    if (!t.ok()) return t.status().Annotate(std::string("the KmsCertificate's ") + name);
    *out = *t;
  }
  return view;
}

Result<std::pair<NtpSeconds, NtpSeconds>> OnDemandWindow(const KmsPublicView& kms, NtpSeconds now,
                                                         uint64_t periods_ahead) {
  Result<KeyPeriod> current = KeyPeriod::Containing(kms.params, now);
  if (!current.ok()) return current.status();
  const auto period = static_cast<NtpSeconds>(kms.params.user_key_period);
  const NtpSeconds from = current->valid_from + 2 * period;
  NtpSeconds to = kms.valid_to;
  // The server's bound, where it comes before the certificate's end (no overflow past it).
  if (to > current->valid_to && periods_ahead < (to - current->valid_to) / period) {
    to = current->valid_to + periods_ahead * period;
  }
  if (periods_ahead < 2) {
    return Status::InvalidArgument("the KMS hands out keys only " + std::to_string(periods_ahead) +
                                   " period(s) ahead, which leaves no key period past the next one for an on-demand "
                                   "load: serve with --max-periods-ahead 2 or more and pass the same here");
  }
  if (to <= from) {
    return Status::InvalidArgument(
        "the KMS certificate (valid to " + (to == 0 ? std::string("an unknown date") : FormatUtc(to)) +
        ") leaves no key period past the next one, where an on-demand load could ask for key sets the KMS has "
        "not pre-provisioned: measure on-demand derivation with `bench local`");
  }
  return std::make_pair(from, to);
}

KeyMaterialVerdict CheckKeyProvAnswers(const KmsPublicView& kms, const std::vector<std::string>& answers) {
  KeyMaterialVerdict v;
  constexpr size_t kProblemsKept = 5;
  for (const std::string& answer : answers) {
    ++v.answers;
    Status st;
    DocPtr doc = ParseXml(answer);
    std::vector<Fields> sets;
    if (!doc) {
      st = Status::InvalidArgument("not well-formed XML");
    } else {
      Collect(xmlDocGetRootElement(doc.get()), "KmsKeySet", sets);
      if (sets.empty()) st = Status::InvalidArgument("no KmsKeySet");
      for (const Fields& f : sets) {
        ++v.key_sets;
        if (st.ok()) st = CheckOneKeySet(kms, f);
      }
      WipeFields(sets);
    }
    if (!st.ok()) {
      ++v.invalid;
      if (v.problems.size() < kProblemsKept) v.problems.push_back(st.ToString());
    }
  }
  return v;
}

}  // namespace mcx::capacity
