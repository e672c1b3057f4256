#include "api/kms_xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <memory>

#include "base/bytes.h"

namespace mcx::api {
namespace {

// Appends <name>escaped text</name>.
void Element(std::string& out, const char* name, std::string_view text) {
  out += '<';
  out += name;
  out += '>';
  AppendXmlEscaped(out, text);
  out += "</";
  out += name;
  out += '>';
}

void Element(std::string& out, const char* name, uint64_t value) { Element(out, name, std::to_string(value)); }

// A key: hexBinary on one line, with the concrete type the abstract key type needs.
void KeyElement(std::string& out, const char* name, ByteView key) {
  out += '<';
  out += name;
  out += " xsi:type=\"KeyContentType\">";
  // Straight into the document: no temporary copy of a secret key.
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (uint8_t b : key) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  out += "</";
  out += name;
  out += '>';
}

void Open(std::string& out, const KmsResponseHeader& h) {
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

void Close(std::string& out) { out += "</KmsResponse>\n"; }

void Certificate(std::string& out, const KmsCertificate& c) {
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

void AppendXmlEscaped(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
}

std::string KmsResponseWriter::Init(const KmsResponseHeader& header, const KmsCertificate& cert) {
  std::string out;
  Open(out, header);
  out += "<KmsMessage><KmsInit>";
  Certificate(out, cert);
  out += "</KmsInit></KmsMessage>";
  Close(out);
  return out;
}

std::string KmsResponseWriter::KeyProv(const KmsResponseHeader& header, const KmsCertificate& cert,
                                       const std::vector<KeySet>& sets) {
  std::string out;
  out.reserve(1024 + 2048 * sets.size());  // one allocation: no stray copies of the keys
  Open(out, header);
  out += "<KmsMessage><KmsKeyProv Version=\"1.0.0\">";
  for (const KeySet& ks : sets) {
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

std::string KmsResponseWriter::CertCache(const KmsResponseHeader& header,
                                         const std::vector<const KmsCertificate*>& certs, uint64_t cache_num) {
  std::string out;
  Open(out, header);
  out += "<KmsMessage><KmsCertCache Version=\"1.0.0\" CacheNum=\"" + std::to_string(cache_num) + "\">";
  for (const KmsCertificate* c : certs) Certificate(out, *c);
  out += "</KmsCertCache></KmsMessage>";
  Close(out);
  return out;
}

std::string KmsResponseWriter::Error(const KmsResponseHeader& header, int code, std::string_view message) {
  std::string out;
  Open(out, header);
  out += "<KmsError>";
  Element(out, "ErrorCode", static_cast<uint64_t>(code));
  Element(out, "ErrorMsg", message);
  out += "</KmsError>";
  Close(out);
  return out;
}

Result<KmsRequestDocument> ParseKmsRequest(std::string_view body) {
  // libxml2's global state must be set up once before threads parse at the same time.
  static const bool initialized = [] {
    xmlInitParser();
    return true;
  }();
  (void)initialized;
  if (body.size() > static_cast<size_t>(INT32_MAX)) return Status::InvalidArgument("the KmsRequest is too large");
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

}  // namespace mcx::api
