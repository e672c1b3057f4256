#include "engine/custody/kms_instance.h"

#include "base/guarded_memory.h"
#include "engine/custody/key_set_source.h"
#include "engine/custody/store_kms_state.h"
#include "engine/service/stored_key_service.h"
#include "engine/store/sqlite_key_store.h"

namespace mcx {
namespace {

constexpr uint64_t kCertificateLifetime = 20ull * 365 * 86400;  // seconds

// The certificate's validity is fixed when the KMS is first opened with its store: from the start
// of the key period in progress (a certificate takes over on a period boundary), for about 20
// years. Stores made before this rule keep the window they were given.
Result<std::pair<NtpSeconds, NtpSeconds>> CertificateValidity(KeyStore& store, const CommunityParameters& params,
                                                              Env& env) {
  Bytes fresh(16);
  Result<KeyPeriod> current = KeyPeriod::Containing(params, NtpNow(env));
  if (!current.ok()) return current.status().Annotate("the certificate's first key period");
  const NtpSeconds from = current->valid_from, to = from + kCertificateLifetime - 1;
  for (int i = 0; i < 8; ++i) {
    fresh[static_cast<size_t>(i)] = static_cast<uint8_t>(from >> (56 - 8 * i));
    fresh[static_cast<size_t>(8 + i)] = static_cast<uint8_t>(to >> (56 - 8 * i));
  }
  Result<Bytes> kept = store.PutBlobIfAbsent(kCertificateValidityBlob, fresh);
  if (!kept.ok()) return kept.status();
  if (kept->size() != 16) return Status::DataLoss("the stored certificate validity is damaged");
  NtpSeconds a = 0, b = 0;
  for (int i = 0; i < 8; ++i) {
    a = a << 8 | (*kept)[static_cast<size_t>(i)];
    b = b << 8 | (*kept)[static_cast<size_t>(8 + i)];
  }
  return std::make_pair(a, b);
}

}  // namespace

KmsInstance::~KmsInstance() = default;

std::string KmsInstance::store_description() const { return "SQLite " + config().store_path.string(); }

Result<std::unique_ptr<KmsInstance>> KmsInstance::Open(const KmsConfig& config, Env& env) {
  std::unique_ptr<KmsInstance> k(new KmsInstance());
  // The certificate URI names this KMS instance (its id), so a KMS created again with the same
  // URI never mistakes the old one's key sets for its own.
  const std::string cert_uri = config.params.kms_uri + ".cert." + config.kms_id.substr(0, 16);
  // A failed open changes nothing on disk. A KMS fresh from `init` keeps its state in files: the
  // custody opens them first (PIN, KEK, unsealing, the certificate's keys), and only then is the
  // store created and the state moved into it. Otherwise the state is in the store, which must
  // exist already: an empty one made here would only hide that the state is gone.
  if (HasKmsStateFiles(config, env)) {
    Result<std::unique_ptr<KmsCustody>> custody = KmsCustody::Open(config, KmsStateFiles(config.data_dir, env), env);
    if (!custody.ok()) return custody.status();
    k->custody_ = std::move(custody).value();
  } else if (!env.FileExists(config.store_path)) {
    return Status::NotFound("opening the KMS in '" + config.data_dir.string() + "': its store " +
                            config.store_path.string() + " is missing and the data directory holds no sealed "
                            "master secrets to start one; restore the store from backup");
  }
  Result<std::unique_ptr<KeyStore>> store = OpenSqliteKeyStore(config.store_path, cert_uri);
  if (!store.ok()) return store.status();
  k->store_ = std::move(store).value();
  MCX_RETURN_IF_ERROR(AdoptKmsStateFiles(config, *k->store_, env));
  if (!k->custody_) {
    Result<std::unique_ptr<KmsCustody>> custody = KmsCustody::Open(config, StoreKmsState(*k->store_), env);
    if (!custody.ok()) return custody.status();
    k->custody_ = std::move(custody).value();
  }

  // The data key that seals key sets at rest: drawn from the HSM once, kept sealed by the KEK.
  // When two processes create it at once, the store keeps the first and both use that one.
  SecretBytes data_key;
  {
    GuardedSecretScope guarded;
    Result<std::optional<Bytes>> stored = k->store_->GetBlob(kDataKeyBlob);
    if (!stored.ok()) return stored.status();
    Bytes sealed_key;
    if (stored->has_value()) {
      sealed_key = std::move(**stored);
    } else {
      SecretBytes fresh(kDataKeyBytes);
      MCX_RETURN_IF_ERROR(k->custody_->random().Fill(fresh.span()).Annotate("drawing the store's data key"));
      Result<Bytes> sealed = k->custody_->Seal(fresh.view(), kDataKeyPurpose);
      if (!sealed.ok()) return sealed.status().Annotate("sealing the store's data key");
      Result<Bytes> kept = k->store_->PutBlobIfAbsent(kDataKeyBlob, *sealed);
      if (!kept.ok()) return kept.status();
      sealed_key = std::move(kept).value();
    }
    Result<SecretBytes> opened = k->custody_->Unseal(sealed_key, kDataKeyPurpose);
    if (!opened.ok()) return opened.status().Annotate("unsealing the store's data key");
    if (opened->size() != kDataKeyBytes) return Status::DataLoss("the store's data key has the wrong length");
    data_key = std::move(opened).value();
    MCX_RETURN_IF_ERROR(guarded.status());
  }
  k->cipher_ = std::make_unique<KeySetCipher>(std::move(data_key), cert_uri);

  k->sakke_ = NewBestSakkeKernel();
  k->eccsi_ = NewFastEccsiKernel();
  k->source_ = NewCustodyKeySetSource(*k->custody_, *k->sakke_, *k->eccsi_);

  Result<std::pair<NtpSeconds, NtpSeconds>> validity = CertificateValidity(*k->store_, config.params, env);
  if (!validity.ok()) return validity.status();
  KmsCertificate& cert = k->certificate_;
  cert.params = config.params;
  cert.cert_uri = cert_uri;
  cert.issuer = config.params.kms_uri;
  cert.valid_from = validity->first;
  cert.valid_to = validity->second;
  cert.keys = k->custody_->public_keys();

  KmsCustody* custody_ptr = k->custody_.get();
  DeliveryRecorder::Options delivery_options;
  delivery_options.env = &env;
  k->deliveries_ = std::make_unique<DeliveryRecorder>(*k->store_, delivery_options);
  k->service_ = std::make_unique<StoredKeyService>(cert, *k->source_, *k->cipher_, *k->store_,
                                                   [custody_ptr] { return custody_ptr->Ping(); }, k->deliveries_.get());
  return k;
}

}  // namespace mcx
