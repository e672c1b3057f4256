// KmsInstance: a running KMS, assembled from its data directory.
//
// Open() opens HSM custody (unsealing the master secrets into guarded memory) and the store (moving
// the state files of a fresh `init` into it only after custody has opened them: a wrong PIN or a
// missing key changes nothing on disk), unseals the store's
// data key (creating it from the HSM's generator on first use), picks the fastest arithmetic for
// this CPU, and builds the KMS certificate and the services the commands use: the KeySetSource
// for bulk provisioning and the KeyService for the KMS interface.
#pragma once

#include <memory>
#include <string>

#include "engine/custody/kms_config.h"
#include "engine/custody/kms_custody.h"
#include "engine/keys/key_set_source.h"
#include "engine/keys/kms_certificate.h"
#include "engine/service/delivery_recorder.h"
#include "engine/service/key_service.h"
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
  const KmsCertificate& certificate() const { return certificate_; }
  KmsCustody& custody() { return *custody_; }
  KeyStore& store() { return *store_; }
  const KeySetCipher& cipher() const { return *cipher_; }
  KeySetSource& source() { return *source_; }
  KeyService& key_service() { return *service_; }
  // Marks served key sets delivered; the server's metrics read its counters.
  DeliveryRecorder& deliveries() { return *deliveries_; }
  const char* arithmetic() const { return sakke_->Name(); }
  std::string store_description() const;

 private:
  KmsInstance() = default;
  std::unique_ptr<KeyStore> store_;
  std::unique_ptr<KmsCustody> custody_;
  std::unique_ptr<SakkeKernel> sakke_;
  std::unique_ptr<EccsiKernel> eccsi_;
  std::unique_ptr<KeySetSource> source_;
  std::unique_ptr<KeySetCipher> cipher_;
  std::unique_ptr<DeliveryRecorder> deliveries_;  // after store_: flushes into it when destroyed
  std::unique_ptr<KeyService> service_;
  KmsCertificate certificate_;
};

}  // namespace mcx
