#include "engine/custody/kms_init.h"

#include <functional>

#include "base/guarded_memory.h"
#include "base/pooled_random.h"
#include "engine/custody/audit_custody.h"
#include "engine/custody/file_staging.h"
#include "engine/custody/kms_state_files.h"
#include "engine/custody/kms_token.h"
#include "engine/store/postgres_database.h"
#include "hsm/hsm_random.h"
#include "hsm/key_encryption_key.h"
#include "hsm/sealed_blob.h"
#include "hsm/token_requirements.h"

namespace mcx {
namespace {

namespace fs = std::filesystem;

constexpr char kDemoPinFile[] = "hsm-pin";
constexpr char kDemoSoPinFile[] = "hsm-so-pin";
constexpr char kSoftHsmConfFile[] = "softhsm2.conf";
constexpr char kDemoTokenDirPrefix[] = "softhsm-tokens-";

// Runs its action unless dismissed: undoes what a failed init created outside the staging area.
class Undo {
 public:
  ~Undo() {
    for (auto it = actions_.rbegin(); it != actions_.rend(); ++it) (*it)();
  }
  void Add(std::function<void()> f) { actions_.push_back(std::move(f)); }
  void Dismiss() { actions_.clear(); }

 private:
  std::vector<std::function<void()>> actions_;
};

Result<std::string> RandomHex(RandomSource& rng, size_t octets) {
  Bytes b(octets);
  MCX_RETURN_IF_ERROR(rng.Fill(b));
  return ToHex(b);
}

Status ValidateOptions(const InitOptions& o) {
  if (o.data_dir.empty()) return Status::InvalidArgument("no data directory given: pass --data-dir");
  if (o.demo) return Status::Ok();
  if (o.module_path.empty()) {
    return Status::InvalidArgument("no PKCS#11 module given: pass --module PATH (or --demo for a SoftHSM2 demo token)");
  }
  if (o.token_label.empty()) return Status::InvalidArgument("no token given: pass --token-label LABEL");
  if (o.pin.kind == hsm::PinSource::Kind::kNone) {
    return Status::InvalidArgument("no PIN source given: pass --pin-env NAME or --pin-file PATH");
  }
  if (o.kms_uri.empty()) return Status::InvalidArgument("no KMS URI given: pass --kms-uri, e.g. kms.example.org");
  return Status::Ok();
}

// The SoftHSM2 configuration of a demo token kept in `token_dir`.
std::string SoftHsmConf(const fs::path& token_dir) {
  return "# SoftHSM2 configuration of the mcx-kms demo token (written by `mcx-kms init --demo`).\n"
         "directories.tokendir = " + token_dir.string() + "\n"
         "objectstore.backend = file\n"
         "log.level = ERROR\n"
         "slots.removable = false\n";
}

// Creates the demo token. Returns its user PIN; stages the PIN files and softhsm2.conf.
Result<SecretBytes> CreateDemoToken(KmsConfig& config, FileStaging& staging, Undo& undo, fs::path& token_dir,
                                    Env& env) {
  OpenSslRandom os_rng;  // the token to draw from does not exist yet
  Result<std::string> suffix = RandomHex(os_rng, 4);
  if (!suffix.ok()) return suffix.status();
  token_dir = config.data_dir / (kDemoTokenDirPrefix + *suffix);
  Result<bool> made = env.CreateDir(token_dir, 0700);
  if (!made.ok()) return made.status();
  undo.Add([dir = token_dir, &env] { (void)env.RemoveTree(dir); });

  const std::string conf = SoftHsmConf(token_dir);
  MCX_RETURN_IF_ERROR(staging.Add(kSoftHsmConfFile, AsBytes(conf), 0600));
  GuardedSecretScope guarded;
  Result<std::string> so_pin = RandomHex(os_rng, 16), user_pin = RandomHex(os_rng, 16);
  if (!so_pin.ok()) return so_pin.status();
  if (!user_pin.ok()) return user_pin.status();
  SecretBytes so(AsBytes(*so_pin)), user(AsBytes(*user_pin));
  SecureWipe(so_pin->data(), so_pin->size());
  SecureWipe(user_pin->data(), user_pin->size());
  MCX_RETURN_IF_ERROR(staging.Add(kDemoPinFile, user.view(), 0600));
  MCX_RETURN_IF_ERROR(staging.Add(kDemoSoPinFile, so.view(), 0600));

  // The module reads the staged configuration now; the final one has the same content.
  KmsConfig staged = config;
  staged.softhsm2_conf = staging.StagedPath(kSoftHsmConfFile);
  Result<std::shared_ptr<hsm::Pkcs11Module>> module = LoadKmsModule(staged);
  if (!module.ok()) return module.status();
  MCX_RETURN_IF_ERROR(hsm::InitializeToken(*module, config.token_label, so.view(), user.view()));
  config.softhsm2_conf = config.data_dir / kSoftHsmConfFile;
  config.pin = hsm::PinSource::File((config.data_dir / kDemoPinFile).string());
  return user;
}

void RemoveOtherDemoTokenDirs(const fs::path& dir, const fs::path& keep, Env& env) {
  Result<std::vector<std::string>> names = env.GetChildren(dir);
  if (!names.ok()) return;  // leftovers of earlier demo inits cost disk space, nothing else
  for (const std::string& name : *names) {
    if (name.rfind(kDemoTokenDirPrefix, 0) == 0 && dir / name != keep) (void)env.RemoveTree(dir / name);
  }
}

}  // namespace

Result<InitResult> InitKms(const InitOptions& o, Env& env) {
  MCX_RETURN_IF_ERROR(ValidateOptions(o));
  MCX_RETURN_IF_ERROR(MakeProcessNonDumpable());
  std::error_code ec;
  const fs::path dir = fs::absolute(o.data_dir, ec).lexically_normal();
  InitResult result;
  if (HasKmsConfig(dir, env)) {
    Result<KmsConfig> old = LoadKmsConfig(dir, env);
    if (!o.force) {
      return Status::AlreadyExists("'" + dir.string() + "' already holds a KMS" +
                                   (old.ok() ? " (" + old->params.kms_uri + ", id " + old->kms_id + ")" : std::string()) +
                                   "; refusing to replace it, as its master secrets would be lost. Choose another "
                                   "--data-dir, or pass --force if you really mean to replace it");
    }
    if (old.ok()) result.replaced_kek_label = old->kek_label();
  }

  KmsConfig& config = result.config;
  config.data_dir = dir;
  config.module_path = !o.module_path.empty() ? o.module_path : fs::path(o.demo ? kSoftHsmModulePath : "");
  config.token_label = !o.token_label.empty() ? o.token_label : std::string(o.demo ? kDemoTokenLabel : "");
  config.pin = o.pin;
  if (config.pin.kind == hsm::PinSource::Kind::kFile) config.pin.name = fs::absolute(config.pin.name, ec).string();
  config.store_path = o.store_path.empty() ? dir / "store.sqlite" : fs::absolute(o.store_path, ec);
  if (!o.store_url.empty() && !IsPostgresUrl(o.store_url)) {
    return Status::InvalidArgument("--store-url takes a PostgreSQL URL (postgresql://user@host:port/database), not '" +
                                   RedactPostgresUrl(o.store_url) + "'");
  }
  config.store_url = o.store_url;
  Result<CommunityParameters> params = CommunityParameters::Make(
      !o.kms_uri.empty() ? o.kms_uri : std::string(o.demo ? kDemoKmsUri : ""), o.user_key_period, o.user_key_offset);
  if (!params.ok()) return params.status();
  config.params = *params;

  Result<FileStaging> staging = FileStaging::Begin(dir, env);
  if (!staging.ok()) return staging.status();
  Undo undo;  // declared after staging: runs first, while the staged files still exist
  SecretBytes demo_pin;
  fs::path demo_token_dir;
  if (o.demo) {
    Result<SecretBytes> pin = CreateDemoToken(config, *staging, undo, demo_token_dir, env);
    if (!pin.ok()) return pin.status().Annotate("creating the demo token");
    demo_pin = std::move(pin).value();
  }
  KmsConfig open_config = config;
  if (o.demo) open_config.softhsm2_conf = staging->StagedPath(kSoftHsmConfFile);
  Result<KmsToken> token = OpenKmsToken(open_config, o.demo ? &demo_pin : nullptr, env);
  if (!token.ok()) return token.status();
  MCX_RETURN_IF_ERROR(hsm::RequireTokenRequirements(*token->module, token->token->slot(), config.token_label));

  hsm::HsmRandom rng(*token->token);
  Result<std::string> kms_id = RandomHex(rng, 16);
  if (!kms_id.ok()) return kms_id.status();
  config.kms_id = *kms_id;
  Result<Bytes> id_bytes = FromHex(config.kms_id);
  Result<hsm::KeyEncryptionKey> kek = hsm::KeyEncryptionKey::Generate(*token->token, config.kek_label(), *id_bytes);
  if (!kek.ok()) return kek.status();
  Undo undo_kek;  // runs while the token is still open
  undo_kek.Add([&kek] { (void)kek->Destroy(); });
  Result<hsm::HmacKey> audit_key = CreateAuditKey(*token->token, config);
  if (!audit_key.ok()) return audit_key.status();
  Undo undo_audit_key;  // declared after audit_key, so it runs while audit_key still exists
  undo_audit_key.Add([&audit_key] { (void)audit_key->Destroy(); });

  KmsCertificateRecord cert{config.params, config.kms_id, {}};
  SealedMasterSecrets sealed;
  {
    GuardedSecretScope guarded;
    Result<MasterSecrets> secrets = GenerateMasterSecrets(rng);
    if (!secrets.ok()) return secrets.status();
    MCX_RETURN_IF_ERROR(guarded.status());
    auto sakke = NewGenericSakkeKernel();
    auto eccsi = NewGenericEccsiKernel();
    Result<KmsPublicKeys> pub = DerivePublicKeys(*secrets, *sakke, *eccsi);
    if (!pub.ok()) return pub.status();
    cert.pub = *pub;
    const std::string owner = config.seal_owner();
    Result<Bytes> z = hsm::SealBlob(*kek, secrets->z.view(), kSakkeMasterSecretPurpose, owner);
    if (!z.ok()) return z.status();
    Result<Bytes> ksak = hsm::SealBlob(*kek, secrets->ksak.view(), kEccsiKsakPurpose, owner);
    if (!ksak.ok()) return ksak.status();
    // Prove the blobs open before the plaintext is gone for good.
    Result<SecretBytes> z_back = hsm::UnsealBlob(*kek, *z, kSakkeMasterSecretPurpose, owner);
    Result<SecretBytes> ksak_back = hsm::UnsealBlob(*kek, *ksak, kEccsiKsakPurpose, owner);
    if (!z_back.ok() || !ksak_back.ok() || !ConstantTimeEqual(z_back->view(), secrets->z.view()) ||
        !ConstantTimeEqual(ksak_back->view(), secrets->ksak.view())) {
      return Status::Internal("token '" + config.token_label + "' did not give back what it sealed; its AES-GCM is broken");
    }
    sealed.z = std::move(z).value();
    sealed.ksak = std::move(ksak).value();
  }
  result.public_keys = cert.pub;

  MCX_RETURN_IF_ERROR(KmsStateFiles::Stage(*staging, cert, sealed));
  const std::string config_text = FormatKmsConfig(config);
  MCX_RETURN_IF_ERROR(staging->Add(kKmsConfigFileName, AsBytes(config_text), 0600));  // last: marks a whole KMS
  MCX_RETURN_IF_ERROR(staging->Commit());
  undo_audit_key.Dismiss();
  undo_kek.Dismiss();
  undo.Dismiss();
  if (o.demo) RemoveOtherDemoTokenDirs(dir, demo_token_dir, env);
  return result;
}

}  // namespace mcx
