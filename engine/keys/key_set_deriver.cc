#include "engine/keys/key_set_deriver.h"

#include "base/sha256.h"
#include "engine/math/montgomery.h"

namespace mcx {
namespace {

// 04 || Gx || Gy of P-256, the first input of HS.
const P256Point& EncodedP256Generator() {
  static const P256Point g = [] {
    P256Point out{};
    (void)EncodePoint(P256Group(), EC_GROUP_get0_generator(P256Group()), out);
    return out;
  }();
  return g;
}

// Constant-time test for an all-zero buffer.
bool IsZero(ByteView b) {
  uint8_t acc = 0;
  for (uint8_t x : b) acc |= x;
  return acc == 0;
}

}  // namespace

KeySetDeriver::KeySetDeriver(CommunityParameters params, const MasterSecrets& secrets, KmsPublicKeys pub,
                             const SakkeKernel& sakke, const EccsiKernel& eccsi)
    : params_(std::move(params)),
      secrets_(secrets),
      pub_(pub),
      sakke_(sakke),
      eccsi_(eccsi),
      hs_prefix_(std::make_shared<const Sha256WithPrefix>(
          std::initializer_list<ByteView>{EncodedP256Generator(), pub_.kpak})) {}

size_t KeySetDeriver::BatchWidth() const { return sakke_.BatchWidth(); }

Status KeySetDeriver::ReceiverSecretKey(ByteView id, SecretBytes& rsk) const {
  SakkePoint point;
  Status st = sakke_.ReceiverSecretKey(id, secrets_.z, point);
  if (st.ok()) rsk = SecretBytes(point);
  SecureWipe(point.data(), point.size());
  return st;
}

Result<SigningKeyPair> KeySetDeriver::SigningKeyWith(ByteView id, const SecretBytes& v) const {
  P256Point pvt;
  MCX_RETURN_IF_ERROR(eccsi_.MultiplyGenerator(v, pvt));
  return SigningKeyFromPvt(id, v, pvt);
}

Result<SigningKeyPair> KeySetDeriver::SigningKeyFromPvt(ByteView id, const SecretBytes& v,
                                                        const P256Point& pvt) const {
  SigningKeyPair pair;
  pair.pvt = pvt;
  const Sha256Digest hs = hs_prefix_->Digest({id, pair.pvt});

  // HS is public (a hash of public values). HS < 2^256 < 2q, so HS = 0 mod q exactly when HS is
  // 0 or q.
  const Limbs256 h = LimbsFromBytes<4>(hs);
  if (IsZeroMask(h) != 0 || h == P256OrderModulus().m) return Status::InvalidArgument("HS is 0 mod q; draw another v");

  MCX_RETURN_IF_ERROR(eccsi_.SigningKey(secrets_.ksak, hs, v, pair.ssk));
  if (IsZero(pair.ssk.view())) return Status::InvalidArgument("SSK is 0; draw another v");
  return pair;
}

Result<SigningKeyPair> KeySetDeriver::SigningKey(ByteView id, RandomSource& rng) const {
  // SSK or HS is 0 with probability about 2^-255 per try; a handful of tries is plenty.
  for (int attempt = 0; attempt < 8; ++attempt) {
    Result<SecretBytes> v = DrawScalar(rng, P256Order(), kP256ScalarBytes, 1);
    if (!v.ok()) return v.status().Annotate("drawing ECCSI's v");
    Result<SigningKeyPair> pair = SigningKeyWith(id, *v);
    if (pair.ok() || pair.status().code() != Status::Code::kInvalidArgument) return pair;
  }
  return Status::Unavailable("SSK or HS was 0 eight times in a row: the random source is broken");
}

Result<KeySet> KeySetDeriver::Derive(const std::string& user_uri, uint64_t key_period_no,
                                     RandomSource& rng) const {
  Result<Uid> uid = MikeySakkeUid(user_uri, params_, key_period_no);
  if (!uid.ok()) return uid.status();
  Result<KeyPeriod> period = KeyPeriod::Numbered(params_, key_period_no);
  if (!period.ok()) return period.status();

  KeySet ks;
  ks.user_uri = user_uri;
  ks.period = *period;
  ks.uid = *uid;
  MCX_RETURN_IF_ERROR(ReceiverSecretKey(ks.uid, ks.rsk).Annotate("deriving the RSK of " + user_uri));
  Result<SigningKeyPair> pair = SigningKey(ks.uid, rng);
  if (!pair.ok()) return pair.status().Annotate("deriving the SSK of " + user_uri);
  ks.ssk = std::move(pair->ssk);
  ks.pvt = pair->pvt;
  return ks;
}

std::vector<Result<SigningKeyPair>> KeySetDeriver::SigningKeyBatch(std::span<const ByteView> ids,
                                                                   RandomSource& rng) const {
  // If drawing or the batch fails, or a user's HS or SSK comes out 0, that user goes through
  // SigningKey() alone.
  std::vector<SecretBytes> vs;
  std::vector<P256Point> pvts(ids.size());
  for (size_t j = 0; j < ids.size(); ++j) {
    Result<SecretBytes> v = DrawScalar(rng, P256Order(), kP256ScalarBytes, 1);
    if (!v.ok()) break;
    vs.push_back(std::move(*v));
  }
  const bool pvt_ok = vs.size() == ids.size() && eccsi_.MultiplyGeneratorBatch(vs, pvts).ok();
  std::vector<Result<SigningKeyPair>> out;
  out.reserve(ids.size());
  for (size_t j = 0; j < ids.size(); ++j) {
    Result<SigningKeyPair> pair = pvt_ok ? SigningKeyFromPvt(ids[j], vs[j], pvts[j])
                                         : Result<SigningKeyPair>(Status::Internal("no batched PVT"));
    if (!pair.ok()) pair = SigningKey(ids[j], rng);
    out.push_back(std::move(pair));
  }
  return out;
}

std::vector<Result<KeySet>> KeySetDeriver::DeriveBatch(std::span<const std::string> user_uris,
                                                       uint64_t key_period_no, RandomSource& rng) const {
  const std::vector<uint64_t> periods(user_uris.size(), key_period_no);
  return DeriveBatch(user_uris, periods, rng);
}

std::vector<Result<KeySet>> KeySetDeriver::DeriveBatch(std::span<const std::string> user_uris,
                                                       std::span<const uint64_t> key_period_nos,
                                                       RandomSource& rng) const {
  const size_t n = user_uris.size();
  std::vector<Result<KeySet>> out(n, Result<KeySet>(Status::Internal("not derived")));
  if (key_period_nos.size() != n) {
    for (auto& r : out) r = Status::InvalidArgument("DeriveBatch: one key period per user is needed");
    return out;
  }
  std::vector<KeySet> sets(n);
  std::vector<ByteView> ids;
  std::vector<size_t> index;  // user of ids[j]
  for (size_t i = 0; i < n; ++i) {
    Result<Uid> uid = MikeySakkeUid(user_uris[i], params_, key_period_nos[i]);
    if (!uid.ok()) { out[i] = uid.status(); continue; }
    Result<KeyPeriod> period = KeyPeriod::Numbered(params_, key_period_nos[i]);
    if (!period.ok()) { out[i] = period.status(); continue; }
    sets[i].user_uri = user_uris[i];
    sets[i].period = *period;
    sets[i].uid = *uid;
    ids.push_back(sets[i].uid);
    index.push_back(i);
  }

  std::vector<SakkePoint> points(ids.size());
  const bool batch_ok = sakke_.ReceiverSecretKeys(ids, secrets_.z, points).ok();
  std::vector<Result<SigningKeyPair>> pairs = SigningKeyBatch(ids, rng);
  for (size_t j = 0; j < ids.size(); ++j) {
    const size_t i = index[j];
    KeySet& ks = sets[i];
    if (batch_ok) {
      ks.rsk = SecretBytes(points[j]);
    } else {
      // A failed batch (an identifier with a + z = 0, or an internal error) is redone one by one
      // so that each user gets exactly the outcome Derive() would give.
      Status st = ReceiverSecretKey(ks.uid, ks.rsk);
      if (!st.ok()) { out[i] = st.Annotate("deriving the RSK of " + ks.user_uri); continue; }
    }
    Result<SigningKeyPair>& pair = pairs[j];
    if (!pair.ok()) { out[i] = pair.status().Annotate("deriving the SSK of " + ks.user_uri); continue; }
    ks.ssk = std::move(pair->ssk);
    ks.pvt = pair->pvt;
    out[i] = std::move(ks);
  }
  SecureWipe(points.data(), points.size() * sizeof(SakkePoint));
  return out;
}

}  // namespace mcx
