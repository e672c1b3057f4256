// StoredKeyService: the KeyService of a KMS with a store.
//
// A key set asked for is served from the store when it was issued before (pre-provisioned in
// bulk, or asked for earlier), unless it is marked revoked; otherwise it is derived under the
// certificate in force at the time asked for, recorded, sealed and stored first, in batches with
// the other requests for new key sets that wait at the same time (OnDemandIssuer). When two
// requests race for the same new key set, the store keeps the first and both callers get it, so
// a user never sees two SSK/PVT pairs for one period. Every key set handed out is marked delivered
// through the DeliveryRecorder, when one is given (off the request's path), unless the store read
// it as delivered already: the mark is a write, and a reconnecting device asks again. The KMS
// publishes a new ServedCertificates when its lifecycle changes (Publish).
//
// Lookups in a remote store (KeyStore::remote(), PostgreSQL) are gathered: while one lookup query
// is in flight, the requests that arrive are queued and their threads return at once; the next
// request to arrive after it returns (or, failing that, the thread that ran it, once it has
// answered its own batch) sends all that wait, up to kLookupBatch, as one FindMany. A round trip
// is most of what a lookup costs, so under load it is shared; there is no timer, so a request
// alone is looked up at once. The callbacks of a batch run on the thread that looked it up. A
// local store (SQLite) is asked on the caller's thread, one Find each.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>

#include "engine/audit/audit_log.h"
#include "engine/keys/key_set_source.h"
#include "engine/service/delivery_recorder.h"
#include "engine/service/key_service.h"
#include "engine/service/on_demand_issuer.h"
#include "engine/store/key_store.h"

namespace mcx {

class StoredKeyService final : public KeyService {
 public:
  // All references, and the pointers in `served`, must outlive the service. `hsm_ping` checks
  // the HSM for Ready(); `deliveries` may be null (nothing is marked delivered).
  StoredKeyService(std::shared_ptr<const ServedCertificates> served, KeyStore& store,
                   std::function<Status()> hsm_ping, DeliveryRecorder* deliveries = nullptr);

  std::shared_ptr<const ServedCertificates> Certificates() const override { return served_.load(); }
  Result<KeySet> KeySetAt(const ServedCertificates& served, const std::string& user_uri, NtpSeconds t) override;
  // Answers at once from the store; a key set not issued yet goes to the OnDemandIssuer, whose
  // thread answers.
  void KeySetAtAsync(const ServedCertificates& served, const std::string& user_uri, NtpSeconds t,
                     std::function<void(Result<KeySet>)> done) override;
  using KeyService::KeySetAt;
  Status Ready() override;

  // Records each key set it derives in `audit` before storing it, and refuses to serve while the
  // log cannot be written, unless `fail_open` (then it serves and logs loudly). Call before use.
  void SetAuditLog(AuditLog* audit, bool fail_open) {
    audit_ = audit;
    audit_fail_open_ = fail_open;
    issuer_.SetAuditLog(audit, fail_open);
  }
  // Requests answered and batches derived on demand, for the bench and metrics.
  OnDemandIssuer::Counters on_demand() const { return issuer_.counters(); }

  // Serves `served` from now on; requests already running finish on the snapshot they hold.
  void Publish(std::shared_ptr<const ServedCertificates> served) { served_.store(std::move(served)); }

 private:
  using Answer = std::function<void(Result<KeySet>)>;
  // A request waiting for the next gathered lookup.
  struct Lookup {
    const IssuingCertificate* cert;
    std::string user_uri;
    uint64_t key_period_no;
    Answer answer;
  };
  static constexpr size_t kLookupBatch = 256;

  // The served form of a stored key set: refused when revoked, else opened.
  Result<KeySet> Opened(const IssuingCertificate& cert, const SealedKeySet& found);
  // Answers from what the store holds (`found`), or sends a key set not issued yet to the
  // OnDemandIssuer. A key set handed out for the first time is marked delivered; one the store
  // already marks delivered is not queued again (under a reconnect storm most are, and each
  // mark is a write).
  void AnswerOrIssue(const IssuingCertificate& cert, const std::string& user_uri, uint64_t key_period_no,
                     Result<std::optional<SealedKeySet>> found, Answer answer);
  // Queues the delivery mark of a key set handed out (DeliveryRecorder), when there is a recorder.
  void RecordDelivery(const IssuingCertificate& cert, const std::string& user_uri, uint64_t key_period_no);
  // Queues a lookup in a remote store, and runs the queue when no lookup query is in flight.
  void Gather(Lookup lookup);
  // With looking_up_ set by the caller: sends the queued lookups as one FindMany, answers them,
  // and goes on while lookups wait and no other thread has taken them.
  void RunLookups();

  std::atomic<std::shared_ptr<const ServedCertificates>> served_;
  KeyStore& store_;  // for Ready()
  std::function<Status()> hsm_ping_;
  DeliveryRecorder* deliveries_;
  OnDemandIssuer issuer_;
  AuditLog* audit_ = nullptr;
  bool audit_fail_open_ = false;
  std::mutex lookup_mu_;
  std::deque<Lookup> lookups_;  // waiting for the next query
  bool looking_up_ = false;     // a query is in flight (its thread takes the queue afterwards)
  Status CheckAudit(const Status& st) const;
};

}  // namespace mcx
