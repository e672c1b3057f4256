#include "engine/custody/kms_instance.h"

#include <cstdio>

#include <unistd.h>

#include "base/guarded_memory.h"
#include "engine/custody/certificate_record.h"
#include "engine/custody/key_set_source.h"
#include "engine/custody/store_kms_state.h"
#include "engine/store/store_location.h"

namespace mcx {
namespace {

constexpr uint64_t kCertificateLifetime = 20ull * 365 * 86400;  // seconds

// The first certificate's validity is fixed when the KMS is first opened with its store: from the
// start of the key period in progress (a certificate takes over on a period boundary), for about
// 20 years. Stores made before this rule keep the window they were given.
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

// The first certificate's URI names this KMS instance (its id), so a KMS created again with the
// same URI never mistakes the old one's key sets for its own.
std::string FirstCertUri(const KmsConfig& config) {
  return config.params.kms_uri + ".cert." + config.kms_id.substr(0, 16);
}

}  // namespace

KmsInstance::~KmsInstance() {
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    stopping_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

std::string KmsInstance::store_description() const { return config().store_location().Describe(); }

Result<std::unique_ptr<KmsInstance>> KmsInstance::Open(const KmsConfig& config, Env& env) {
  std::unique_ptr<KmsInstance> k(new KmsInstance());
  k->env_ = &env;
  const std::string first_cert_uri = FirstCertUri(config);
  // A failed open changes nothing on disk. A KMS fresh from `init` keeps its state in files: the
  // custody opens them first (PIN, KEK, unsealing, the certificate's keys), and only then is the
  // store created and the state moved into it. Otherwise the state is in the store, which must
  // exist already: an empty one made here would only hide that the state is gone.
  if (HasKmsStateFiles(config, env)) {
    Result<std::unique_ptr<KmsCustody>> custody = KmsCustody::Open(config, KmsStateFiles(config.data_dir, env), env);
    if (!custody.ok()) return custody.status();
    k->custody_ = std::move(custody).value();
  } else if (!config.store_location().postgres() && !env.FileExists(config.store_path)) {
    return Status::NotFound("opening the KMS in '" + config.data_dir.string() + "': its store " +
                            config.store_path.string() + " is missing and the data directory holds no sealed "
                            "master secrets to start one; restore the store from backup");
  }
  Result<std::unique_ptr<KeyStore>> store = OpenKeyStore(config.store_location(), first_cert_uri);
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
    k->data_key_ = std::move(opened).value();
    MCX_RETURN_IF_ERROR(guarded.status());
  }

  k->sakke_ = NewBestSakkeKernel();
  k->eccsi_ = NewFastEccsiKernel();

  // The audit chain: its key is on the KMS's token (created by init, or now for an older KMS).
  {
    AuditLogOptions options;
    options.node = LocalAuditNode();
    // The issuer's batches hand in their record before they derive (OnDemandIssuer) and wait for
    // it after: a window shorter than one derivation (about 400 us one at a time, on either fast
    // path) lets the records of concurrent batches share a commit at no cost to any of them; one
    // who waits sooner is never held back.
    options.gather_window = std::chrono::microseconds(250);
    // The same durability as the key store whose key sets the records account for (WAL,
    // synchronous=NORMAL: a commit survives a crash of the process; a power cut may lose the last
    // commits of both together). An fsync per commit would halve the on-demand serving rate.
    SqliteAuditStoreOptions store_options;
    store_options.sync_every_commit = false;
    store_options.checkpointed_elsewhere = true;  // by the key store's SqliteDatabase, opened above
    Result<KmsAudit> audit = OpenKmsAudit(config, &k->custody_->token(), options, store_options, env);
    if (!audit.ok()) return audit.status().Annotate("opening the audit log");
    k->audit_ = std::move(audit).value();
  }
  // The first certificate, as `init` made it, enters the lifecycle tables on first open.
  Result<bool> created = k->AdoptFirstCertificate(env);
  if (!created.ok()) return created.status();
  if (*created) {
    MCX_RETURN_IF_ERROR(k->RecordOrRefuse({AuditEventKind::kKmsCreated, LocalOperator(), "", FirstCertUri(config),
                                           "KMS " + config.params.kms_uri + ", id " + config.kms_id}));
  }
  MCX_RETURN_IF_ERROR(k->RecordOrRefuse({AuditEventKind::kUnsealed, LocalOperator(), "", "",
                                         "master secrets unsealed by process " + std::to_string(::getpid())}));
  Result<std::shared_ptr<const ServedCertificates>> served = k->Load();
  if (!served.ok()) return served.status();

  // certificate(): the one in force now, else the newest of this KMS's own.
  if (const IssuingCertificate* now = (*served)->InForceAt(NtpNow(env))) {
    k->current_ = k->own_.at(now->certificate.cert_uri).get();
  } else {
    for (auto& [uri, own] : k->own_) {
      if (k->current_ == nullptr || own->certificate.valid_from > k->current_->certificate.valid_from) {
        k->current_ = own.get();
      }
    }
  }
  if (k->current_ == nullptr) return Status::DataLoss("the store holds no certificate of this KMS");

  KmsCustody* custody_ptr = k->custody_.get();
  DeliveryRecorder::Options delivery_options;
  delivery_options.env = &env;
  AuditLog* audit_log = k->audit_.log.get();
  delivery_options.on_first_delivery = [audit_log](const std::string& cert_uri, std::span<const KeySetRef> first) {
    // After the fact: the key set has been handed out. A failure shows in the log's health, and
    // the service then refuses further requests (fail-closed).
    audit_log->RecordAsync(KeySetsDelivered("server", cert_uri, first));
  };
  k->deliveries_ = std::make_unique<DeliveryRecorder>(*k->store_, delivery_options);
  k->service_ = std::make_unique<StoredKeyService>(*served, *k->store_, [custody_ptr] { return custody_ptr->Ping(); },
                                                   k->deliveries_.get());
  k->service_->SetAuditLog(k->audit_.log.get(), config.audit_fail_open);
  return k;
}

Result<bool> KmsInstance::AdoptFirstCertificate(Env& env) {
  Result<std::vector<StoredCertificate>> listed = store_->lifecycle().ListCertificates();
  if (!listed.ok()) return listed.status();
  for (const StoredCertificate& c : *listed) {
    if (c.own) return false;
  }
  Result<std::pair<NtpSeconds, NtpSeconds>> validity = CertificateValidity(*store_, config().params, env);
  if (!validity.ok()) return validity.status();
  Result<SealedMasterSecrets> sealed = StoreKmsState(*store_).ReadSealedSecrets();
  if (!sealed.ok()) return sealed.status();
  KmsCertificate cert;
  cert.role = kRoleRoot;
  cert.params = config().params;
  cert.cert_uri = FirstCertUri(config());
  cert.issuer = config().params.kms_uri;
  cert.valid_from = validity->first;
  cert.valid_to = validity->second;
  cert.keys = custody_->public_keys();
  Status added = store_->lifecycle().AddCertificate(CertificateRow(cert, &*sealed));
  // Another process opening the same fresh store may have added it first.
  if (added.code() == Status::Code::kAlreadyExists) return false;
  if (!added.ok()) return added;
  return true;
}

Status KmsInstance::RecordOrRefuse(const AuditEvent& event) {
  return RefuseUnlessRecorded(audit_.log->Record(event), config().audit_fail_open,
                              std::string("this act (") + AuditEventKindName(event.kind) + ")");
}

Result<KmsInstance::OwnCertificate*> KmsInstance::OwnCertificateFor(const StoredCertificate& stored) {
  auto it = own_.find(stored.cert_uri);
  if (it != own_.end()) return it->second.get();
  Result<KmsCertificate> cert = DecodeCertificateRecord(stored.record, stored.cert_uri);
  if (!cert.ok()) return cert.status();
  if (cert->params.kms_uri != config().params.kms_uri ||
      cert->params.user_key_period != config().params.user_key_period ||
      cert->params.user_key_offset != config().params.user_key_offset) {
    return Status::DataLoss("the certificate " + stored.cert_uri + " in the store is not for this KMS's community "
                            "parameters; restore the store from backup");
  }
  auto own = std::make_unique<OwnCertificate>();
  own->certificate = *cert;
  const MasterSecrets* secrets = &custody_->secrets();
  if (cert->keys.z_pub != custody_->public_keys().z_pub || cert->keys.kpak != custody_->public_keys().kpak) {
    Result<MasterSecrets> opened = custody_->UnsealMasterSecrets({stored.sealed_z, stored.sealed_ksak}, cert->keys);
    if (!opened.ok()) return opened.status().Annotate("unsealing the master secrets of " + stored.cert_uri);
    own->secrets = std::move(opened).value();
    secrets = &own->secrets;
  }
  own->source = std::make_unique<HostKeySetSource>(config().params, *secrets, cert->keys, *sakke_, *eccsi_,
                                                   custody_->random());
  {
    GuardedSecretScope guarded;
    own->cipher = std::make_unique<KeySetCipher>(SecretBytes(data_key_.view()), stored.cert_uri);
    MCX_RETURN_IF_ERROR(guarded.status());
  }
  own->store = store_->ForCertificate(stored.cert_uri);
  OwnCertificate* raw = own.get();
  own_.emplace(stored.cert_uri, std::move(own));
  return raw;
}

Result<std::shared_ptr<const ServedCertificates>> KmsInstance::Load() {
  std::lock_guard<std::mutex> lock(load_mu_);
  LifecycleStore& lifecycle = store_->lifecycle();
  const NtpSeconds now = NtpNow(*env_);
  if (next_expiry_ != 0 && now > next_expiry_) {
    Result<size_t> expired = lifecycle.ExpireCertificates(now);
    if (!expired.ok()) return expired.status();
  }
  Result<uint64_t> generation = lifecycle.Generation();
  if (!generation.ok()) return generation.status();
  Result<std::vector<StoredCertificate>> certs = lifecycle.ListCertificates();
  if (!certs.ok()) return certs.status();
  Result<std::vector<UserRevocation>> revoked = lifecycle.ListRevokedUsers();
  if (!revoked.ok()) return revoked.status();
  Result<uint64_t> cache_num = lifecycle.CacheNum();
  if (!cache_num.ok()) return cache_num.status();

  auto served = std::make_shared<ServedCertificates>();
  served->kms_uri = config().params.kms_uri;
  served->cache_num = *cache_num;
  served->generation = *generation;
  NtpSeconds next_expiry = 0;
  for (const StoredCertificate& stored : *certs) {
    if (stored.expired) continue;
    if (next_expiry == 0 || stored.valid_to < next_expiry) next_expiry = stored.valid_to;
    KmsCertificate cert;
    if (stored.own) {
      Result<OwnCertificate*> own = OwnCertificateFor(stored);
      if (!own.ok()) return own.status();
      cert = (*own)->certificate;
      cert.revoked = stored.revoked;
      if (!stored.revoked) {
        served->issuing.push_back({cert, (*own)->source.get(), (*own)->cipher.get(), (*own)->store.get()});
      }
    } else {
      Result<KmsCertificate> external = DecodeCertificateRecord(stored.record, stored.cert_uri);
      if (!external.ok()) return external.status();
      cert = *external;
      cert.revoked = cert.revoked || stored.revoked;
    }
    served->cache.push_back(std::move(cert));
  }
  for (const UserRevocation& r : *revoked) served->revoked_users.emplace(r.user_uri, r.from);
  loaded_generation_ = *generation;
  next_expiry_ = next_expiry;
  return std::shared_ptr<const ServedCertificates>(std::move(served));
}

Status KmsInstance::Reload() {
  {
    // A cheap check first: the generation and the clock tell whether anything changed.
    Result<uint64_t> generation = store_->lifecycle().Generation();
    if (!generation.ok()) return generation.status();
    std::lock_guard<std::mutex> lock(load_mu_);
    const bool expiring = next_expiry_ != 0 && NtpNow(*env_) > next_expiry_;
    if (*generation == loaded_generation_ && !expiring) return Status::Ok();
  }
  Result<std::shared_ptr<const ServedCertificates>> served = Load();
  if (!served.ok()) return served.status();
  service_->Publish(std::move(served).value());
  return Status::Ok();
}

void KmsInstance::StartWatching(std::chrono::milliseconds interval) {
  if (watcher_.joinable()) return;
  watcher_ = std::thread([this, interval] { Watch(interval); });
}

void KmsInstance::Watch(std::chrono::milliseconds interval) {
  bool failing = false;
  std::unique_lock<std::mutex> lock(watch_mu_);
  while (!watch_cv_.wait_for(lock, interval, [this] { return stopping_; })) {
    lock.unlock();
    Status st = Reload();
    if (!st.ok() && !failing) {
      std::fprintf(stderr, "mcx-kms: cannot read the certificate lifecycle from the store (serving what was read "
                           "before; retrying): %s\n", st.ToString().c_str());
    } else if (st.ok() && failing) {
      std::fprintf(stderr, "mcx-kms: the certificate lifecycle is read from the store again\n");
    }
    failing = !st.ok();
    lock.lock();
  }
}

}  // namespace mcx
