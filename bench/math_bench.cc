// Speed of the SAKKE and ECCSI arithmetic, one core. Rates are in items_per_second (an item is
// one field multiplication per lane, one RSK, one SSK+PVT pair or one key set).
//
//   build/bench/math_bench --benchmark_filter=Rsk
#include <benchmark/benchmark.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <string>
#include <vector>

#include "base/openssl_handles.h"
#include "base/pooled_random.h"
#include "engine/keys/key_set_deriver.h"
#include "engine/math/fixed_base.h"
#include "engine/math/lane_field.h"
#include "engine/math/montgomery.h"
#include "engine/math/montgomery_adx.h"
#include "engine/math/p256_verify.h"

namespace mcx {
namespace {

// Path arguments: 0 portable, 1 AVX2 (+ BMI2/ADX), 2 IFMA; 3 is the generic OpenSSL kernel where
// a benchmark takes it.
const MathPath kPaths[] = {MathPath::kPortable, MathPath::kAvx2, MathPath::kIfma};
constexpr int64_t kGeneric = 3;

bool Skip(benchmark::State& state, MathPath path) {
  if (!MathPathAvailable(path)) {
    state.SkipWithError((std::string("this CPU lacks the ") + MathPathName(path) + " path").c_str());
    return true;
  }
  return false;
}

// Field arguments: 0 portable, 1 BMI2/ADX (one-scalar tuning), 2 AVX2 lanes, 3 IFMA lanes,
// 4 BMI2/ADX (batch tuning), 5 AVX2 lanes (batch tuning) (nullptr: not on this CPU).
const LaneField* FieldOf(int64_t which) {
  switch (which) {
    case 0: return &PortableLaneField();
    case 1: return AdxLaneField();
    case 2: return Avx2LaneField();
    case 3: return IfmaLaneField();
    case 4: return AdxBatchLaneField();
    default: return Avx2BatchLaneField();
  }
}

bool SkipField(benchmark::State& state, const LaneField* f) {
  if (f == nullptr) state.SkipWithError("this CPU lacks the instructions of this field");
  return f == nullptr;
}

// A vector of the path's field elements holding a, encoded the way the table stores points.
std::vector<uint64_t> FieldVector(const LaneField& f, const Limbs1024& a) {
  std::vector<uint64_t> entry(f.entry_words), v(f.words);
  for (int lane = 0; lane < f.lanes; ++lane) {
    f.encode_entry(entry.data(), a, a);
    std::vector<uint64_t> y(f.words);
    f.select(v.data(), y.data(), lane, entry.data(), 1, 0);
  }
  return v;
}

void BM_FieldMul(benchmark::State& state) {
  if (SkipField(state, FieldOf(state.range(0)))) return;
  const LaneField& f = *FieldOf(state.range(0));
  Limbs1024 a{};
  a[0] = 12345;
  a[9] = 678;
  std::vector<uint64_t> x = FieldVector(f, a), y = FieldVector(f, a);
  for (auto _ : state) {
    f.mul(x.data(), x.data(), y.data());
    benchmark::DoNotOptimize(x.data());
  }
  state.SetItemsProcessed(state.iterations() * f.lanes);
  state.SetLabel(f.name);
}
BENCHMARK(BM_FieldMul)->DenseRange(0, 3);

// One 1024-bit Montgomery multiplication mod p, one at a time (the one-scalar RSK's unit of work):
// 0 unsigned __int128 CIOS (montgomery.h), 1 mulx/adcx/adox assembly, 2 the same with intrinsics,
// 3 OpenSSL's BN_mod_mul_montgomery (bn_mul_mont underneath, plus BIGNUM bookkeeping).
void BM_MontMul1024(benchmark::State& state) {
  const Modulus1024& p = SakkeFieldModulus();
  Limbs1024 x = p.r2, y = p.r3;
  const int64_t which = state.range(0);
  if ((which == 1 || which == 2) && !CpuHasAdx()) {
    state.SkipWithError("this CPU lacks BMI2/ADX");
    return;
  }
  if (which == 3) {
    BN_CTX* ctx = BN_CTX_new();
    BN_MONT_CTX* mont = BN_MONT_CTX_new();
    BIGNUM *m = BN_new(), *a = BN_new(), *b = BN_new();
    BN_lebin2bn(reinterpret_cast<const unsigned char*>(p.m.data()), sizeof p.m, m);
    BN_lebin2bn(reinterpret_cast<const unsigned char*>(x.data()), sizeof x, a);
    BN_lebin2bn(reinterpret_cast<const unsigned char*>(y.data()), sizeof y, b);
    BN_MONT_CTX_set(mont, m, ctx);
    for (auto _ : state) {
      BN_mod_mul_montgomery(a, a, b, mont, ctx);
      benchmark::DoNotOptimize(a);
    }
    BN_free(m);
    BN_free(a);
    BN_free(b);
    BN_MONT_CTX_free(mont);
    BN_CTX_free(ctx);
    state.SetLabel("OpenSSL BN_mod_mul_montgomery");
  } else {
    using MulFn = void (*)(const Modulus1024&, Limbs1024&, const Limbs1024&, const Limbs1024&);
    const MulFn mul = which == 0 ? MulFn{MontMul<kLimbs1024>} : which == 1 ? MontMulAdx : MontMulAdxIntrinsics;
    for (auto _ : state) {
      mul(p, x, x, y);
      benchmark::DoNotOptimize(x.data());
    }
    state.SetLabel(which == 0 ? "unsigned __int128" : which == 1 ? "mulx/adcx/adox assembly" : "mulx/adcx intrinsics");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MontMul1024)->DenseRange(0, 3);

// One 1024-bit Montgomery square mod p: 0 MontMul(a, a) (unsigned __int128), 1 MontMulAdx(a, a),
// 2 MontSqrAdx (cross products once, doubled). 1 and 2 are the one-scalar ADX field before and after.
void BM_MontSqr1024(benchmark::State& state) {
  const Modulus1024& p = SakkeFieldModulus();
  Limbs1024 x = p.r3;
  const int64_t which = state.range(0);
  if (which > 0 && !CpuHasAdx()) {
    state.SkipWithError("this CPU lacks BMI2/ADX");
    return;
  }
  for (auto _ : state) {
    if (which == 0) {
      MontMul(p, x, x, x);
    } else if (which == 1) {
      MontMulAdx(p, x, x, x);
    } else {
      MontSqrAdx(p, x, x);
    }
    benchmark::DoNotOptimize(x.data());
  }
  state.SetLabel(which == 0 ? "MontMul(a, a)" : which == 1 ? "MontMulAdx(a, a)" : "MontSqrAdx");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MontSqr1024)->DenseRange(0, 2);

void BM_FieldSqr(benchmark::State& state) {
  if (SkipField(state, FieldOf(state.range(0)))) return;
  const LaneField& f = *FieldOf(state.range(0));
  Limbs1024 a{};
  a[0] = 12345;
  std::vector<uint64_t> x = FieldVector(f, a);
  for (auto _ : state) {
    f.sqr(x.data(), x.data());
    benchmark::DoNotOptimize(x.data());
  }
  state.SetItemsProcessed(state.iterations() * f.lanes);
  state.SetLabel(f.name);
}
BENCHMARK(BM_FieldSqr)->DenseRange(0, 3);

// [k]P for range(1) random scalars straight through one field (range(0) as BM_FieldMul): the
// batch (MultiplyBaseBatch) or, for 1, MultiplyBaseSingle. Compares fields a path could use.
void BM_RskField(benchmark::State& state) {
  if (SkipField(state, FieldOf(state.range(0)))) return;
  const LaneField& f = *FieldOf(state.range(0));
  const size_t n = static_cast<size_t>(state.range(1));
  std::vector<Limbs1024> ks(n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < kLimbs1024; ++j) ks[i][j] = 0x9e3779b97f4a7c15ULL * (i * 31 + j + 1);
    ks[i][kLimbs1024 - 1] >>= 3;  // below q
  }
  std::vector<SakkePoint> out(n);
  PrepareFixedBaseTable(f);
  for (auto _ : state) {
    Status st = n == 1 ? MultiplyBaseSingle(f, ks[0], out[0]) : MultiplyBaseBatch(f, ks, out);
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
  state.SetLabel(f.name);
}
BENCHMARK(BM_RskField)->ArgsProduct({{0, 1, 2, 3, 4, 5}, {1, 64, 256}})->Unit(benchmark::kMicrosecond);

// The KMS of RFC 6508's example, with a random z.
struct Kms {
  MasterSecrets secrets;
  KmsPublicKeys pub;
  std::unique_ptr<SakkeKernel> sakke;
  std::unique_ptr<EccsiKernel> eccsi = NewFastEccsiKernel();
  std::unique_ptr<KeySetDeriver> deriver;
  OpenSslRandom rng;

  explicit Kms(std::unique_ptr<SakkeKernel> kernel) : sakke(std::move(kernel)) {
    secrets = *GenerateMasterSecrets(rng);
    pub = *DerivePublicKeys(secrets, *sakke, *eccsi);
    auto params = CommunityParameters::Make("kms.example.org", kDefaultUserKeyPeriod, 0);
    deriver = std::make_unique<KeySetDeriver>(*params, secrets, pub, *sakke, *eccsi);
    // As `serve` does: no timed iteration builds a table (a one-iteration BM_Rsk/1/64 did).
    sakke->PrepareTables();
    eccsi->PrepareTables();
  }
};

std::vector<std::string> Users(size_t n) {
  std::vector<std::string> users;
  for (size_t i = 0; i < n; ++i) users.push_back("sip:user" + std::to_string(i) + "@example.org");
  return users;
}

std::unique_ptr<SakkeKernel> KernelFor(int64_t which) {
  if (which == kGeneric) return NewGenericSakkeKernel();
  return NewFastSakkeKernel(kPaths[which]);
}

// range(0): 0 portable, 1 AVX2, 2 IFMA, 3 generic OpenSSL. range(1): batch size (1 = one at a time).
void BM_Rsk(benchmark::State& state) {
  if (state.range(0) != kGeneric && Skip(state, kPaths[state.range(0)])) return;
  Kms kms(KernelFor(state.range(0)));
  const size_t batch = static_cast<size_t>(state.range(1));
  std::vector<Bytes> ids;
  for (const std::string& u : Users(batch)) ids.emplace_back(u.begin(), u.end());
  std::vector<ByteView> views(ids.begin(), ids.end());
  std::vector<SakkePoint> out(batch);
  for (auto _ : state) {
    Status st = batch == 1 ? kms.sakke->ReceiverSecretKey(views[0], kms.secrets.z, out[0])
                           : kms.sakke->ReceiverSecretKeys(views, kms.secrets.z, out);
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch));
  state.SetLabel(kms.sakke->Name());
}
BENCHMARK(BM_Rsk)->Args({0, 1})->Args({0, 64})->Args({1, 1})->Args({1, 64})->Args({1, 256})->Args({2, 1})
    ->Args({2, 64})->Args({2, 256})->Args({3, 1})->Unit(benchmark::kMicrosecond);
// Small batches, as on-demand requests form them (engine/service/on_demand_issuer.h): where a
// batch starts to beat one at a time.
BENCHMARK(BM_Rsk)->ArgsProduct({{1, 2}, {2, 4, 8, 16, 32}})->Unit(benchmark::kMicrosecond);

void BM_SskPvt(benchmark::State& state) {
  Kms kms(NewGenericSakkeKernel());
  const std::string uid = "sip:user@example.org";
  for (auto _ : state) {
    Result<SigningKeyPair> pair = kms.deriver->SigningKey(AsBytes(uid), kms.rng);
    if (!pair.ok()) state.SkipWithError(pair.status().ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(kms.eccsi->Name());
}
BENCHMARK(BM_SskPvt)->Unit(benchmark::kMicrosecond);

// SSK+PVT pairs the way bulk provisioning makes them (KeySetDeriver::SigningKeyBatch, as used by
// DeriveBatch): range(0) identifiers per call.
void BM_SskPvtBatch(benchmark::State& state) {
  Kms kms(NewGenericSakkeKernel());
  const std::vector<std::string> users = Users(static_cast<size_t>(state.range(0)));
  std::vector<ByteView> ids;
  for (const std::string& u : users) ids.push_back(AsBytes(u));
  for (auto _ : state) {
    std::vector<Result<SigningKeyPair>> pairs = kms.deriver->SigningKeyBatch(ids, kms.rng);
    if (!pairs[0].ok()) state.SkipWithError(pairs[0].status().ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetLabel(kms.eccsi->Name());
}
BENCHMARK(BM_SskPvtBatch)->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);

// PVT = [v]G alone. range(0): 0 our fixed-base code, 1 OpenSSL (generic kernel); range(1): batch
// size (1 = MultiplyGenerator, else MultiplyGeneratorBatch).
void BM_Pvt(benchmark::State& state) {
  std::unique_ptr<EccsiKernel> kernel = state.range(0) == 0 ? NewFastEccsiKernel() : NewGenericEccsiKernel();
  const size_t batch = static_cast<size_t>(state.range(1));
  OpenSslRandom rng;
  std::vector<SecretBytes> vs;
  for (size_t i = 0; i < batch; ++i) vs.push_back(*DrawScalar(rng, P256Order(), kP256ScalarBytes, 1));
  std::vector<P256Point> out(batch);
  for (auto _ : state) {
    Status st = batch == 1 ? kernel->MultiplyGenerator(vs[0], out[0]) : kernel->MultiplyGeneratorBatch(vs, out);
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch));
  state.SetLabel(kernel->Name());
}
BENCHMARK(BM_Pvt)->Args({0, 1})->Args({0, 8})->Args({0, 64})->Args({0, 256})->Args({1, 1})->Unit(benchmark::kMicrosecond);

// A fresh P-256 key, as OpenSSL holds it and as ours (P256VerifyingKey, from the same point),
// and its signatures in both encodings: DER for OpenSSL's verify, r || s for ours.
// which: 0/1/2 ours on the portable, avx2 and ifma paths (ifma runs the avx2 path's one-lane
// code), 3 (kGeneric) OpenSSL's EVP_PKEY_verify.
class EcdsaBenchKey {
 public:
  struct Signed {
    std::array<uint8_t, 32> digest;
    std::array<uint8_t, 64> raw;
    std::vector<uint8_t> der;
  };

  EcdsaBenchKey() : pkey_(EVP_EC_gen("P-256")) {
    P256Point pub{};
    size_t len = 0;
    EVP_PKEY_get_octet_string_param(pkey_.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub.size(), &len);
    auto key = P256VerifyingKey::FromPoint(pub);
    if (key.ok()) ours_ = std::move(key).value(); else error_ = key.status().ToString();
    sign_.reset(EVP_PKEY_CTX_new(pkey_.get(), nullptr));
    EVP_PKEY_sign_init(sign_.get());
    verify_.reset(EVP_PKEY_CTX_new(pkey_.get(), nullptr));
    EVP_PKEY_verify_init(verify_.get());
  }
  // Empty when both keys are ready.
  const std::string& error() const { return error_; }

  Signed Sign(const std::array<uint8_t, 32>& digest) const {
    Signed s{digest, {}, std::vector<uint8_t>(80)};
    size_t der_len = s.der.size();
    EVP_PKEY_sign(sign_.get(), s.der.data(), &der_len, s.digest.data(), s.digest.size());
    s.der.resize(der_len);
    const uint8_t* p = s.der.data();
    ossl::EcdsaSig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
    BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), s.raw.data(), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), s.raw.data() + 32, 32);
    return s;
  }

  bool Verify(int64_t which, const Signed& s) const {
    return which == kGeneric
               ? EVP_PKEY_verify(verify_.get(), s.der.data(), s.der.size(), s.digest.data(), s.digest.size()) == 1
               : ours_->VerifyOn(kPaths[which], s.digest, s.raw);
  }

 private:
  ossl::Pkey pkey_;
  std::shared_ptr<const P256VerifyingKey> ours_;
  ossl::PkeyCtx sign_, verify_;
  std::string error_;
};

// One ECDSA P-256 verification of a 32-octet digest (an ES256 token's signature, the SHA-256 of
// the signing input already taken). range(0): `which` of EcdsaBenchKey (3: the figure
// bench/capacity/token_verify_ceiling.h calls the ceiling, less its SHA-256). 64 signatures, in turn.
void BM_EcdsaVerify(benchmark::State& state) {
  const int64_t which = state.range(0);
  if (which != kGeneric && Skip(state, kPaths[which])) return;
  const EcdsaBenchKey key;
  if (!key.error().empty()) return state.SkipWithError(key.error().c_str());
  std::vector<EcdsaBenchKey::Signed> sigs;
  for (size_t i = 0; i < 64; ++i) {
    std::array<uint8_t, 32> digest;
    for (size_t j = 0; j < 32; ++j) digest[j] = static_cast<uint8_t>(i * 31 + j * 7);
    sigs.push_back(key.Sign(digest));
  }
  size_t i = 0;
  bool all_valid = true;
  for (auto _ : state) all_valid = key.Verify(which, sigs[i++ % sigs.size()]) && all_valid;
  if (!all_valid) state.SkipWithError("a valid signature was refused");
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(which == kGeneric ? "OpenSSL EVP_PKEY_verify" : std::string("ours, ") + MathPathName(kPaths[which]));
}
BENCHMARK(BM_EcdsaVerify)->DenseRange(0, 3)->Unit(benchmark::kMicrosecond);

// The same with the caches cold, as in the server, where a verification is one step of a request
// among the store's reads, the XML and the network: between two verifications (timing paused),
// 16 MiB of other memory is written, so the comb tables (ours: 148 KiB of Q's, 148 KiB of G's;
// OpenSSL's G table) come from L3 or memory. range(0): 1 ours on the avx2 path (the one the avx2
// and ifma paths run), 3 OpenSSL's EVP_PKEY_verify.
void BM_EcdsaVerifyEvicted(benchmark::State& state) {
  const int64_t which = state.range(0);
  if (which != kGeneric && Skip(state, kPaths[which])) return;
  const EcdsaBenchKey key;
  if (!key.error().empty()) return state.SkipWithError(key.error().c_str());
  std::array<uint8_t, 32> digest{};
  for (size_t j = 0; j < 32; ++j) digest[j] = static_cast<uint8_t>(j * 7 + 1);
  const EcdsaBenchKey::Signed signed_digest = key.Sign(digest);
  std::vector<uint64_t> other(16 << 17);  // 16 MiB
  bool all_valid = true;
  uint64_t round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    ++round;
    for (size_t k = 0; k < other.size(); k += 8) other[k] += round;
    benchmark::ClobberMemory();
    state.ResumeTiming();
    all_valid = key.Verify(which, signed_digest) && all_valid;
  }
  if (!all_valid) state.SkipWithError("a valid signature was refused");
  state.SetLabel(which == kGeneric ? "OpenSSL EVP_PKEY_verify, caches cold"
                                   : std::string("ours, caches cold, ") + MathPathName(kPaths[which]));
}
BENCHMARK(BM_EcdsaVerifyEvicted)->Arg(1)->Arg(3)->Unit(benchmark::kMicrosecond);

// Building a key's table (P256VerifyingKey::FromPoint), once per trusted key at load.
void BM_EcdsaVerifyingKey(benchmark::State& state) {
  ossl::Pkey pkey(EVP_EC_gen("P-256"));
  P256Point pub{};
  size_t len = 0;
  EVP_PKEY_get_octet_string_param(pkey.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub.size(), &len);
  for (auto _ : state) benchmark::DoNotOptimize(P256VerifyingKey::FromPoint(pub));
}
BENCHMARK(BM_EcdsaVerifyingKey)->Unit(benchmark::kMillisecond);

// Whole key sets (UID, RSK, SSK, PVT). range(0) as BM_Rsk; range(1): 1 = Derive one at a time,
// else DeriveBatch of that many users.
void BM_KeySet(benchmark::State& state) {
  if (state.range(0) != kGeneric && Skip(state, kPaths[state.range(0)])) return;
  Kms kms(KernelFor(state.range(0)));
  const size_t batch = static_cast<size_t>(state.range(1));
  const std::vector<std::string> users = Users(batch);
  for (auto _ : state) {
    if (batch == 1) {
      Result<KeySet> ks = kms.deriver->Derive(users[0], 1000, kms.rng);
      if (!ks.ok()) state.SkipWithError(ks.status().ToString().c_str());
    } else {
      std::vector<Result<KeySet>> sets = kms.deriver->DeriveBatch(users, 1000, kms.rng);
      if (!sets[0].ok()) state.SkipWithError(sets[0].status().ToString().c_str());
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch));
  state.SetLabel(kms.sakke->Name());
}
BENCHMARK(BM_KeySet)->Args({0, 1})->Args({0, 64})->Args({1, 1})->Args({1, 64})->Args({1, 256})->Args({2, 1})
    ->Args({2, 64})->Args({2, 256})->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace mcx

BENCHMARK_MAIN();
