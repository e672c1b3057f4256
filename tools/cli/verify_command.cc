// `mcx-kms verify`: check one key set as a device would, from the values a device holds.
#include <cstdio>

#include "engine/base/bytes.h"
#include "engine/keys/client_check.h"
#include "tools/cli/command.h"

namespace mcx::cli {
namespace {

struct VerifyOptions {
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

Status RunVerify(const VerifyOptions& opt) {
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
  std::printf("UID %s\n", ToHex(*uid).c_str());
  MCX_RETURN_IF_ERROR(CheckReceiverSecretKey(pub.z_pub, *uid, *rsk));
  std::printf("RSK: valid (pairing check, RFC 6508 6.1.2)\n");
  MCX_RETURN_IF_ERROR(CheckSigningKey(pub.kpak, *uid, *ssk, *pvt));
  std::printf("SSK and PVT: valid (RFC 6507 5.1.2)\n");
  return Status::Ok();
}

}  // namespace

void RegisterVerifyCommand(CLI::App& app, CommandResult& result) {
  auto opt = std::make_shared<VerifyOptions>();
  CLI::App* cmd = app.add_subcommand(
      "verify", "Check one key set as a device would: the RSK pairing check and the SSK check. Values in hex.");
  cmd->add_option("--pub-enc-key", opt->pub_enc_key, "the KMS public key Z (PubEncKey), 257 octets")->required();
  cmd->add_option("--pub-auth-key", opt->pub_auth_key, "the KMS public key KPAK (PubAuthKey), 65 octets")->required();
  cmd->add_option("--user", opt->user_uri, "the user URI, e.g. sip:alice@example.org")->required();
  cmd->add_option("--kms-uri", opt->kms_uri, "the KMS URI")->required();
  cmd->add_option("--user-key-period", opt->user_key_period, "UserKeyPeriod in seconds")->capture_default_str();
  cmd->add_option("--user-key-offset", opt->user_key_offset, "UserKeyOffset in seconds")->capture_default_str();
  cmd->add_option("--period-no", opt->key_period_no, "KeyPeriodNo of the key set")->required();
  cmd->add_option("--rsk", opt->rsk, "UserDecryptKey (RSK), 257 octets")->required();
  cmd->add_option("--ssk", opt->ssk, "UserSigningKeySSK, 32 octets")->required();
  cmd->add_option("--pvt", opt->pvt, "UserPubTokenPVT, 65 octets")->required();
  cmd->callback([opt, &result] { result.status = RunVerify(*opt); });
}

}  // namespace mcx::cli
