// Constant-time audit ("ctgrind"): run under valgrind memcheck by ctest. The master secrets z and
// KSAK and ECCSI's v are marked undefined, so memcheck reports any branch or memory address that
// depends on them (or on anything computed from them, such as the scalar (a + z)^-1, or the
// point [v]G before it is output). The few intended declassifications are in the library, each
// with its reason (engine/math/ct_audit.h).
//
// Valgrind does not execute AVX-512, so this audits the portable path and the AVX2 path (its
// mulx/adcx/adox scalar field and its AVX2 lane field) when the CPU has it; the IFMA path runs the
// same algorithm (fixed_base.cc) with the same masking discipline in its field operations. The
// constant-time helpers of base/constant_time.h are also audited on their own, on secret words.
#include <valgrind/memcheck.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/constant_time.h"
#include "base/pooled_random.h"
#include "engine/keys/key_set_deriver.h"
#include "engine/math/fixed_base.h"
#include "engine/math/montgomery_adx.h"
#include "engine/math/p256_fixed_base.h"

namespace mcx {
namespace {

void MarkSecret(SecretBytes& s) { VALGRIND_MAKE_MEM_UNDEFINED(s.data(), s.size()); }
template <typename T>
void MarkPublic(const T& v) { VALGRIND_MAKE_MEM_DEFINED(v.data(), v.size()); }

// Every helper of base/constant_time.h on secret operands; returns the number of wrong answers.
int AuditHelpers() {
  constexpr uint64_t kAll = ~uint64_t{0};
  uint64_t secret[4] = {0, 5, uint64_t{1} << 63, kAll};
  uint64_t table[4 * 2];
  for (int i = 0; i < 8; ++i) table[i] = 0x100 + static_cast<uint64_t>(i);
  VALGRIND_MAKE_MEM_UNDEFINED(secret, sizeof secret);
  uint64_t got[12];
  got[0] = ct::IsZero(secret[0]);
  got[1] = ct::IsZero(secret[1]);
  got[2] = ct::Eq(secret[1], 5);
  got[3] = ct::Lt(secret[1], secret[2]);
  got[4] = ct::Lt(secret[3], secret[2]);
  got[5] = ct::Msb(secret[2]);
  got[6] = ct::Select(ct::Eq(secret[1], 5), secret[3], secret[0]);
  got[7] = ct::IsZeroWords(secret, 2);
  uint64_t words[2];
  ct::SelectWords(words, ct::Lt(secret[0], secret[1]), secret + 2, secret, 2);
  got[8] = words[0];
  got[9] = words[1];
  ct::Lookup(words, table, 4, secret[1] - 3);  // entry 2
  got[10] = words[0];
  got[11] = words[1];
  VALGRIND_MAKE_MEM_DEFINED(got, sizeof got);
  const uint64_t want[12] = {kAll, 0, kAll, kAll, 0, kAll, kAll, 0, uint64_t{1} << 63, kAll, 0x104, 0x105};
  int failures = 0;
  for (int i = 0; i < 12; ++i) failures += got[i] != want[i];
  return failures;
}

// True when the host CPU's flags (/proc/cpuinfo, which valgrind does not rewrite) name `flag`.
bool HostHas(const std::string& flag) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    return (line + " ").find(" " + flag + " ") != std::string::npos;
  }
  return false;
}

// Two fixed scalars below q with every limb busy.
struct TestScalars {
  Limbs1024 k{}, k2{};
  TestScalars() {
    for (size_t j = 0; j < kLimbs1024; ++j) {
      k[j] = 0x9e3779b97f4a7c15ULL * (j + 1);
      k2[j] = 0xc2b2ae3d27d4eb4fULL ^ (j << 7);
    }
    k[kLimbs1024 - 1] >>= 3;  // below 2^1021 < q
    k2[kLimbs1024 - 1] >>= 3;
  }
};

int Run() {
  const int helper_failures = AuditHelpers();
  OpenSslRandom rng;
  std::unique_ptr<SakkeKernel> fast = NewFastSakkeKernel(MathPath::kPortable);
  PrepareFixedBaseTable(PortableLaneField());  // public tables, built before any secret exists
  // The ADX and AVX2 lane fields, when the host has the instructions (HostHas: valgrind's CPUID hides
  // ADX, so the library's own probe would say no).
  std::vector<const LaneField*> fields;
  if (HostHas("bmi2") && HostHas("adx")) {
    fields.push_back(&UncheckedAdxLaneField());
    fields.push_back(&UncheckedAdxBatchLaneField());
  }
  if (HostHas("avx2")) {
    // The avx2 path's batches (w = 8, 256 per batch; their lookup is the four-lane select_lanes,
    // one scalar's the one-lane select). UncheckedAvx2LaneField() runs the same
    // kernels with w = 6, a window the portable and ADX fields already take through the audit, so
    // auditing it too only doubled this test's time under valgrind.
    fields.push_back(&UncheckedAvx2BatchLaneField());
  }
  for (const LaneField* f : fields) PrepareFixedBaseTable(*f);
  std::unique_ptr<SakkeKernel> generic = NewGenericSakkeKernel();
  std::unique_ptr<EccsiKernel> eccsi = NewFastEccsiKernel();

  Result<MasterSecrets> secrets = GenerateMasterSecrets(rng);
  if (!secrets.ok()) return 2;
  Result<KmsPublicKeys> pub = DerivePublicKeys(*secrets, *generic, *eccsi);
  if (!pub.ok()) return 2;
  auto params = CommunityParameters::Make("kms.example.org", kDefaultUserKeyPeriod, 0);
  const std::vector<std::string> users = {"sip:alice@example.org", "sip:bob@example.org", "tel:+447700900123"};

  // References computed while everything is still "defined".
  std::vector<Bytes> ids;
  std::vector<SakkePoint> want(users.size());
  for (size_t i = 0; i < users.size(); ++i) {
    ids.emplace_back(users[i].begin(), users[i].end());
    if (!generic->ReceiverSecretKey(ids[i], secrets->z, want[i]).ok()) return 2;
  }
  SecretBytes v(kP256ScalarBytes);
  v.data()[31] = 7;
  v.data()[0] = 0x5a;
  const Bytes hs(32, 0x3c);
  SecretBytes ssk_want;
  if (!NewGenericEccsiKernel()->SigningKey(secrets->ksak, hs, v, ssk_want).ok()) return 2;

  // PVT = [v]G: the reference from OpenSSL's generic kernel, before v is marked; the fast kernel's
  // own fixed-base code then runs on the marked v (single, and a batch of two sharing one
  // inversion).
  P256Point pvt_want;
  if (!NewGenericEccsiKernel()->MultiplyGenerator(v, pvt_want).ok()) return 2;
  std::vector<SecretBytes> vs = {v, v};
  vs[1].data()[7] ^= 0x81;
  P256Point pvt1_want;
  if (!NewGenericEccsiKernel()->MultiplyGenerator(vs[1], pvt1_want).ok()) return 2;
  // A batch as large as the one-lane paths' affine batch needs (32; p256_fixed_base.h), with an
  // accumulator at infinity for its first windows (low octets zero) and zero digits in the middle.
  std::vector<SecretBytes> batch_vs(32, v);
  std::vector<P256Point> batch_want(batch_vs.size());
  for (size_t i = 0; i < batch_vs.size(); ++i) {
    batch_vs[i].data()[2] ^= static_cast<uint8_t>(i + 1);
    if (i == 3) std::fill(batch_vs[i].data() + 24, batch_vs[i].data() + 32, uint8_t{0});
    if (i == 4) std::fill(batch_vs[i].data() + 10, batch_vs[i].data() + 20, uint8_t{0});
    if (!NewGenericEccsiKernel()->MultiplyGenerator(batch_vs[i], batch_want[i]).ok()) return 2;
  }
  PrepareP256Table();  // public table, built before any secret exists

  // Scalars for the field-level audit, with portable references computed while still defined.
  TestScalars scalars;
  Limbs1024& secret_k = scalars.k;
  Limbs1024& secret_k2 = scalars.k2;
  SakkePoint k_want, k2_want;
  if (!MultiplyBaseSingle(PortableLaneField(), secret_k, k_want).ok()) return 2;
  if (!MultiplyBaseSingle(PortableLaneField(), secret_k2, k2_want).ok()) return 2;
  VALGRIND_MAKE_MEM_UNDEFINED(&scalars, sizeof scalars);

  MarkSecret(secrets->z);
  MarkSecret(secrets->ksak);
  MarkSecret(v);
  for (SecretBytes& s : vs) MarkSecret(s);
  for (SecretBytes& s : batch_vs) MarkSecret(s);

  // RSKs: the batch entry point and one at a time.
  std::vector<ByteView> views(ids.begin(), ids.end());
  std::vector<SakkePoint> got(users.size());
  if (!fast->ReceiverSecretKeys(views, secrets->z, got).ok()) return 3;
  SakkePoint one;
  if (!fast->ReceiverSecretKey(views[0], secrets->z, one).ok()) return 3;
  // The other fields: [k]P for a secret k (the scalar the kernel derives from z), batched (two
  // lanes) and one at a time (MultiplyBaseSingle).
  std::vector<std::vector<SakkePoint>> field_got(fields.size(), std::vector<SakkePoint>(3));
  for (size_t f = 0; f < fields.size(); ++f) {
    std::vector<Limbs1024> ks = {secret_k, secret_k2};
    if (!MultiplyBaseBatch(*fields[f], ks, std::span<SakkePoint>(field_got[f].data(), 2)).ok()) return 3;
    if (!MultiplyBaseSingle(*fields[f], secret_k, field_got[f][2]).ok()) return 3;
  }
  // SSK = KSAK + HS * v mod q.
  SecretBytes ssk;
  if (!eccsi->SigningKey(secrets->ksak, hs, v, ssk).ok()) return 3;
  // PVT = [v]G.
  P256Point pvt;
  if (!eccsi->MultiplyGenerator(v, pvt).ok()) return 3;
  std::vector<P256Point> pvts(vs.size());
  if (!eccsi->MultiplyGeneratorBatch(vs, pvts).ok()) return 3;
  // PVT on the avx2 path's one-lane code (mulx/adcx/adox, AVX2 scan) when the host has it.
  const bool p256_avx2 = HostHas("avx2") && HostHas("bmi2") && HostHas("adx");
  P256Point pvt_avx2 = pvt_want;
  if (p256_avx2) {
    Limbs256 v_limbs = LimbsFromBytes<4>(v.view());
    if (!P256MultiplyGeneratorAvx2Unchecked(v_limbs, pvt_avx2).ok()) return 3;
  }
  // The affine batch on the path valgrind shows (its CPUID hides ADX: portable), and on the avx2
  // path when the host has it.
  std::vector<P256Point> batch_got(batch_vs.size()), batch_avx2 = batch_want;
  if (!eccsi->MultiplyGeneratorBatch(batch_vs, batch_got).ok()) return 3;
  if (p256_avx2) {
    std::vector<Limbs256> batch_limbs;
    for (const SecretBytes& s : batch_vs) batch_limbs.push_back(LimbsFromBytes<4>(s.view()));
    if (!P256MultiplyGeneratorBatchAvx2Unchecked(batch_limbs, batch_avx2).ok()) return 3;
  }

  // MontSqrAdx on its own (the one-scalar ADX field squares with it, above): a secret operand with
  // every limb busy, against MontMulAdx(a, a) computed before the marking.
  const bool adx = HostHas("bmi2") && HostHas("adx");
  Limbs1024 sqr_in = secret_k, sqr_want{}, sqr_got{};
  if (adx) {
    // secret_k is marked secret (above): the reference is computed from a copy marked public first.
    VALGRIND_MAKE_MEM_DEFINED(sqr_in.data(), sizeof sqr_in);
    MontMulAdx(SakkeFieldModulus(), sqr_want, sqr_in, sqr_in);
    VALGRIND_MAKE_MEM_UNDEFINED(sqr_in.data(), sizeof sqr_in);
    MontSqrAdx(SakkeFieldModulus(), sqr_got, sqr_in);
    MontSqrAdx(SakkeFieldModulus(), sqr_got, sqr_got);  // aliased, on a secret result
    VALGRIND_MAKE_MEM_DEFINED(sqr_got.data(), sizeof sqr_got);
    MontMulAdx(SakkeFieldModulus(), sqr_want, sqr_want, sqr_want);
  }

  // Outputs are handed to the caller: public from here on (for the comparison only).
  for (auto& p : got) MarkPublic(p);
  MarkPublic(one);
  for (auto& pts : field_got) {
    for (auto& p : pts) MarkPublic(p);
  }
  MarkPublic(ssk);
  MarkPublic(pvt);
  MarkPublic(pvt_avx2);
  for (auto& p : pvts) MarkPublic(p);
  for (auto& p : batch_got) MarkPublic(p);
  for (auto& p : batch_avx2) MarkPublic(p);
  int failures = 0;
  for (size_t i = 0; i < users.size(); ++i) failures += ToHex(got[i]) != ToHex(want[i]);
  failures += ToHex(one) != ToHex(want[0]);
  std::string audited = fast->Name();
  for (size_t f = 0; f < fields.size(); ++f) {
    failures += ToHex(field_got[f][0]) != ToHex(k_want);
    failures += ToHex(field_got[f][1]) != ToHex(k2_want);
    failures += ToHex(field_got[f][2]) != ToHex(k_want);
    audited += std::string("; field ") + fields[f]->name + " (2 batched [k]P, 1 single)";
  }
  failures += ToHex(ssk.view()) != ToHex(ssk_want.view());
  failures += ToHex(pvt) != ToHex(pvt_want);
  failures += ToHex(pvt_avx2) != ToHex(pvt_want);
  if (p256_avx2) audited += "; P-256 [v]G on the avx2 path's one-lane code";
  failures += sqr_got != sqr_want;
  if (adx) audited += "; MontSqrAdx";
  failures += ToHex(pvts[0]) != ToHex(pvt_want);
  failures += ToHex(pvts[1]) != ToHex(pvt1_want);
  for (size_t i = 0; i < batch_vs.size(); ++i) {
    failures += ToHex(batch_got[i]) != ToHex(batch_want[i]);
    failures += ToHex(batch_avx2[i]) != ToHex(batch_want[i]);
  }
  audited += "; P-256 affine batch of " + std::to_string(batch_vs.size()) + " on the best path" +
             (p256_avx2 ? " and the avx2 path" : "");
  std::printf("ct_audit: the constant-time helpers (%d wrong), %zu batched RSKs and 1 single RSK, 1 SSK, "
              "1 single and %zu batched PVTs audited; %d mismatches\naudited: %s\n",
              helper_failures, users.size(), vs.size(), failures, audited.c_str());
  failures += helper_failures;
  return failures == 0 ? 0 : 4;
}

}  // namespace
}  // namespace mcx

int main() { return mcx::Run(); }
