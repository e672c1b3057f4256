// `mcx-kms verify`: check key material as a device would.
//
// Two ways in: the KMS's answers as files (`--init FILE --keyprov FILE`, the KmsResponse documents
// a device received), or single values in hex. Prefer the files: a secret on the command line
// (--rsk, --ssk) is visible to every local user in the process list.
#include <cstdio>

#include <fmt/format.h>

#include "base/bytes.h"
#include "base/env.h"
#include "base/secret.h"
#include "engine/keys/client_check.h"
#include "bench/capacity/key_material_check.h"
#include "tools/cli/command.h"

namespace mcx::cli {
namespace {

struct VerifyOptions {
  std::string init_file, keyprov_file;    // KmsResponse documents, as a device received them
  std::string cert_uri;                   // which certificate of --init, when it holds several
  std::string pub_enc_key, pub_auth_key;  // from the KMS certificate
  std::string user_uri, kms_uri;
  int64_t user_key_period = kDefaultUserKeyPeriod, user_key_offset = 0;
  int64_t key_period_no = -1;
  std::string rsk, ssk, pvt;
};

template <size_t N>
Status HexToArray(const std::string& hex, std::array<uint8_t, N>& out, const char* what) {
  Result<Bytes> b = FromHex(hex);
  if (!b.ok()) return b.status().Annotate(what);
  if (b->size() != N) {
    return Status::InvalidArgument(std::string(what) + " must be " + std::to_string(N) + " octets, got " +
                                   std::to_string(b->size()));
  }
  std::copy(b->begin(), b->end(), out.begin());
  return Status::Ok();
}

Result<std::string> ReadDocument(const std::string& path, const char* what) {
  Result<Bytes> b = Env::Default().ReadFile(path);
  if (!b.ok()) return b.status().Annotate(what);
  return std::string(b->begin(), b->end());
}

// The device's view: the certificate from KmsInit, every KmsKeySet of a KmsKeyProv answer checked.
Status VerifyDocuments(const VerifyOptions& opt) {
  Result<std::string> init = ReadDocument(opt.init_file, "the KmsInit answer");
  if (!init.ok()) return init.status();
  Result<std::string> keyprov = ReadDocument(opt.keyprov_file, "the KmsKeyProv answer");
  if (!keyprov.ok()) return keyprov.status();
  Result<capacity::KmsPublicView> kms = capacity::ParseKmsInitPublicKeys(*init, opt.cert_uri);
  if (!kms.ok()) return kms.status().Annotate(opt.init_file);
  capacity::KeyMaterialVerdict verdict = capacity::CheckKeyProvAnswers(*kms, {*keyprov});
  SecureWipe(keyprov->data(), keyprov->size());
  for (const std::string& problem : verdict.problems) fmt::print("problem: {}\n", problem);
  if (verdict.invalid != 0 || verdict.key_sets == 0) {
    return Status::InvalidArgument(opt.keyprov_file + ": " +
                                   (verdict.key_sets == 0 ? std::string("no KmsKeySet in the answer")
                                                          : "a device would reject this key material"));
  }
  fmt::print("KMS {}: {} key set(s) valid (UID, RSK pairing check RFC 6508 6.1.2, SSK check RFC 6507 5.1.2)\n",
             kms->params.kms_uri, verdict.key_sets);
  return Status::Ok();
}

Status RunVerify(const VerifyOptions& opt) {
  if (!opt.init_file.empty() || !opt.keyprov_file.empty()) {
    if (opt.init_file.empty() || opt.keyprov_file.empty()) {
      return Status::InvalidArgument("give both --init and --keyprov (the two answers a device received)");
    }
    return VerifyDocuments(opt);
  }
  for (const auto& [value, flag] : {std::pair{&opt.pub_enc_key, "--pub-enc-key"}, {&opt.pub_auth_key, "--pub-auth-key"},
                                    {&opt.kms_uri, "--kms-uri"}, {&opt.rsk, "--rsk"}, {&opt.ssk, "--ssk"},
                                    {&opt.pvt, "--pvt"}}) {
    if (value->empty()) {
      return Status::InvalidArgument(std::string(flag) +
                                     " is missing: give --init FILE --keyprov FILE, or every hex value");
    }
  }
  Result<CommunityParameters> params =
      CommunityParameters::Make(opt.kms_uri, opt.user_key_period, opt.user_key_offset);
  if (!params.ok()) return params.status();
  if (opt.key_period_no < 0) return Status::InvalidArgument("--period-no must be 0 or more");
  Result<Uid> uid = MikeySakkeUid(opt.user_uri, *params, static_cast<uint64_t>(opt.key_period_no));
  if (!uid.ok()) return uid.status();
  KmsPublicKeys pub;
  MCX_RETURN_IF_ERROR(HexToArray(opt.pub_enc_key, pub.z_pub, "--pub-enc-key"));
  MCX_RETURN_IF_ERROR(HexToArray(opt.pub_auth_key, pub.kpak, "--pub-auth-key"));
  Result<Bytes> rsk = FromHex(opt.rsk), ssk = FromHex(opt.ssk), pvt = FromHex(opt.pvt);
  if (!rsk.ok()) return rsk.status().Annotate("--rsk");
  if (!ssk.ok()) return ssk.status().Annotate("--ssk");
  if (!pvt.ok()) return pvt.status().Annotate("--pvt");
  fmt::print("UID {}\n", ToHex(*uid));
  MCX_RETURN_IF_ERROR(CheckReceiverSecretKey(pub.z_pub, *uid, *rsk));
  std::fputs("RSK: valid (pairing check, RFC 6508 6.1.2)\n", stdout);
  MCX_RETURN_IF_ERROR(CheckSigningKey(pub.kpak, *uid, *ssk, *pvt));
  std::fputs("SSK and PVT: valid (RFC 6507 5.1.2)\n", stdout);
  return Status::Ok();
}

}  // namespace

void RegisterVerifyCommand(CLI::App& app, CommandResult& result) {
  auto opt = std::make_shared<VerifyOptions>();
  CLI::App* cmd = app.add_subcommand(
      "verify",
      "Check key material as a device would (the RSK pairing check and the SSK check): the KMS's answers as files "
      "(--init FILE --keyprov FILE), or one key set's values in hex.");
  cmd->add_option("--init", opt->init_file, "a KmsInit answer (KmsResponse XML) of the KMS, as a device received it");
  cmd->add_option("--certificate", opt->cert_uri,
                  "with --init: the CertUri of the certificate to check against, when the document holds several "
                  "(a certcache answer after a rollover); default the first");
  cmd->add_option("--keyprov", opt->keyprov_file,
                  "a KmsKeyProv answer (KmsResponse XML); every KmsKeySet in it is checked");
  cmd->add_option("--pub-enc-key", opt->pub_enc_key, "hex mode: the KMS public key Z (PubEncKey), 257 octets");
  cmd->add_option("--pub-auth-key", opt->pub_auth_key, "hex mode: the KMS public key KPAK (PubAuthKey), 65 octets");
  cmd->add_option("--user", opt->user_uri, "hex mode: the user URI, e.g. sip:alice@example.org");
  cmd->add_option("--kms-uri", opt->kms_uri, "hex mode: the KMS URI");
  cmd->add_option("--user-key-period", opt->user_key_period, "hex mode: UserKeyPeriod in seconds")->capture_default_str();
  cmd->add_option("--user-key-offset", opt->user_key_offset, "hex mode: UserKeyOffset in seconds")->capture_default_str();
  cmd->add_option("--period-no", opt->key_period_no, "hex mode: KeyPeriodNo of the key set");
  cmd->add_option("--rsk", opt->rsk, "hex mode: UserDecryptKey (RSK), 257 octets (visible in the process list)");
  cmd->add_option("--ssk", opt->ssk, "hex mode: UserSigningKeySSK, 32 octets (visible in the process list)");
  cmd->add_option("--pvt", opt->pvt, "hex mode: UserPubTokenPVT, 65 octets");
  cmd->callback([opt, &result] { result.status = RunVerify(*opt); });
}

}  // namespace mcx::cli
