#include "api/kms_xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <atomic>
#include <memory>

#include "base/bytes.h"

namespace mcx::api {
namespace {

// Appends <name>escaped text</name>.
void Element(SecretString& out, const char* name, std::string_view text) {
  out += '<';
  out += name;
  out += '>';
  AppendXmlEscaped(out, text);
  out += "</";
  out += name;
  out += '>';
}

void Element(SecretString& out, const char* name, uint64_t value) { Element(out, name, std::to_string(value)); }

// '0'-'9', 'A'-'F' for a nibble, without a branch or a table lookup on its value.
char HexDigitOf(unsigned nibble) {
  // 7 more past '9' reaches 'A': added under a mask that is all ones when nibble > 9.
  const unsigned above_nine = 0u - ((9u - nibble) >> 31);
  return static_cast<char>('0' + nibble + (7u & above_nine));
}

// A key: hexBinary on one line, with the concrete type the abstract key type needs.
void KeyElement(SecretString& out, const char* name, ByteView key) {
  out += '<';
  out += name;
  out += " xsi:type=\"KeyContentType\">";
  // Straight into the document: no temporary copy of a secret key. (A table index by a key's
  // octets would be a secret-dependent memory access; the arithmetic form has none.)
  const size_t at = out.size();
  out.resize(at + 2 * key.size());
  char* hex = out.data() + at;
  for (size_t i = 0; i < key.size(); ++i) {
    hex[2 * i] = HexDigitOf(key[i] >> 4);
    hex[2 * i + 1] = HexDigitOf(key[i] & 0xf);
  }
  out += "</";
  out += name;
  out += '>';
}

void Open(SecretString& out, const KmsResponseHeader& h) {
  if (out.capacity() < 2048) out.reserve(2048);
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<KmsResponse xmlns=\"";
  out += kKmsNamespace;
  out += "\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" Version=\"1.0.0\">";
  // The 3GPP schema's order: UserUri, KmsUri, Time, KmsId?, ClientReqUrl. UserUri is required
  // in every response, so an error for a request that names no user carries an empty one.
  Element(out, "UserUri", h.user_uri);
  Element(out, "KmsUri", h.kms_uri);
  Element(out, "Time", FormatUtc(h.time));
  Element(out, "ClientReqUrl", h.client_req_url);
}

void Close(SecretString& out) { out += "</KmsResponse>\n"; }

void Certificate(SecretString& out, const KmsCertificate& c) {
  out += "<KmsCertificate Id=\"";
  AppendXmlEscaped(out, c.cert_uri);
  out += "\" Version=\"";
  AppendXmlEscaped(out, c.version);
  out += "\" Role=\"";
  AppendXmlEscaped(out, c.role);
  out += "\">";
  Element(out, "CertUri", c.cert_uri);
  Element(out, "KmsUri", c.params.kms_uri);
  Element(out, "Issuer", c.issuer);
  Element(out, "ValidFrom", FormatUtc(c.valid_from));
  Element(out, "ValidTo", FormatUtc(c.valid_to));
  Element(out, "Revoked", c.revoked ? "true" : "false");
  Element(out, "UserIdFormat", static_cast<uint64_t>(c.user_id_format));
  Element(out, "UserKeyPeriod", c.params.user_key_period);
  Element(out, "UserKeyOffset", c.params.user_key_offset);
  Element(out, "PubEncKey", ToUpperHex(c.keys.z_pub));
  Element(out, "PubAuthKey", ToUpperHex(c.keys.kpak));
  Element(out, "ParameterSet", static_cast<uint64_t>(c.parameter_set));
  if (!c.kms_domains.empty()) {
    out += "<KmsDomainList>";
    for (const std::string& d : c.kms_domains) Element(out, "KmsDomain", d);
    out += "</KmsDomainList>";
  }
  out += "</KmsCertificate>";
}

struct DocFree { void operator()(xmlDoc* d) const { xmlFreeDoc(d); } };

bool InKmsNamespace(const xmlNode* n) {
  return n->ns != nullptr && xmlStrcmp(n->ns->href, reinterpret_cast<const xmlChar*>(kKmsNamespace)) == 0;
}

std::string TextOf(const xmlNode* n) {
  xmlChar* text = xmlNodeGetContent(n);
  std::string out = text != nullptr ? reinterpret_cast<const char*>(text) : "";
  xmlFree(text);
  // Trim the white space a pretty-printer may add around the value.
  const size_t b = out.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const size_t e = out.find_last_not_of(" \t\r\n");
  return out.substr(b, e - b + 1);
}

}  // namespace

namespace {
// The entity for a character XML text or attributes must not hold as it is, else nullptr.
const char* EntityFor(char c) {
  switch (c) {
    case '&': return "&amp;";
    case '<': return "&lt;";
    case '>': return "&gt;";
    case '"': return "&quot;";
    case '\'': return "&apos;";
    default: return nullptr;
  }
}

// Appends the runs between escaped characters whole: URIs rarely hold one, and a document is
// built on every keyprov.
template <typename String>
void AppendEscaped(String& out, std::string_view text) {
  size_t run = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char* entity = EntityFor(text[i]);
    if (entity == nullptr) continue;
    out.append(text.data() + run, i - run);
    out += entity;
    run = i + 1;
  }
  out.append(text.data() + run, text.size() - run);
}
}  // namespace

void AppendXmlEscaped(std::string& out, std::string_view text) { AppendEscaped(out, text); }
void AppendXmlEscaped(SecretString& out, std::string_view text) { AppendEscaped(out, text); }

SecretString KmsResponseWriter::Init(const KmsResponseHeader& header, const KmsCertificate& cert) {
  SecretString out;
  Open(out, header);
  out += "<KmsMessage><KmsInit>";
  Certificate(out, cert);
  out += "</KmsInit></KmsMessage>";
  Close(out);
  return out;
}

SecretString KmsResponseWriter::KeyProv(const KmsResponseHeader& header,
                                       const std::vector<const KmsCertificate*>& certs,
                                       const std::vector<KeySet>& sets) {
  // Sized for the worst case (every URI escaped, keys in hex), so that the document is built in
  // one block; should it still grow, the allocator wipes the block it leaves.
  const auto escaped = [](const std::string& s) { return 6 * s.size(); };
  size_t size = 1024 + escaped(header.user_uri) + escaped(header.kms_uri) + escaped(header.client_req_url);
  for (size_t i = 0; i < sets.size(); ++i) {
    const KeySet& ks = sets[i];
    const KmsCertificate& cert = *certs[i];
    size += 1024 + escaped(cert.params.kms_uri) + escaped(cert.cert_uri) + escaped(cert.issuer) +
            escaped(ks.user_uri) + 2 * (ks.uid.size() + ks.rsk.size() + ks.ssk.size() + ks.pvt.size());
  }
  SecretString out;
  out.reserve(size);
  Open(out, header);
  out += "<KmsMessage><KmsKeyProv Version=\"1.0.0\">";
  for (size_t i = 0; i < sets.size(); ++i) {
    const KeySet& ks = sets[i];
    const KmsCertificate& cert = *certs[i];
    out += "<KmsKeySet>";
    Element(out, "KmsUri", cert.params.kms_uri);
    Element(out, "CertUri", cert.cert_uri);
    Element(out, "Issuer", cert.issuer);
    Element(out, "UserUri", ks.user_uri);
    Element(out, "UserID", ToUpperHex(ks.uid));
    Element(out, "ValidFrom", FormatUtc(ks.period.valid_from));
    Element(out, "ValidTo", FormatUtc(ks.period.valid_to));
    Element(out, "KeyPeriodNo", ks.period.number);
    Element(out, "Revoked", "false");
    KeyElement(out, "UserDecryptKey", ks.rsk.view());
    KeyElement(out, "UserSigningKeySSK", ks.ssk.view());
    KeyElement(out, "UserPubTokenPVT", ks.pvt);
    out += "</KmsKeySet>";
  }
  out += "</KmsKeyProv></KmsMessage>";
  Close(out);
  return out;
}

SecretString KmsResponseWriter::CertCache(const KmsResponseHeader& header,
                                         const std::vector<const KmsCertificate*>& certs, uint64_t cache_num) {
  SecretString out;
  Open(out, header);
  out += "<KmsMessage><KmsCertCache Version=\"1.0.0\" CacheNum=\"";
  out += std::to_string(cache_num);
  out += "\">";
  for (const KmsCertificate* c : certs) Certificate(out, *c);
  out += "</KmsCertCache></KmsMessage>";
  Close(out);
  return out;
}

SecretString KmsResponseWriter::Error(const KmsResponseHeader& header, int code, std::string_view message) {
  SecretString out;
  Open(out, header);
  out += "<KmsError>";
  Element(out, "ErrorCode", static_cast<uint64_t>(code));
  Element(out, "ErrorMsg", message);
  out += "</KmsError>";
  Close(out);
  return out;
}

namespace {

std::atomic<uint64_t> libxml_parses{0};

// Skips from `i` past the first `end` (or to the end of the text, which libxml2 then refuses).
size_t SkipPast(std::string_view text, size_t i, std::string_view end) {
  const size_t at = text.find(end, i);
  return at == std::string_view::npos ? text.size() : at + end.size();
}

}  // namespace

Status CheckKmsRequestLimits(std::string_view body) {
  // One pass over the octets, no allocation: start tags (elements), '=' inside a start tag
  // outside quoted values (attributes, namespace declarations included), and nesting depth.
  // Comments, processing instructions and CDATA count as elements so that they cannot be used to
  // make the scan, or the parse after it, long.
  size_t elements = 0, attributes = 0, depth = 0;
  const auto too_many = [](const char* what, size_t limit) {
    return Status::InvalidArgument("the KmsRequest has more than " + std::to_string(limit) + " " + what +
                                   ": send a KmsRequest with UserUri, KmsUri and ClientReqUrl only");
  };
  for (size_t i = 0; i < body.size();) {
    if (body[i] != '<') {
      ++i;
      continue;
    }
    const std::string_view rest = body.substr(i);
    if (rest.substr(0, 2) == "</") {
      if (depth > 0) --depth;
      i = SkipPast(body, i + 2, ">");
      continue;
    }
    if (rest.substr(0, 9) == "<!DOCTYPE") return Status::InvalidArgument("the KmsRequest has a DOCTYPE: DTDs are not accepted");
    if (++elements > kMaxKmsRequestElements) return too_many("elements", kMaxKmsRequestElements);
    if (rest.substr(0, 4) == "<!--") {
      i = SkipPast(body, i + 4, "-->");
      continue;
    }
    if (rest.substr(0, 9) == "<![CDATA[") {
      i = SkipPast(body, i + 9, "]]>");
      continue;
    }
    if (rest.substr(0, 2) == "<?") {
      i = SkipPast(body, i + 2, "?>");
      continue;
    }
    if (rest.substr(0, 2) == "<!") {
      i = SkipPast(body, i + 2, ">");
      continue;
    }
    // A start tag: up to the '>' that is outside quotes.
    char quote = 0;
    size_t j = i + 1;
    for (; j < body.size(); ++j) {
      const char c = body[j];
      if (quote != 0) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '=') {
        if (++attributes > kMaxKmsRequestAttributes) return too_many("attributes", kMaxKmsRequestAttributes);
      } else if (c == '>') {
        break;
      }
    }
    if (j < body.size() && body[j - 1] != '/' && ++depth > kMaxKmsRequestDepth) {
      return Status::InvalidArgument("the KmsRequest nests elements more than " + std::to_string(kMaxKmsRequestDepth) +
                                     " deep: send a KmsRequest with UserUri, KmsUri and ClientReqUrl only");
    }
    i = j + 1;
  }
  return Status::Ok();
}

uint64_t KmsRequestParsesForTesting() { return libxml_parses.load(); }

Result<KmsRequestDocument> ParseKmsRequest(std::string_view body) {
  // libxml2's global state must be set up once before threads parse at the same time.
  static const bool initialized = [] {
    xmlInitParser();
    return true;
  }();
  (void)initialized;
  if (body.size() > static_cast<size_t>(INT32_MAX)) return Status::InvalidArgument("the KmsRequest is too large");
  MCX_RETURN_IF_ERROR(CheckKmsRequestLimits(body));
  libxml_parses.fetch_add(1, std::memory_order_relaxed);
  std::unique_ptr<xmlDoc, DocFree> doc(xmlReadMemory(body.data(), static_cast<int>(body.size()), "KmsRequest.xml",
                                                     nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!doc) {
    return Status::InvalidArgument("the body is not well-formed XML: send a KmsRequest document or no body");
  }
  if (doc->intSubset != nullptr || doc->extSubset != nullptr) {
    return Status::InvalidArgument("the KmsRequest has a DOCTYPE: DTDs are not accepted");
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr || xmlStrcmp(root->name, reinterpret_cast<const xmlChar*>("KmsRequest")) != 0 ||
      !InKmsNamespace(root)) {
    return Status::InvalidArgument(std::string("the body's root element must be KmsRequest in namespace ") +
                                   kKmsNamespace);
  }
  KmsRequestDocument out;
  bool have_user = false;
  for (const xmlNode* n = root->children; n != nullptr; n = n->next) {
    if (n->type != XML_ELEMENT_NODE || !InKmsNamespace(n)) continue;
    const std::string_view name = reinterpret_cast<const char*>(n->name);
    if (name == "UserUri") {
      out.user_uri = TextOf(n);
      have_user = true;
    } else if (name == "KmsUri") {
      out.kms_uri = TextOf(n);
    } else if (name == "ClientReqUrl") {
      out.client_req_url = TextOf(n);
    }
  }
  if (!have_user || out.user_uri.empty()) return Status::InvalidArgument("the KmsRequest has no UserUri");
  return out;
}

namespace {

// The first element named `name` in the KMS namespace at or below `n`, depth first.
const xmlNode* FindKmsElement(const xmlNode* n, std::string_view name) {
  for (; n != nullptr; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    if (InKmsNamespace(n) && name == reinterpret_cast<const char*>(n->name)) return n;
    if (const xmlNode* inner = FindKmsElement(n->children, name)) return inner;
  }
  return nullptr;
}

std::string AttributeOf(const xmlNode* n, const char* name) {
  xmlChar* v = xmlGetProp(n, reinterpret_cast<const xmlChar*>(name));
  std::string out = v != nullptr ? reinterpret_cast<const char*>(v) : "";
  xmlFree(v);
  return out;
}

template <size_t N>
Status HexInto(const std::string& hex, std::array<uint8_t, N>& out, const char* what) {
  if (FromHexInto(hex, out)) return Status::Ok();
  return Status::InvalidArgument(std::string("the certificate's ") + what + " is not " + std::to_string(N) +
                                 " octets of hex");
}

Result<uint64_t> Number(const std::string& text, const char* what) {
  uint64_t v = 0;
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument(std::string("the certificate's ") + what + " is not a number");
  }
  for (char c : text) v = v * 10 + static_cast<uint64_t>(c - '0');
  return v;
}

}  // namespace

Result<KmsCertificate> ParseKmsCertificate(std::string_view xml) {
  if (xml.size() > (1u << 20)) return Status::InvalidArgument("the certificate document is larger than 1 MiB");
  std::unique_ptr<xmlDoc, DocFree> doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "KmsCertificate.xml",
                                                     nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!doc) return Status::InvalidArgument("the certificate file is not well-formed XML");
  if (doc->intSubset != nullptr || doc->extSubset != nullptr) {
    return Status::InvalidArgument("the certificate file has a DOCTYPE: DTDs are not accepted");
  }
  const xmlNode* cert = FindKmsElement(xmlDocGetRootElement(doc.get()), "KmsCertificate");
  if (cert == nullptr) {
    return Status::InvalidArgument(std::string("the file holds no KmsCertificate element in namespace ") +
                                   kKmsNamespace);
  }
  KmsCertificate c;
  c.version = AttributeOf(cert, "Version");
  c.role = AttributeOf(cert, "Role");
  const std::string id = AttributeOf(cert, "Id");
  std::string kms_uri, period, offset;
  bool have_enc = false, have_auth = false;
  for (const xmlNode* n = cert->children; n != nullptr; n = n->next) {
    if (n->type != XML_ELEMENT_NODE || !InKmsNamespace(n)) continue;
    const std::string_view name = reinterpret_cast<const char*>(n->name);
    const std::string text = TextOf(n);
    if (name == "CertUri") {
      c.cert_uri = text;
    } else if (name == "KmsUri") {
      kms_uri = text;
    } else if (name == "Issuer") {
      c.issuer = text;
    } else if (name == "ValidFrom" || name == "ValidTo") {
      Result<NtpSeconds> t = ParseUtc(text);
      if (!t.ok()) return t.status().Annotate(std::string("the certificate's ") + std::string(name));
      (name == "ValidFrom" ? c.valid_from : c.valid_to) = *t;
    } else if (name == "Revoked") {
      c.revoked = text == "true" || text == "1";
    } else if (name == "UserIdFormat") {
      Result<uint64_t> v = Number(text, "UserIdFormat");
      if (!v.ok()) return v.status();
      c.user_id_format = static_cast<int>(*v);
    } else if (name == "UserKeyPeriod") {
      period = text;
    } else if (name == "UserKeyOffset") {
      offset = text;
    } else if (name == "PubEncKey") {
      MCX_RETURN_IF_ERROR(HexInto(text, c.keys.z_pub, "PubEncKey"));
      have_enc = true;
    } else if (name == "PubAuthKey") {
      MCX_RETURN_IF_ERROR(HexInto(text, c.keys.kpak, "PubAuthKey"));
      have_auth = true;
    } else if (name == "ParameterSet") {
      Result<uint64_t> v = Number(text, "ParameterSet");
      if (!v.ok()) return v.status();
      c.parameter_set = static_cast<int>(*v);
    } else if (name == "KmsDomainList") {
      for (const xmlNode* d = n->children; d != nullptr; d = d->next) {
        if (d->type == XML_ELEMENT_NODE && InKmsNamespace(d) && xmlStrcmp(d->name, BAD_CAST "KmsDomain") == 0) {
          c.kms_domains.push_back(TextOf(d));
        }
      }
    }
  }
  if (c.cert_uri.empty()) c.cert_uri = id;
  if (kms_uri.empty() || !have_enc || !have_auth || period.empty()) {
    return Status::InvalidArgument("the KmsCertificate lacks KmsUri, UserKeyPeriod, PubEncKey or PubAuthKey");
  }
  Result<uint64_t> p = Number(period, "UserKeyPeriod");
  if (!p.ok()) return p.status();
  Result<uint64_t> o = offset.empty() ? Result<uint64_t>(uint64_t{0}) : Number(offset, "UserKeyOffset");
  if (!o.ok()) return o.status();
  Result<CommunityParameters> params =
      CommunityParameters::Make(kms_uri, static_cast<int64_t>(*p), static_cast<int64_t>(*o));
  if (!params.ok()) return params.status().Annotate("the certificate's community parameters");
  c.params = *params;
  return c;
}

}  // namespace mcx::api
