// KmsRouter: turns one HTTP request into one response for the KMS interface (TS 33.180 Annex D)
// and the operational routes. It knows nothing of sockets: HttpSession hands it an ApiRequest and
// a Reply, and it calls the Reply exactly once.
//
//   POST /keymanagement/identity/v1/init                        KmsInit (the KMS certificate)
//   POST /keymanagement/identity/v1/keyprov[/<user>[/<time>]]   KmsKeyProv (the period's key set)
//   POST /keymanagement/identity/v1/certcache                   KmsCertCache
//   GET  /healthz  /readyz  /metrics
//
// Threads: Handle() runs on the connection's strand (an I/O thread), which only routes: it parses
// the path, looks the token up in the verifier's cache (a hash and a lookup), answers what needs
// nothing more (refusals, /healthz, /metrics, and init/certcache for a cached token without a
// body: XML of the certificate) and writes. Everything that may take longer goes to the worker
// executor: the signature check of a token not in the cache, the libxml2 parse of a KmsRequest
// body, and every KeyService call that may derive a key or reach the HSM or store (KeySetAt,
// Ready). The Reply is then called from a worker, or, for a key set derived on demand, from the
// thread of the batch that derived it (KeySetAtAsync): the session posts it back to its strand.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/access_token.h"
#include "api/api_request.h"
#include "api/api_metrics.h"
#include "base/env.h"
#include "engine/service/key_service.h"

namespace mcx::api {

inline constexpr std::string_view kKmsPathPrefix = "/keymanagement/identity/v1/";

// What the path of a request names.
struct KmsTarget {
  ApiRoute route = ApiRoute::kUnknown;
  std::string user_uri;        // keyprov/<user>: percent-decoded; empty otherwise
  bool has_time = false;       // keyprov/<user>/<time>
  NtpSeconds time = 0;
  bool has_cache_num = false;  // certcache/<n>: the client's cache number
  uint64_t cache_num = 0;
  std::string kms_uri;         // cert/<KMS URI>: percent-decoded
};

// Parses the path (the query, if any, is ignored). NotFound for a path that names no route;
// InvalidArgument for a malformed user URI, percent-encoding or time. The time is a 64-bit NTP
// timestamp in 16 hex digits of either case (seconds in the upper 32 bits; a value with the top
// bit clear is taken to be in NTP era 1, from 2036 on).
// Route names are matched as sent (a percent-encoded "init" names no route). The user URI is
// everything between keyprov/ and the time: raw or percent-encoded (RFC 3986, decoded by
// Boost.URL), so an encoded "%2F" is part of the URI and never separates the time; a raw "/"
// after the user always does, and what follows it must then be a time (else InvalidArgument).
// What real clients send is accepted: several leading slashes (a base URL configured with a
// trailing slash gives "//keymanagement/..."), and a trailing slash after init, certcache,
// certcache/<n> and keyprov. certcache/<n> takes a decimal cache number; cert/<KMS URI> a raw or
// percent-encoded KMS URI.
Result<KmsTarget> ParseKmsTarget(std::string_view target);

class KmsRouter final : public RequestHandler {
 public:
  struct Options {
    int extra_periods = 0;  // key sets of the following periods added to each KmsKeyProv
    // How far ahead a user may fetch keys: the current key period and the next
    // max_periods_ahead. A keyprov/<user>/<time> beyond is a 400, and extra periods stop there.
    // Without a bound, any token holder could collect the key sets of every period of the
    // certificate (years of them) in one sitting.
    uint64_t max_periods_ahead = 2;
    Env* env = &Env::Default();  // the clock for "now" (Time, the current period, token expiry)
    // Network entities (TS 33.180 5.3.1): X-3GPP-Asserted-Identity is believed only from these
    // proxy addresses, and only for these identities, which then need no access token.
    std::vector<std::string> trusted_proxies;
    std::vector<std::string> server_identities;
    // Told of every request that carried a token (or an asserted identity) and was refused with
    // 401 or 403: who (the token's identity when it was verified), for which user, and why. For
    // the audit log; called on the thread that refuses, so it must not block.
    std::function<void(int status, const std::string& who, const std::string& user_uri, std::string_view why)>
        on_refused;
  };

  // All references must outlive the router.
  KmsRouter(KeyService& keys, AccessTokenVerifier& tokens, ApiMetrics& metrics, WorkerExecutor workers,
            Options options);

  void Handle(ApiRequest request, Reply reply) override;
  ApiResponse Refusal(int status, std::string_view message, std::string_view target) override;

  ApiMetrics& metrics() { return metrics_; }

 private:
  struct Exchange;  // one request in flight
  void HandleKms(std::shared_ptr<Exchange> ex, const KmsTarget& target);
  void HandleAssertedIdentity(std::shared_ptr<Exchange> ex, const KmsTarget& target);
  // The token is good: who asks for what, then the answer. On a worker, or on the strand when
  // the token came from the cache and there is no body to parse.
  void Authorized(std::shared_ptr<Exchange> ex, const KmsTarget& target, const VerifiedToken& verified,
                  bool on_worker);
  void RefuseToken(Exchange& ex, const Status& why);
  // On a worker: asks for the key sets; AnswerKeyProv runs on whichever thread gives the last.
  struct KeyProvInProgress;
  void ProvisionKeys(std::shared_ptr<Exchange> ex, std::string user_uri, NtpSeconds t, NtpSeconds latest);
  void AnswerKeyProv(Exchange& ex, KeyProvInProgress& keyprov);

  KeyService& keys_;
  AccessTokenVerifier& tokens_;
  ApiMetrics& metrics_;
  WorkerExecutor workers_;
  Options options_;
};

}  // namespace mcx::api
