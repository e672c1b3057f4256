#include "engine/audit/audit_event.h"

#include <algorithm>
#include <map>

namespace mcx {
namespace {

struct KindEntry {
  AuditEventKind kind;
  const char* name;
};
constexpr KindEntry kKinds[] = {
    {AuditEventKind::kKmsCreated, "kms-created"},
    {AuditEventKind::kUnsealed, "unsealed"},
    {AuditEventKind::kKeySetIssued, "key-set-issued"},
    {AuditEventKind::kKeySetsIssuedBatch, "key-sets-issued-batch"},
    {AuditEventKind::kKeySetDelivered, "key-set-delivered"},
    {AuditEventKind::kUserRevoked, "user-revoked"},
    {AuditEventKind::kUserReinstated, "user-reinstated"},
    {AuditEventKind::kCertificateRolledOver, "certificate-rolled-over"},
    {AuditEventKind::kCertificateImported, "certificate-imported"},
    {AuditEventKind::kCertificateRemoved, "certificate-removed"},
    {AuditEventKind::kCertificateRevoked, "certificate-revoked"},
    {AuditEventKind::kRequestRefused, "request-refused"},
    {AuditEventKind::kAdminCommand, "admin-command"},
};

constexpr std::string_view kPeriodsWord = "periods ";

// URIs carry no white space; should one arrive with some, it is escaped so that a batch's
// "<uri> periods <list>" lines stay unambiguous.
std::string LineSafe(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '%') {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

// One user's periods per entry, users in URI order.
std::map<std::string, std::vector<uint64_t>> ByUser(std::span<const KeySetRef> key_sets) {
  std::map<std::string, std::vector<uint64_t>> by_user;
  for (const KeySetRef& k : key_sets) by_user[k.user_uri].push_back(k.key_period_no);
  return by_user;
}

AuditEvent KeySetEvent(AuditEventKind one_user, AuditEventKind several, std::string actor, std::string cert_uri,
                       std::span<const KeySetRef> key_sets) {
  AuditEvent e;
  e.actor = std::move(actor);
  e.cert_uri = std::move(cert_uri);
  std::map<std::string, std::vector<uint64_t>> by_user = ByUser(key_sets);
  if (by_user.size() == 1) {
    e.kind = one_user;
    e.user_uri = by_user.begin()->first;
    e.detail = std::string(kPeriodsWord) + FormatPeriods(std::move(by_user.begin()->second));
    return e;
  }
  e.kind = several;
  for (auto& [user, periods] : by_user) {
    if (!e.detail.empty()) e.detail += '\n';
    e.detail += LineSafe(user) + " " + std::string(kPeriodsWord) + FormatPeriods(std::move(periods));
  }
  return e;
}

}  // namespace

const char* AuditEventKindName(AuditEventKind kind) {
  for (const KindEntry& k : kKinds) {
    if (k.kind == kind) return k.name;
  }
  return "unknown";
}

std::optional<AuditEventKind> ParseAuditEventKind(std::string_view name) {
  for (const KindEntry& k : kKinds) {
    if (name == k.name) return k.kind;
  }
  return std::nullopt;
}

std::string FormatPeriods(std::vector<uint64_t> periods) {
  std::sort(periods.begin(), periods.end());
  periods.erase(std::unique(periods.begin(), periods.end()), periods.end());
  std::string out;
  for (size_t i = 0; i < periods.size();) {
    size_t j = i;
    while (j + 1 < periods.size() && periods[j + 1] == periods[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(periods[i]);
    if (j > i) out += "-" + std::to_string(periods[j]);
    i = j + 1;
  }
  return out;
}

AuditEvent KeySetsIssued(std::string actor, std::string cert_uri, std::span<const KeySetRef> key_sets) {
  return KeySetEvent(AuditEventKind::kKeySetIssued, AuditEventKind::kKeySetsIssuedBatch, std::move(actor),
                     std::move(cert_uri), key_sets);
}

AuditEvent KeySetsDelivered(std::string actor, std::string cert_uri, std::span<const KeySetRef> key_sets) {
  return KeySetEvent(AuditEventKind::kKeySetDelivered, AuditEventKind::kKeySetDelivered, std::move(actor),
                     std::move(cert_uri), key_sets);
}

std::vector<ListedKeySets> ListKeySets(std::string_view user_uri, std::string_view detail) {
  std::vector<ListedKeySets> out;
  if (!user_uri.empty()) {
    if (detail.substr(0, kPeriodsWord.size()) == kPeriodsWord) {
      out.push_back({std::string(user_uri), std::string(detail.substr(kPeriodsWord.size()))});
    }
    return out;
  }
  while (!detail.empty()) {
    const size_t eol = detail.find('\n');
    std::string_view line = detail.substr(0, eol);
    detail = eol == std::string_view::npos ? std::string_view() : detail.substr(eol + 1);
    const size_t sep = line.find(' ');
    if (sep == std::string_view::npos) continue;
    std::string_view rest = line.substr(sep + 1);
    if (rest.substr(0, kPeriodsWord.size()) != kPeriodsWord) continue;
    out.push_back({std::string(line.substr(0, sep)), std::string(rest.substr(kPeriodsWord.size()))});
  }
  return out;
}

bool ConcernsUser(std::string_view record_user_uri, std::string_view detail, std::string_view user) {
  if (record_user_uri == user) return true;
  if (!record_user_uri.empty()) return false;
  const std::string wanted = LineSafe(user);
  if (detail.find(wanted) == std::string_view::npos) return false;  // the common case, cheaply
  for (const ListedKeySets& l : ListKeySets({}, detail)) {
    if (l.user_uri == wanted) return true;
  }
  return false;
}

}  // namespace mcx
