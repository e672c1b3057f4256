#include "api/kms_router.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>

#include <boost/url/pct_string_view.hpp>

#include "api/kms_xml.h"
#include "base/bytes.h"

namespace mcx::api {
namespace {

// RFC 3986 percent-decoding, as Boost.URL reads it: every '%' starts an escape of two hex digits.
// Other octets pass as they are (a raw ':', '@' or '/' in the path, as clients send them).
Result<std::string> PercentDecode(std::string_view in) {
  const boost::urls::result<boost::urls::pct_string_view> escaped = boost::urls::make_pct_string_view(in);
  if (!escaped) {
    return Status::InvalidArgument("the user URI has a malformed percent-encoding (" + escaped.error().message() +
                                   "): use %XX with two hex digits");
  }
  return escaped->decode();
}

bool IsValidUtf8(std::string_view s) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = byte(i);
    size_t n;
    if (c < 0x80) n = 0;
    else if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) n = 2;
    else if (c >= 0xf0 && c <= 0xf4) n = 3;
    else return false;
    if (i + n >= s.size() && n > 0) return false;
    for (size_t k = 1; k <= n; ++k) {
      if ((byte(i + k) & 0xc0) != 0x80) return false;
    }
    if (n > 0) {
      const unsigned char d = byte(i + 1);
      if ((c == 0xe0 && d < 0xa0) || (c == 0xed && d >= 0xa0) || (c == 0xf0 && d < 0x90) || (c == 0xf4 && d >= 0x90)) {
        return false;  // overlong, surrogate, or beyond U+10FFFF
      }
      if (c == 0xef && d == 0xbf && byte(i + 2) >= 0xbe) return false;  // U+FFFE, U+FFFF: not XML characters
    }
    i += n + 1;
  }
  return true;
}

// "time as 16 hex digits": a 64-bit NTP timestamp (RFC 5905), seconds in the upper half.
Result<NtpSeconds> ParseNtpHex(std::string_view hex) {
  uint64_t v = 0;
  for (char c : hex) {
    const int d = HexValue(c);
    if (d < 0) return Status::InvalidArgument("the time must be 16 hex digits (a 64-bit NTP timestamp)");
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  uint64_t seconds = v >> 32;
  if ((seconds & 0x80000000ULL) == 0) seconds += 1ULL << 32;  // era 1: 2036-02-07 onwards
  return static_cast<NtpSeconds>(seconds);
}

bool IsNtpHex(std::string_view s) {
  if (s.size() != 16) return false;
  for (char c : s) {
    if (HexValue(c) < 0) return false;
  }
  return true;
}

// A request target made safe to echo as an xs:anyURI: RFC 3986 path and query characters and
// well-formed %XX escapes stay; anything else (a stray '%', '#', '[', spaces, non-ASCII octets)
// is percent-encoded.
std::string PrintableUri(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  static constexpr std::string_view kKept = "-._~!$&'()*+,;=:@/?";
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    const auto c = static_cast<unsigned char>(ch);
    const bool escape = ch == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0;
    if (std::isalnum(c) != 0 && c < 0x80) {
      out += ch;
    } else if (escape || (ch != '%' && kKept.find(ch) != std::string_view::npos)) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

// A Host header worth echoing: reg-name or [IPv6], then an optional :port.
bool IsHostHeader(std::string_view h) {
  if (h.empty() || h.size() > 255) return false;
  size_t i = 0;
  if (h[0] == '[') {
    const size_t close = h.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (i = 1; i < close; ++i) {
      if (HexValue(h[i]) < 0 && h[i] != ':' && h[i] != '.') return false;
    }
    i = close + 1;
  } else {
    while (i < h.size() && (std::isalnum(static_cast<unsigned char>(h[i])) != 0 || h[i] == '.' || h[i] == '-')) ++i;
    if (i == 0) return false;
  }
  if (i == h.size()) return true;
  if (h[i] != ':' || i + 1 == h.size() || h.size() - i > 6) return false;
  for (++i; i < h.size(); ++i) {
    if (h[i] < '0' || h[i] > '9') return false;
  }
  return true;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool IsBlank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

bool StartsWithBearer(std::string_view auth) {
  if (auth.size() < 7) return false;
  static constexpr std::string_view kBearer = "bearer ";
  for (size_t i = 0; i < kBearer.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(auth[i])) != kBearer[i]) return false;
  }
  return true;
}

// What a client is told when the engine fails for a reason of its own.
constexpr const char* kUnavailableText = "the key store or HSM is unavailable: try again shortly";

// Errors about the request itself, whose messages are written for the client.
bool IsCallersFault(const Status& st) {
  return st.code() == Status::Code::kInvalidArgument || st.code() == Status::Code::kNotFound ||
         st.code() == Status::Code::kPermissionDenied;
}

// Internal errors go to stderr (the server's log), as the HTTP layer's do. Status messages never
// carry secrets (base/status.h), so they can be logged whole.
void LogInternalError(const char* route, const Status& st) {
  std::fprintf(stderr, "mcx-kms: %s: the key service failed: %s\n", route, st.ToString().c_str());
}

int HttpStatusFor(const Status& st) {
  switch (st.code()) {
    case Status::Code::kInvalidArgument: return 400;
    case Status::Code::kNotFound: return 404;
    case Status::Code::kPermissionDenied: return 403;
    case Status::Code::kUnavailable: return 503;
    default: return 500;
  }
}

}  // namespace

Result<KmsTarget> ParseKmsTarget(std::string_view target) {
  const size_t q = target.find_first_of("?#");
  std::string_view path = target.substr(0, q);
  // "//keymanagement/...": one slash, however many the client's base URL left.
  while (path.size() > 1 && path[0] == '/' && path[1] == '/') path.remove_prefix(1);
  KmsTarget out;
  if (path == "/healthz") out.route = ApiRoute::kHealthz;
  else if (path == "/readyz") out.route = ApiRoute::kReadyz;
  else if (path == "/metrics") out.route = ApiRoute::kMetrics;
  if (out.route != ApiRoute::kUnknown) return out;

  if (path.substr(0, kKmsPathPrefix.size()) != kKmsPathPrefix) {
    return Status::NotFound("no such route: the KMS interface is under " + std::string(kKmsPathPrefix));
  }
  std::string_view rest = path.substr(kKmsPathPrefix.size());
  if (rest == "init" || rest == "init/") {
    out.route = ApiRoute::kInit;
    return out;
  }
  if (rest == "certcache" || rest == "certcache/") {
    out.route = ApiRoute::kCertCache;
    return out;
  }
  if (StartsWith(rest, "certcache/")) {
    std::string_view n = rest.substr(std::string_view("certcache/").size());
    if (!n.empty() && n.back() == '/') n.remove_suffix(1);
    uint64_t value = 0;
    const auto [end, err] = std::from_chars(n.data(), n.data() + n.size(), value);
    if (n.empty() || err != std::errc() || end != n.data() + n.size()) {
      return Status::InvalidArgument("certcache/<n>: the cache number must be a decimal number");
    }
    out.route = ApiRoute::kCertCache;
    out.has_cache_num = true;
    out.cache_num = value;
    return out;
  }
  if (StartsWith(rest, "cert/")) {
    Result<std::string> kms_uri = PercentDecode(rest.substr(std::string_view("cert/").size()));
    if (!kms_uri.ok()) return kms_uri.status();
    if (kms_uri->empty() || !IsValidUtf8(*kms_uri)) {
      return Status::InvalidArgument("cert/<KMS URI>: name the KMS whose certificate is wanted");
    }
    out.route = ApiRoute::kCert;
    out.kms_uri = std::move(kms_uri).value();
    return out;
  }
  static constexpr std::string_view kKeyProv = "keyprov";
  if (rest.substr(0, kKeyProv.size()) != kKeyProv || (rest.size() > kKeyProv.size() && rest[kKeyProv.size()] != '/')) {
    return Status::NotFound("no such route: use init, keyprov, certcache or cert under " + std::string(kKmsPathPrefix));
  }
  out.route = ApiRoute::kKeyProv;
  std::string_view user = rest.size() > kKeyProv.size() + 1 ? rest.substr(kKeyProv.size() + 1) : std::string_view();
  if (user.empty()) return out;
  // keyprov/<user>/<time>: a raw "/" after the user is always followed by the time.
  const size_t slash = user.rfind('/');
  if (slash != std::string_view::npos) {
    const std::string_view last = user.substr(slash + 1);
    if (!IsNtpHex(last)) {
      return Status::InvalidArgument("the time after the user URI must be 16 hex digits (a 64-bit NTP timestamp)");
    }
    Result<NtpSeconds> t = ParseNtpHex(last);
    if (!t.ok()) return t.status();
    out.has_time = true;
    out.time = *t;
    user = user.substr(0, slash);
  }
  Result<std::string> decoded = PercentDecode(user);
  if (!decoded.ok()) return decoded.status();
  Status valid = ValidateUserUri(*decoded);
  if (!valid.ok()) return valid.Annotate("the path's user URI: ");
  if (!IsValidUtf8(*decoded)) return Status::InvalidArgument("the path's user URI is not valid UTF-8");
  out.user_uri = std::move(decoded).value();
  return out;
}

struct KmsRouter::Exchange {
  ApiRequest request;
  Reply reply;
  ApiMetrics* metrics = nullptr;
  Env* env = nullptr;
  ApiRoute route = ApiRoute::kUnknown;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  KmsResponseHeader header;
  // What the KMS serves, as of the request's arrival: one answer never mixes two lifecycle states.
  std::shared_ptr<const ServedCertificates> served;

  void Finish(ApiResponse response) {
    metrics->RecordRequest(route, response.status,
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    reply(std::move(response));
  }
  void Fail(int status, std::string_view message, std::vector<std::pair<std::string, std::string>> headers = {}) {
    ApiResponse r;
    r.status = status;
    header.time = NtpNow(*env);
    r.body = KmsResponseWriter::Error(header, status, message);
    r.headers = std::move(headers);
    Finish(std::move(r));
  }
  void FailWith(const Status& st) { Fail(HttpStatusFor(st), st.message()); }
  void Text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8") {
    ApiResponse r;
    r.status = status;
    r.content_type = std::move(content_type);
    r.body.assign(body.data(), body.size());
    Finish(std::move(r));
  }
};

KmsRouter::KmsRouter(KeyService& keys, AccessTokenVerifier& tokens, ApiMetrics& metrics, WorkerExecutor workers,
                     Options options)
    : keys_(keys), tokens_(tokens), metrics_(metrics), workers_(std::move(workers)), options_(options) {}

ApiResponse KmsRouter::Refusal(int status, std::string_view message, std::string_view target) {
  metrics_.RecordRequest(ApiRoute::kUnknown, status, 0.0);
  KmsResponseHeader header;
  header.kms_uri = keys_.Certificates()->kms_uri;
  header.time = NtpNow(*options_.env);
  header.client_req_url = target.empty() ? "/" : PrintableUri(target);
  ApiResponse r;
  r.status = status;
  r.body = KmsResponseWriter::Error(header, status, message);
  return r;
}

void KmsRouter::Handle(ApiRequest request, Reply reply) {
  auto ex = std::make_shared<Exchange>();
  ex->request = std::move(request);
  ex->reply = std::move(reply);
  ex->metrics = &metrics_;
  ex->env = options_.env;
  ex->served = keys_.Certificates();
  ex->header.kms_uri = ex->served->kms_uri;
  const ApiRequest& req = ex->request;
  const std::string proto = req.forwarded_proto == "https" ? "https" : "http";
  ex->header.client_req_url =
      IsHostHeader(req.host) ? proto + "://" + req.host + PrintableUri(req.target) : PrintableUri(req.target);

  Result<KmsTarget> target = ParseKmsTarget(req.target);
  if (!target.ok()) return ex->FailWith(target.status());
  ex->route = target->route;

  const bool is_kms = target->route == ApiRoute::kInit || target->route == ApiRoute::kKeyProv ||
                      target->route == ApiRoute::kCertCache || target->route == ApiRoute::kCert;
  const char* allowed = is_kms ? "POST" : "GET";
  if (req.method != allowed) {
    return ex->Fail(405, std::string("this route takes ") + allowed + " requests",
                    {{"Allow", allowed}});
  }
  switch (target->route) {
    case ApiRoute::kHealthz:
      return ex->Text(200, "alive\n");
    case ApiRoute::kMetrics:
      return ex->Text(200, metrics_.RenderPrometheusText(), "text/plain; version=0.0.4; charset=utf-8");
    case ApiRoute::kReadyz:
      workers_([this, ex] {
        Status st = keys_.Ready();
        if (st.ok()) return ex->Text(200, "ready\n");
        metrics_.AddKeyServiceError();
        LogInternalError("readyz", st);
        ex->Text(503, std::string("not ready: ") + kUnavailableText + "\n");
      });
      return;
    default:
      return HandleKms(std::move(ex), *target);
  }
}

namespace {
const std::string kChallenge = "Bearer realm=\"mcx-kms\"";
}  // namespace

void KmsRouter::HandleKms(std::shared_ptr<Exchange> ex, const KmsTarget& target) {
  const ApiRequest& req = ex->request;
  if (!req.asserted_identity.empty()) return HandleAssertedIdentity(std::move(ex), target);
  // The access token: who is asking.
  if (!StartsWithBearer(req.authorization)) {
    return ex->Fail(401, "an access token is required: send Authorization: Bearer <token from the IdMS>",
                    {{"WWW-Authenticate", kChallenge}});
  }
  std::string_view token(req.authorization);  // lives in *ex
  token.remove_prefix(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  const int64_t now = options_.env->NowUnixSeconds();
  Result<std::optional<VerifiedToken>> cached = tokens_.Lookup(token, now);
  if (!cached.ok()) return RefuseToken(*ex, cached.status());
  if (cached->has_value() && IsBlank(req.body)) {
    return Authorized(std::move(ex), target, **cached, /*on_worker=*/false);
  }
  // A signature to check or a KmsRequest to parse: neither belongs on the strand.
  workers_([this, ex = std::move(ex), target, token, now, known = std::move(*cached)]() mutable {
    if (!known.has_value()) {
      Result<VerifiedToken> verified = tokens_.Verify(token, now);
      if (!verified.ok()) return RefuseToken(*ex, verified.status());
      known = std::move(verified).value();
    }
    Authorized(std::move(ex), target, *known, /*on_worker=*/true);
  });
}

// A network entity authenticated by the proxy (mutual TLS), named in X-3GPP-Asserted-Identity.
// Believed only from a trusted proxy's address and for a configured server identity: anyone else
// sending the header is refused, never silently treated as a user.
void KmsRouter::HandleAssertedIdentity(std::shared_ptr<Exchange> ex, const KmsTarget& target) {
  const ApiRequest& req = ex->request;
  const auto& proxies = options_.trusted_proxies;
  const auto& servers = options_.server_identities;
  if (std::find(proxies.begin(), proxies.end(), req.peer_address) == proxies.end()) {
    return ex->Fail(403, "X-3GPP-Asserted-Identity is accepted only from a trusted proxy (serve --trusted-proxy); "
                         "users authenticate with an access token");
  }
  if (std::find(servers.begin(), servers.end(), req.asserted_identity) == servers.end()) {
    return ex->Fail(403, "the asserted identity is not a configured server identity (serve --server-identity)");
  }
  VerifiedToken server;
  server.identity = req.asserted_identity;
  if (IsBlank(req.body)) return Authorized(std::move(ex), target, server, /*on_worker=*/false);
  workers_([this, ex = std::move(ex), target, server]() mutable {
    Authorized(std::move(ex), target, server, /*on_worker=*/true);
  });
}

void KmsRouter::RefuseToken(Exchange& ex, const Status& why) {
  if (options_.on_refused) {
    options_.on_refused(why.code() == Status::Code::kPermissionDenied ? 403 : 401, "", "", why.message());
  }
  if (why.code() == Status::Code::kPermissionDenied) {
    return ex.Fail(403, why.message(),
                   {{"WWW-Authenticate", kChallenge + ", error=\"insufficient_scope\", scope=\"" +
                                             tokens_.policy().required_scope + "\""}});
  }
  ex.Fail(401, why.message(), {{"WWW-Authenticate", kChallenge + ", error=\"invalid_token\""}});
}

void KmsRouter::Authorized(std::shared_ptr<Exchange> ex, const KmsTarget& target, const VerifiedToken& verified,
                           bool on_worker) {
  const ApiRequest& req = ex->request;
  const std::string& identity = verified.identity;
  if (ValidateUserUri(identity).ok() && IsValidUtf8(identity)) ex->header.user_uri = identity;

  // Whose keys: the path's user, or the token's identity.
  std::string user = target.user_uri.empty() ? identity : target.user_uri;
  if (user != identity) {
    if (options_.on_refused) options_.on_refused(403, identity, user, "the access token is for another user");
    return ex->Fail(403, "the access token is for another user: a user may ask only for its own keys");
  }
  if (ex->header.user_uri.empty()) {
    return ex->Fail(400, "the access token's identity is not a valid user URI");
  }

  // An optional KmsRequest body must be about the same user (a body always brings us to a worker).
  if (!IsBlank(req.body)) {
    Result<KmsRequestDocument> doc = ParseKmsRequest(req.body);
    if (!doc.ok()) return ex->FailWith(doc.status());
    if (doc->user_uri != user) {
      return ex->Fail(400, "the KmsRequest's UserUri does not match the user of the request");
    }
  }

  const ServedCertificates& served = *ex->served;
  switch (target.route) {
    case ApiRoute::kInit: {
      ex->header.time = NtpNow(*options_.env);
      const IssuingCertificate* now = served.InForceAt(ex->header.time);
      if (now == nullptr) {
        return ex->Fail(503, "this KMS has no certificate in force now (all revoked or expired): the operator must "
                             "roll over (mcx-kms cert rollover)");
      }
      ApiResponse r;
      r.body = KmsResponseWriter::Init(ex->header, now->certificate);
      return ex->Finish(std::move(r));
    }
    case ApiRoute::kCertCache: {
      // certcache/<n> from a client whose cache is current gets an empty cache with the number.
      ex->header.time = NtpNow(*options_.env);
      std::vector<const KmsCertificate*> certs;
      if (!target.has_cache_num || target.cache_num != served.cache_num) {
        for (const KmsCertificate& c : served.cache) certs.push_back(&c);
      }
      ApiResponse r;
      r.body = KmsResponseWriter::CertCache(ex->header, certs, served.cache_num);
      return ex->Finish(std::move(r));
    }
    case ApiRoute::kCert: {
      std::vector<const KmsCertificate*> certs;
      for (const KmsCertificate& c : served.cache) {
        if (c.params.kms_uri == target.kms_uri) certs.push_back(&c);
      }
      if (certs.empty()) {
        return ex->Fail(404, "this KMS holds no certificate of KMS '" + PrintableUri(target.kms_uri) +
                                 "': ask that KMS, or have the operator import its certificate");
      }
      ex->header.time = NtpNow(*options_.env);
      ApiResponse r;
      r.body = KmsResponseWriter::CertCache(ex->header, certs, served.cache_num);
      return ex->Finish(std::move(r));
    }
    default: {
      const NtpSeconds now = NtpNow(*options_.env);
      const NtpSeconds t = target.has_time ? target.time : now;
      const auto [first, last] = served.IssuingWindow();
      if (served.InForceAt(t) == nullptr) {
        if (served.issuing.empty()) {
          return ex->Fail(503, "this KMS has no certificate that issues keys (all revoked or expired): the operator "
                               "must roll over (mcx-kms cert rollover)");
        }
        return ex->Fail(400, "the requested time " + FormatUtc(t) + " is outside the validity of every certificate "
                                 "of this KMS (" + FormatUtc(first) + " to " + FormatUtc(last) +
                                 "): ask for a time within it");
      }
      // The last second a user may ask about: the end of the period max_periods_ahead after the
      // current one (saturating: a bound past the certificates is no bound).
      const CommunityParameters& params = served.InForceAt(t)->certificate.params;
      NtpSeconds latest = last;
      if (Result<KeyPeriod> current = KeyPeriod::Containing(params, now); current.ok() && current->valid_to < last) {
        const uint64_t period = params.user_key_period;
        const uint64_t ahead = options_.max_periods_ahead;
        if (ahead < (last - current->valid_to) / period) latest = current->valid_to + ahead * period;
      }
      if (t > latest) {
        return ex->Fail(400, "the requested time " + FormatUtc(t) + " is more than " +
                                 std::to_string(options_.max_periods_ahead) +
                                 " key periods ahead: this KMS hands out the keys of the current period and the next " +
                                 std::to_string(options_.max_periods_ahead) + " (until " + FormatUtc(latest) +
                                 "); ask again later");
      }
      if (on_worker) return ProvisionKeys(std::move(ex), std::move(user), t, latest);
      workers_([this, ex = std::move(ex), user = std::move(user), t, latest]() mutable {
        ProvisionKeys(std::move(ex), std::move(user), t, latest);
      });
    }
  }
}

// A keyprov's key sets, asked for together and answered when the last one arrives (each may be
// derived in a batch on another thread).
struct KmsRouter::KeyProvInProgress {
  std::string user_uri;
  std::vector<NtpSeconds> times;                   // the requested time last
  std::vector<std::optional<Result<KeySet>>> sets;  // by index into times
  std::atomic<size_t> remaining{0};
};

void KmsRouter::ProvisionKeys(std::shared_ptr<Exchange> ex, std::string user_uri, NtpSeconds t, NtpSeconds latest) {
  const ServedCertificates& served = *ex->served;
  const uint64_t period_seconds = served.InForceAt(t)->certificate.params.user_key_period;
  // The following periods first and the requested one last: some clients keep only the last
  // KmsKeySet of a response as the current keys. Periods no certificate covers, or past
  // max_periods_ahead (`latest`), are left out; each set is issued under the certificate in force
  // at its time (a rollover may fall between them).
  auto keyprov = std::make_shared<KeyProvInProgress>();
  keyprov->user_uri = std::move(user_uri);
  for (int i = options_.extra_periods; i >= 1; --i) {
    const NtpSeconds later = t + static_cast<NtpSeconds>(i) * period_seconds;
    if (later <= latest && served.InForceAt(later) != nullptr) keyprov->times.push_back(later);
  }
  keyprov->times.push_back(t);
  keyprov->sets.resize(keyprov->times.size());
  keyprov->remaining = keyprov->times.size();
  // This thread is free once all are asked for: a key set not issued yet is answered later, from
  // a batch (StoredKeyService, OnDemandIssuer), so a few workers keep many derivations in flight.
  for (size_t i = 0; i < keyprov->times.size(); ++i) {
    keys_.KeySetAtAsync(served, keyprov->user_uri, keyprov->times[i], [this, ex, keyprov, i](Result<KeySet> ks) {
      keyprov->sets[i].emplace(std::move(ks));
      if (keyprov->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) AnswerKeyProv(*ex, *keyprov);
    });
  }
}

void KmsRouter::AnswerKeyProv(Exchange& ex, KeyProvInProgress& keyprov) {
  const ServedCertificates& served = *ex.served;
  const std::string& user_uri = keyprov.user_uri;
  std::vector<KeySet> sets;
  std::vector<const KmsCertificate*> certs;
  sets.reserve(keyprov.times.size());
  for (size_t i = 0; i < keyprov.times.size(); ++i) {
    const NtpSeconds when = keyprov.times[i];
    Result<KeySet>& ks = *keyprov.sets[i];
    if (!ks.ok()) {
      // A later period may be refused (a revocation from then on) while the requested one is
      // not: the answer then carries what may be handed out.
      if (when != keyprov.times.back() && ks.status().code() == Status::Code::kPermissionDenied) continue;
      if (IsCallersFault(ks.status())) {
        if (ks.status().code() == Status::Code::kPermissionDenied && options_.on_refused) {
          options_.on_refused(403, user_uri, user_uri, ks.status().message());
        }
        return ex.FailWith(ks.status());
      }
      // The store's or HSM's own words ("database is locked", a PKCS#11 return value) are for
      // the operator, not the client.
      metrics_.AddKeyServiceError();
      LogInternalError("keyprov", ks.status());
      return ex.Fail(503, kUnavailableText);
    }
    sets.push_back(std::move(ks).value());
    certs.push_back(&served.InForceAt(when)->certificate);
  }
  ex.header.time = NtpNow(*options_.env);
  ApiResponse r;
  r.body = KmsResponseWriter::KeyProv(ex.header, certs, sets);
  metrics_.AddKeySetsIssued(sets.size());
  ex.Finish(std::move(r));
}

}  // namespace mcx::api
