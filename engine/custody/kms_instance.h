// KmsInstance: a running KMS, assembled from its data directory.
//
// Open() opens HSM custody (unsealing the first certificate's master secrets into guarded memory)
// and the store (moving the state files of a fresh `init` into it only after custody has opened
// them: a wrong PIN or a missing key changes nothing on disk), unseals the store's data key
// (creating it from the HSM's generator on first use), picks the fastest arithmetic for this
// CPU, and loads the KMS's certificates from the store's lifecycle tables: for each of its own,
// the master secrets unsealed, a KeySetSource and a KeySetCipher. It builds the services the
// commands use: KeySetSources for bulk provisioning and the KeyService for the KMS interface.
//
// The lifecycle (rollover, revocation, import; engine/custody/certificate_lifecycle.h) may be
// changed by another process on the same store. Reload() picks the change up, and
// StartWatching() does so in the background every interval, so a running server serves it
// within one interval without a restart.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/custody/audit_custody.h"
#include "engine/custody/kms_config.h"
#include "engine/custody/kms_custody.h"
#include "engine/keys/key_set_source.h"
#include "engine/keys/kms_certificate.h"
#include "engine/service/delivery_recorder.h"
#include "engine/service/served_certificates.h"
#include "engine/service/stored_key_service.h"
#include "engine/store/key_store.h"

namespace mcx {

inline constexpr char kDataKeyBlob[] = "store-data-key.sealed";
inline constexpr char kDataKeyPurpose[] = "store-data-key";
inline constexpr char kCertificateValidityBlob[] = "kms-certificate-validity";

class KmsInstance {
 public:
  // Files and the clock go through `env`, which must outlive the instance.
  static Result<std::unique_ptr<KmsInstance>> Open(const KmsConfig& config, Env& env = Env::Default());
  ~KmsInstance();

  const KmsConfig& config() const { return custody_->config(); }
  // The certificate in force when the instance was opened (or, when none was, the newest own
  // one), with its source, cipher and store. Lifecycle-aware callers use certificates().
  const KmsCertificate& certificate() const { return current_->certificate; }
  KeySetSource& source() { return *current_->source; }
  const KeySetCipher& cipher() const { return *current_->cipher; }
  KeyStore& store() { return *current_->store; }

  // What is served now.
  std::shared_ptr<const ServedCertificates> certificates() const { return service_->Certificates(); }
  // Reads the lifecycle from the store when it changed (or a certificate expired) and publishes
  // it to the KeyService. Unavailable when the store cannot be read (what is served stays).
  Status Reload();
  // Reload() every `interval` in a thread of its own, until the instance is destroyed. Failures
  // are logged once per change of state, never per poll.
  void StartWatching(std::chrono::milliseconds interval);

  KmsCustody& custody() { return *custody_; }
  // The audit chain of this node (engine/audit/audit_log.h): every command and the server record
  // into it. Record() fails closed unless config().audit_fail_open; RecordOrRefuse() applies that.
  AuditLog& audit() { return *audit_.log; }
  Status RecordOrRefuse(const AuditEvent& event);
  KeyService& key_service() { return *service_; }
  // Marks served key sets delivered; the server's metrics read its counters.
  DeliveryRecorder& deliveries() { return *deliveries_; }
  const char* arithmetic() const { return sakke_->Name(); }
  // Builds the kernels' tables now (about half a second) rather than in the first derivation: a
  // server calls it before it listens, so that no request waits for them.
  void PrepareArithmetic() const {
    sakke_->PrepareTables();
    eccsi_->PrepareTables();
  }
  std::string store_description() const;

 private:
  // One of this KMS's own certificates, ready to issue. Lives as long as the instance, so the
  // pointers in every published ServedCertificates stay valid.
  struct OwnCertificate {
    KmsCertificate certificate;
    MasterSecrets secrets;  // empty for the first one, whose secrets the custody holds
    std::unique_ptr<KeySetSource> source;
    std::unique_ptr<KeySetCipher> cipher;
    std::unique_ptr<KeyStore> store;
  };

  KmsInstance() = default;
  Result<bool> AdoptFirstCertificate(Env& env);  // true when it added it (the KMS is created)
  Result<OwnCertificate*> OwnCertificateFor(const StoredCertificate& stored);
  Result<std::shared_ptr<const ServedCertificates>> Load();
  void Watch(std::chrono::milliseconds interval);

  Env* env_ = nullptr;
  std::unique_ptr<KeyStore> store_;
  std::unique_ptr<KmsCustody> custody_;
  std::unique_ptr<SakkeKernel> sakke_;
  std::unique_ptr<EccsiKernel> eccsi_;
  SecretBytes data_key_;
  std::mutex load_mu_;  // one Load() at a time; guards own_ and loaded_generation_
  std::map<std::string, std::unique_ptr<OwnCertificate>> own_;
  uint64_t loaded_generation_ = 0;
  NtpSeconds next_expiry_ = 0;  // the earliest ValidTo still served: Reload() expires past it
  OwnCertificate* current_ = nullptr;
  KmsAudit audit_;  // after custody_ (its key is on the token); before deliveries_, which record into it
  std::unique_ptr<DeliveryRecorder> deliveries_;  // after store_: flushes into it when destroyed
  std::unique_ptr<StoredKeyService> service_;

  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool stopping_ = false;
  std::thread watcher_;
};

}  // namespace mcx
