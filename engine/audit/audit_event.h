// AuditEvent: one security-relevant act, as the KMS records it in its audit chain.
//
// An event says what happened (its kind, whose text name is stable: it is what the chain hashes
// and what `audit show` prints), who did it (an OS user for a command, a token's subject for a
// request, "server" for the server's own acts), for which user and certificate (either may be
// empty), and free text. Key-set events name their periods in `detail`; a batch record (bulk
// provisioning, deliveries to several users) lists every user with its periods, one line each,
// so that every key set stays traceable to the record that accounts for it:
//
//   key-set-issued          user_uri set, detail "periods 3905-3916"
//   key-sets-issued-batch   user_uri empty, detail "sip:a@x periods 3905-3916\nsip:b@x periods 3905"
//
// KeySetsIssued()/KeySetsDelivered() build those from the KeySetRefs the store already works with.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/store/key_store.h"

namespace mcx {

enum class AuditEventKind {
  kKmsCreated,
  kUnsealed,
  kKeySetIssued,
  kKeySetsIssuedBatch,
  kKeySetDelivered,  // first delivery of one or more key sets (one user, or a batch)
  kUserRevoked,
  kUserReinstated,
  kCertificateRolledOver,
  kCertificateImported,
  kCertificateRemoved,
  kCertificateRevoked,
  kRequestRefused,  // a request that carried a token and was refused (401/403)
  kAdminCommand,
};

// "kms-created", "key-set-issued", ...: stable, never renamed (records hash them).
const char* AuditEventKindName(AuditEventKind kind);
std::optional<AuditEventKind> ParseAuditEventKind(std::string_view name);

struct AuditEvent {
  AuditEventKind kind = AuditEventKind::kAdminCommand;
  std::string actor;
  std::string user_uri;
  std::string cert_uri;
  std::string detail;
};

// The issuance of these key sets under `cert_uri`: a key-set-issued record when they all belong
// to one user, else a key-sets-issued-batch record listing each user with its periods.
AuditEvent KeySetsIssued(std::string actor, std::string cert_uri, std::span<const KeySetRef> key_sets);
// The first delivery of these key sets (a key-set-delivered record; user_uri set when one user).
AuditEvent KeySetsDelivered(std::string actor, std::string cert_uri, std::span<const KeySetRef> key_sets);

// "3905-3916,3920": sorted, duplicates dropped, runs collapsed.
std::string FormatPeriods(std::vector<uint64_t> periods);

// The key sets an event accounts for, per user: the event's own user with the periods of its
// detail, or each line of a batch's detail. Empty for events that name no key sets.
struct ListedKeySets {
  std::string user_uri;
  std::string periods;  // as FormatPeriods wrote it
};
std::vector<ListedKeySets> ListKeySets(std::string_view user_uri, std::string_view detail);

// Whether a record with these fields concerns `user`: its user_uri, or a line of its batch.
bool ConcernsUser(std::string_view record_user_uri, std::string_view detail, std::string_view user);

}  // namespace mcx
