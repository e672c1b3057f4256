// The XML of the KMS interface (TS 33.180 Annex D), namespace urn:3gpp:ns:mcsecKMSInterface:1.0.
//
// KmsResponseWriter builds one KmsResponse document: the header elements in the 3GPP schema's
// order (UserUri, KmsUri, Time, ClientReqUrl; the optional KmsId is omitted), then KmsMessage
// holding KmsInit, KmsKeyProv or KmsCertCache, or KmsError. UserUri is always written: empty in
// an error for a request that names no user (errors are never 200s, whose clients may trip on
// empty elements). Keys are one line of
// hexBinary, and the key elements of a KmsKeySet carry xsi:type="KeyContentType" because their
// declared type is abstract. Optional elements are omitted rather than written empty. All text is
// escaped. The documents validate against docs/kms-interface.xsd.
//
// ParseKmsRequest reads a KmsRequest body with libxml2 (no network, no DTDs, no entity expansion),
// after a cheap scan has refused bodies beyond small limits of depth, elements and attributes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/wiping_allocator.h"
#include "engine/keys/key_set.h"
#include "engine/keys/kms_certificate.h"

namespace mcx::api {

inline constexpr const char* kKmsNamespace = "urn:3gpp:ns:mcsecKMSInterface:1.0";

// The elements every KmsResponse starts with.
struct KmsResponseHeader {
  std::string user_uri;        // empty only in a KmsError when the request names no user
  std::string kms_uri;         // the KMS URI used for the UIDs
  NtpSeconds time = 0;         // the response time, written in UTC
  std::string client_req_url;  // the request URL, echoed
};

// Documents come back as SecretString: a KmsKeyProv carries keys, and its buffer is wiped when it
// grows or is released (the others share the type so that one body type serves every response).
class KmsResponseWriter {
 public:
  static SecretString Init(const KmsResponseHeader& header, const KmsCertificate& cert);
  // certs[i] is the certificate sets[i] was issued under.
  static SecretString KeyProv(const KmsResponseHeader& header, const std::vector<const KmsCertificate*>& certs,
                             const std::vector<KeySet>& sets);
  static SecretString KeyProv(const KmsResponseHeader& header, const KmsCertificate& cert,
                             const std::vector<KeySet>& sets) {
    return KeyProv(header, std::vector<const KmsCertificate*>(sets.size(), &cert), sets);
  }
  static SecretString CertCache(const KmsResponseHeader& header, const std::vector<const KmsCertificate*>& certs,
                               uint64_t cache_num);
  // `code` is the HTTP status; `message` says what was wrong and what to do. It must not carry
  // secret material (it never does: callers pass fixed texts and Status messages).
  static SecretString Error(const KmsResponseHeader& header, int code, std::string_view message);
};

// What this KMS reads from a KmsRequest.
struct KmsRequestDocument {
  std::string user_uri;        // UserUri, required
  std::string kms_uri;         // KmsUri, when present
  std::string client_req_url;  // ClientReqUrl, when present
};

// A KmsRequest holds three short elements: anything much larger is refused before libxml2 sees
// it, by a linear scan of the octets (a parse costs far more per element and attribute).
inline constexpr size_t kMaxKmsRequestDepth = 8;
inline constexpr size_t kMaxKmsRequestElements = 64;     // comments, PIs and CDATA included
inline constexpr size_t kMaxKmsRequestAttributes = 64;   // namespace declarations included

// InvalidArgument, naming the limit, for a body deeper, or with more elements or attributes,
// than the limits above, or with a DOCTYPE. It does not check well-formedness (the parser does).
Status CheckKmsRequestLimits(std::string_view body);

// Parses a KmsRequest document, after CheckKmsRequestLimits(). InvalidArgument, saying what is
// wrong, for anything that is not a well-formed KmsRequest in the KMS namespace with a UserUri.
Result<KmsRequestDocument> ParseKmsRequest(std::string_view body);

// How many bodies ParseKmsRequest() has handed to libxml2 in this process (for tests).
uint64_t KmsRequestParsesForTesting();

// Reads a KmsCertificate (another KMS's, for `mcx-kms cert import`): a document whose root is
// one, or any document holding one (a KmsResponse with KmsInit or KmsCertCache: the first).
// InvalidArgument, saying what is missing, otherwise.
Result<KmsCertificate> ParseKmsCertificate(std::string_view xml);

// Escapes &, <, >, " and ' for XML text and attribute values.
void AppendXmlEscaped(std::string& out, std::string_view text);
void AppendXmlEscaped(SecretString& out, std::string_view text);

}  // namespace mcx::api
