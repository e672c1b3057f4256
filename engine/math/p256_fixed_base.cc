#include "engine/math/p256_fixed_base.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include "engine/math/avx2_table_scan.h"
#endif

#include <algorithm>
#include <memory>
#include <vector>

#include "base/constant_time.h"
#include "base/secret.h"
#include "engine/math/inverse.h"
#include "engine/math/p256_comb.h"
#include "engine/math/p256_field.h"
#include "engine/math/p256_lanes.h"

namespace mcx {
namespace {

using p256::Affine, p256::Projective, p256::BoothDigit, p256::Fe;
using Table = p256::CombTable;
constexpr int kWindows = p256::kCombWindows;
constexpr int kEntries = p256::kCombEntries;

const Table& P256Table() { return p256::GeneratorCombTable(); }

using p256::FeMulFn;
using FeSqrFn = void (*)(Fe&, const Fe&);
// out = entry `index` of a window's row of kEntries affine points (x then y, 4 words each), every
// entry read; all zero for an index outside the row. `scratch` is the caller's, wiped by it once
// at the end rather than in every window (a call to OPENSSL_cleanse each time).
using LookupFn = void (*)(Affine& out, uint64_t (&scratch)[8], const uint64_t* row, uint64_t index);

[[gnu::always_inline]] inline void LookupPortable(Affine& out, uint64_t (&scratch)[8], const uint64_t* row, uint64_t index) {
  ct::Lookup(scratch, row, kEntries, index);
  for (int l = 0; l < 4; ++l) {
    out.x[l] = scratch[l];
    out.y[l] = scratch[4 + l];
  }
}

// Four lanes' entries of one row (the batch's lanes all read the same window): *out[l] = entry
// index[l], as LookupFn.
using LookupFourFn = void (*)(Affine* const (&out)[4], uint64_t (&scratch)[8], const uint64_t* row,
                              const uint64_t (&index)[4]);

template <LookupFn kLookup>
[[gnu::always_inline]] inline void LookupEach(Affine* const (&out)[4], uint64_t (&scratch)[8], const uint64_t* row,
                                              const uint64_t (&index)[4]) {
  for (int l = 0; l < 4; ++l) kLookup(*out[l], scratch, row, index[l]);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// ct::Lookup with AVX2: an entry is two 256-bit loads, blended into the accumulators under an
// equality mask (vpcmpeqq against a running counter, vpblendvb): four vector operations an entry
// where and/or with a fresh broadcast took seven (a 64-entry scan 34 ns against 47 on Zen 3,
// session 14). Two pairs of accumulators take alternate entries, so that the blend chains run side
// by side. vpblendvb's timing does not depend on the mask; ct_audit runs this scan under valgrind.
// The result goes straight to `out` (no scratch): read back word by word from a scratch copy, it
// stalled the caller (8 % of the batch's entry selection in perf, session 15).
__attribute__((target("avx2"))) void LookupAvx2(Affine& out, uint64_t (&)[8], const uint64_t* row, uint64_t index) {
  static_assert(kEntries % 2 == 0, "entries in pairs");
  __m256i lo[2], hi[2];
  for (int k = 0; k < 2; ++k) lo[k] = hi[k] = _mm256_setzero_si256();
  const __m256i want = _mm256_set1_epi64x(static_cast<long long>(index));
  const __m256i one = _mm256_set1_epi64x(1);
  __m256i at = _mm256_setzero_si256();  // the entry's number in every word
  for (int e = 0; e < kEntries; e += 2) {
#pragma GCC unroll 2
    for (int k = 0; k < 2; ++k) {
      const __m256i hit = _mm256_cmpeq_epi64(at, want);
      at = _mm256_add_epi64(at, one);
      const __m256i* entry = reinterpret_cast<const __m256i*>(row + 8 * (e + k));
      lo[k] = _mm256_blendv_epi8(lo[k], _mm256_loadu_si256(entry), hit);
      hi[k] = _mm256_blendv_epi8(hi[k], _mm256_loadu_si256(entry + 1), hit);
    }
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.x.data()), _mm256_or_si256(lo[0], lo[1]));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.y.data()), _mm256_or_si256(hi[0], hi[1]));
}

// Four lanes from one pass over the row (avx2_table_scan.h): each entry's x and y are loaded once
// for the four, where four LookupAvx2 scans loaded them four times and blended every piece.
__attribute__((target("avx2"))) void LookupFourAvx2(Affine* const (&out)[4], uint64_t (&)[8], const uint64_t* row,
                                                    const uint64_t (&index)[4]) {
  static_assert(sizeof(Affine) == 2 * sizeof(__m256i), "an entry is two pieces: x, y");
  __m256i* const pieces[4] = {reinterpret_cast<__m256i*>(out[0]), reinterpret_cast<__m256i*>(out[1]),
                              reinterpret_cast<__m256i*>(out[2]), reinterpret_cast<__m256i*>(out[3])};
  avx2_scan::SelectFourEntries<2>(pieces, row, kEntries, 8, index, 0);
}
#endif

// q = -q where negative is all ones (secret).
[[gnu::always_inline]] inline void NegateEntry(Affine& q, uint64_t negative) {
  Fe neg_y;
  const Fe zero{};
  p256::FeSub(neg_y, zero, q.y);
  p256::FeSelect(q.y, negative, neg_y, q.y);
}

// out = digit's multiple of the window's base, or (0, 0) for digit 0, reading every entry so that
// the memory trace does not depend on the digit. `scratch` is the lookup's (LookupFn).
template <LookupFn kLookup>
[[gnu::always_inline]] inline void SelectEntry(const Affine (&row)[kEntries], uint64_t abs, uint64_t negative,
                                               uint64_t (&scratch)[8], Affine& out) {
  static_assert(sizeof(Affine) == 8 * sizeof(uint64_t), "an entry is x then y, 4 words each");
  kLookup(out, scratch, reinterpret_cast<const uint64_t*>(row), abs - 1);  // abs 0: no entry
  NegateEntry(out, negative);
}

// The table in the IFMA lanes' representation (p256_lanes.h), built from the portable one on
// first use: Montgomery with R' = 2^260 is the portable form (R = 2^256) times 16.
struct LaneTableStorage {
  std::vector<uint64_t> entries;
  p256::LaneTable table;
};

void ToLaneForm(const Limbs256& portable, uint64_t out[p256::kLaneLimbs]) {
  Limbs256 v = portable;
  for (int i = 0; i < 4; ++i) p256::FeAdd(v, v, v);
  p256::SplitLimbs52(v, out);
}

std::unique_ptr<LaneTableStorage> BuildLaneTable() {
  const Table& t = P256Table();
  auto s = std::make_unique<LaneTableStorage>();
  s->entries.resize(static_cast<size_t>(kWindows) * kEntries * p256::kLaneEntryWords);
  uint64_t* e = s->entries.data();
  for (int i = 0; i < kWindows; ++i) {
    for (int j = 0; j < kEntries; ++j, e += p256::kLaneEntryWords) {
      ToLaneForm(t.points[i][j].x, e);
      ToLaneForm(t.points[i][j].y, e + p256::kLaneLimbs);
    }
  }
  s->table.entries = s->entries.data();
  s->table.windows = kWindows;
  s->table.count = kEntries;
  ToLaneForm(t.b, s->table.b);
  ToLaneForm(t.one, s->table.one);
  p256::SplitLimbs52(t.one, s->table.r256);  // t.one is 2^256 mod p
  return s;
}

const p256::LaneTable& P256LaneTable() {
  static const std::unique_ptr<LaneTableStorage> storage = BuildLaneTable();
  return storage->table;
}

// The split layout for one scalar over the lanes (p256_lanes.h, MultiplySplit): 37 windows on 8
// lanes take 5 steps. 200 KiB, built from the portable table on first use.
constexpr int kSplitSteps = (kWindows + p256::kLanes - 1) / p256::kLanes;
struct SplitTableStorage {
  alignas(64) uint64_t entries[static_cast<size_t>(kSplitSteps) * kEntries * p256::kLaneEntryWords * p256::kLanes];
  p256::LaneTable table;
};

std::unique_ptr<SplitTableStorage> BuildSplitTable() {
  const Table& t = P256Table();
  const p256::LaneTable& shared = P256LaneTable();
  auto s = std::make_unique<SplitTableStorage>();
  for (int step = 0; step < kSplitSteps; ++step) {
    for (int e = 0; e < kEntries; ++e) {
      for (int l = 0; l < p256::kLanes; ++l) {
        const int window = step * p256::kLanes + l;
        uint64_t words[p256::kLaneEntryWords] = {};
        if (window < kWindows) {
          ToLaneForm(t.points[window][e].x, words);
          ToLaneForm(t.points[window][e].y, words + p256::kLaneLimbs);
        }
        for (int w = 0; w < p256::kLaneEntryWords; ++w) {
          const size_t at = ((static_cast<size_t>(step) * kEntries + static_cast<size_t>(e)) * p256::kLaneEntryWords +
                             static_cast<size_t>(w)) * p256::kLanes + static_cast<size_t>(l);
          s->entries[at] = words[w];
        }
      }
    }
  }
  s->table = shared;
  s->table.entries = s->entries;
  s->table.windows = kSplitSteps;
  return s;
}

const p256::LaneTable& P256SplitTable() {
  static const std::unique_ptr<SplitTableStorage> storage = BuildSplitTable();
  return storage->table;
}

// r = [k]G with k's windows spread over the IFMA lanes.
void MultiplyProjectiveSplit(const Limbs256& k, Projective& r) {
  constexpr size_t kDigits = static_cast<size_t>(kSplitSteps) * p256::kLanes;
  alignas(64) uint64_t abs[kDigits] = {}, negative[kDigits] = {};
  for (int window = 0; window < kWindows; ++window) {
    // Window 8s + l goes to step s, lane l: the same index.
    abs[window] = BoothDigit(k, window, &negative[window]);
  }
  p256::MultiplySplit(P256SplitTable(), abs, negative, r.x, r.y, r.z);
  SecureWipe(abs, sizeof abs);
  SecureWipe(negative, sizeof negative);
}

// points[i] = [k[i]]G for eight scalars at once on the IFMA lanes: the same digits, table scans
// and additions as MultiplyProjective, lane by lane.
void MultiplyProjectiveLanes(const Limbs256 (&k)[p256::kLanes], Projective (&points)[p256::kLanes]) {
  constexpr size_t kDigits = static_cast<size_t>(kWindows) * p256::kLanes;
  alignas(64) uint64_t abs[kDigits], negative[kDigits];
  for (int i = 0; i < kWindows; ++i) {
    for (int l = 0; l < p256::kLanes; ++l) {
      const size_t at = static_cast<size_t>(i) * p256::kLanes + static_cast<size_t>(l);
      abs[at] = BoothDigit(k[l], i, &negative[at]);
    }
  }
  Limbs256 x[p256::kLanes], y[p256::kLanes], z[p256::kLanes];
  p256::MultiplyLanes(P256LaneTable(), abs, negative, x, y, z);
  for (int l = 0; l < p256::kLanes; ++l) points[l] = Projective{x[l], y[l], z[l]};
  SecureWipe(abs, sizeof abs);
  SecureWipe(negative, sizeof negative);
  SecureWipe(x, sizeof x);
  SecureWipe(y, sizeof y);
  SecureWipe(z, sizeof z);
}

// Jacobian coordinates (x = X/Z^2, y = Y/Z^3): the one-lane sum's accumulator, since its mixed
// addition costs 8M + 3S and 7 additions against the complete formula's 13M and about 20.
struct Jacobian {
  Fe x, y, z;
};

// r = a + q for a Jacobian a and an affine q, with a not infinity and a != +-q (H = 0 there and
// the result is wrong). MultiplyProjective shows why the comb never meets those cases.
template <FeMulFn kMul, FeSqrFn kSqr>
[[gnu::always_inline]] inline void AddJacobianAffine(Jacobian& r, const Jacobian& a, const Affine& q) {
  Fe z1z1, u2, s2, h, rr, hh, hhh, v, t;
  kSqr(z1z1, a.z);
  kMul(u2, q.x, z1z1);
  kMul(t, a.z, z1z1);
  kMul(s2, q.y, t);
  p256::FeSub(h, u2, a.x);
  p256::FeSub(rr, s2, a.y);
  kSqr(hh, h);
  kMul(hhh, h, hh);
  kMul(v, a.x, hh);
  kMul(r.z, a.z, h);  // before r.x and r.y: r may alias a, and a.x, a.y are still needed
  kSqr(t, rr);
  p256::FeSub(t, t, hhh);
  p256::FeSub(t, t, v);
  p256::FeSub(t, t, v);  // X3 = R^2 - HHH - 2V
  Fe y1hhh;
  kMul(y1hhh, a.y, hhh);
  p256::FeSub(v, v, t);
  r.x = t;
  kMul(v, rr, v);
  p256::FeSub(r.y, v, y1hhh);  // Y3 = R(V - X3) - Y1 HHH
}

// Inline word selects (p256::FeSelect, cmov): Select<4> (montgomery.h) is an out-of-line call, 6 %
// of [k]G in perf.
[[gnu::always_inline]] inline void SelectJacobian(Jacobian& r, uint64_t mask, const Jacobian& a, const Jacobian& b) {
  static_assert(sizeof(Jacobian) == 12 * sizeof(uint64_t), "three coordinates of 4 words");
  p256::FeSelect(r.x, mask, a.x, b.x);
  p256::FeSelect(r.y, mask, a.y, b.y);
  p256::FeSelect(r.z, mask, a.z, b.z);
}

// r = [k]G in projective coordinates. k = sum of digit_i 2^(7i), so r is the sum of one table
// entry (or nothing, for a zero digit) per window, accumulated in Jacobian coordinates with the
// incomplete mixed addition. It never meets its exceptions for k in [1, n-1]: before window i the
// accumulator is [s]G with s = (k mod 2^(7i)) - 2^(7i) b_(7i-1), so |s| <= 2^(7i-1), and the entry
// is [d 2^(7i)]G with 1 <= |d| <= 64. For i <= 35, |d 2^(7i) -+ s| lies between 2^(7i-1) and
// 2^(7i+7) <= 2^252 < n, so s is neither d 2^(7i) nor -d 2^(7i) modulo n. In window 36 (bits 251 to
// 255 of k) d is 0..16: s = -d 2^252 would make k = 0 mod n, and s = d 2^252 mod n needs
// d 2^252 - s = n (the difference is below 2n and positive), i.e. d = 16 and k = 2^257 - n, which
// has 257 bits. The remaining case, an accumulator still at infinity (every digit so far zero),
// is kept by mask: the entry becomes the accumulator. kMul and kLookup are the path's (portable,
// or mulx/adcx/adox and AVX2 on the avx2 path).
template <FeMulFn kMul, FeSqrFn kSqr, LookupFn kLookup>
void MultiplyProjective(const Table& t, const Limbs256& k, Projective& r) {
  Affine q;
  uint64_t scratch[8];
  uint64_t negative;
  uint64_t abs = BoothDigit(k, 0, &negative);
  SelectEntry<kLookup>(t.points[0], abs, negative, scratch, q);
  Jacobian acc{q.x, q.y, t.one};
  uint64_t at_infinity = ct::IsZero(abs);  // acc holds no point yet
  Jacobian sum, entry;
  for (int i = 1; i < kWindows; ++i) {
    abs = BoothDigit(k, i, &negative);
    SelectEntry<kLookup>(t.points[i], abs, negative, scratch, q);
    AddJacobianAffine<kMul, kSqr>(sum, acc, q);
    entry = Jacobian{q.x, q.y, t.one};
    SelectJacobian(sum, at_infinity, entry, sum);
    // A zero digit selected (0, 0), which is not a point: keep acc instead of the sum.
    const uint64_t zero_digit = ct::IsZero(abs);
    SelectJacobian(acc, zero_digit, acc, sum);
    at_infinity &= zero_digit;
  }
  // To projective (X Z, Y, Z^3): x = X Z / Z^3, y = Y / Z^3. Infinity (k = 0, outside the
  // contract) becomes Z = 0, which the inversion refuses.
  Fe zz;
  kSqr(zz, acc.z);
  kMul(r.x, acc.x, acc.z);
  r.y = acc.y;
  kMul(r.z, zz, acc.z);
  const Fe zero{};
  p256::FeSelect(r.z, at_infinity, zero, r.z);
  SecureWipe(&acc, sizeof acc);
  SecureWipe(&sum, sizeof sum);
  SecureWipe(&entry, sizeof entry);
  SecureWipe(&zz, sizeof zz);
  SecureWipe(&q, sizeof q);
  SecureWipe(scratch, sizeof scratch);
  SecureWipe(&abs, sizeof abs);
  SecureWipe(&negative, sizeof negative);
}

// out = 04 || x || y for plain (not Montgomery) canonical coordinates.
void EncodePoint(const Limbs256& x, const Limbs256& y, P256Point& out) {
  out[0] = 0x04;
  LimbsToBytes<4>(x, std::span<uint8_t, 32>(out.data() + 1, 32));
  LimbsToBytes<4>(y, std::span<uint8_t, 32>(out.data() + 33, 32));
}

// Many scalars on the one-lane paths: affine accumulators, one per scalar, that take their window's
// entry together, so that the x-differences of a whole window share one inversion (Montgomery's
// trick, 3 multiplications a scalar) and each addition is then the affine chord: 5M + 1S a scalar
// a window against the Jacobian addition's 8M + 3S, and no conversion at the end. The cases are
// MultiplyProjective's: a scalar whose digit is zero, or whose accumulator is still at infinity,
// puts 1 in place of its difference and keeps its accumulator or takes the entry by mask; the
// difference is otherwise never zero for k in [1, n-1], so neither is the product inverted.
struct AffineLane {
  Affine acc;             // [s]G for the digits so far; meaningless while at_infinity
  Affine q;               // this window's entry
  Fe dx;                  // q.x - acc.x, or 1
  Fe prefix;              // dx of this lane and of every earlier lane of its chain, multiplied
  uint64_t at_infinity;   // every digit so far was zero
  uint64_t zero_digit;    // this window's digit is zero
};

// Below this many scalars a window's inversion (about 1 us) costs more than the chord saves.
constexpr size_t kMinAffineBatch = 32;
// A chunk's lanes (about 200 octets each) stay in L2 either way; 256 halves the inversions per
// scalar against 128, and SSK+PVT in batches of 256 ran 4-8 % faster on Zen 3 (both paths).
constexpr size_t kMaxAffineBatch = 256;
// Lane j belongs to chain j % kChains: Montgomery's trick runs as kChains products side by side,
// and the chords go kChains lanes at a time, step by step. A lane's chord is a chain of four
// dependent multiplications, and a FeMulAdx takes 39-42 TSC cycles to its result against 29-31 a
// multiplication when independent ones follow each other (Zen 3, scratch benchmark): one lane's
// chord after another ran at 223 TSC cycles a lane, four side by side at 194 (session 15). The
// portable multiplication is C++ that GCC schedules itself, and there one chain was 10 % faster
// (SSK+PVT in batches of 256).
constexpr size_t kAdxChains = 4;
constexpr size_t kPortableChains = 1;
static_assert(kMinAffineBatch >= kAdxChains && kMinAffineBatch >= kPortableChains, "every chain has a lane");

// Lane j's entry (looked up, not yet negated) into its chain: the x-difference, or 1 where the
// digit is zero or the accumulator at infinity, and the running product of its chain.
template <FeMulFn kMul, size_t kChains>
[[gnu::always_inline]] inline void ChainDifference(const Table& t, int window, std::span<AffineLane> lanes, size_t j,
                                                   uint64_t abs, uint64_t negative) {
  AffineLane& lane = lanes[j];
  NegateEntry(lane.q, negative);
  lane.zero_digit = ct::IsZero(abs);
  p256::FeSub(lane.dx, lane.q.x, lane.acc.x);
  p256::FeSelect(lane.dx, lane.zero_digit | lane.at_infinity, t.one, lane.dx);
  if (window == kWindows - 1) {
    // k = 0 (outside the contract) ends at infinity: a zero difference makes the product zero
    // and the inversion fail, as the one-scalar code's Z = 0 does, without a branch here.
    const Fe zero{};
    p256::FeSelect(lane.dx, lane.zero_digit & lane.at_infinity, zero, lane.dx);
  }
  if (j < kChains) {
    lane.prefix = lane.dx;
  } else {
    kMul(lane.prefix, lanes[j - kChains].prefix, lane.dx);
  }
}

// Stage one of a window: every lane's entry and x-difference, and the running products of the
// differences along each chain. The entries come four lanes at a time (one pass over the row).
template <FeMulFn kMul, LookupFn kLookup, LookupFourFn kLookupFour, size_t kChains>
[[gnu::noinline]] void SelectWindowEntries(const Table& t, int window, std::span<const Limbs256> k,
                                           std::span<AffineLane> lanes, uint64_t (&scratch)[8]) {
  const uint64_t* row = reinterpret_cast<const uint64_t*>(t.points[window]);
  uint64_t abs[4], negative[4], index[4];
  for (size_t j = 0; j < lanes.size(); j += 4) {
    const size_t n = std::min<size_t>(4, lanes.size() - j);
    for (size_t q = 0; q < n; ++q) {
      abs[q] = BoothDigit(k[j + q], window, &negative[q]);
      index[q] = abs[q] - 1;  // abs 0: no entry
    }
    if (n == 4) {
      Affine* const out[4] = {&lanes[j].q, &lanes[j + 1].q, &lanes[j + 2].q, &lanes[j + 3].q};
      kLookupFour(out, scratch, row, index);
    } else {
      for (size_t q = 0; q < n; ++q) kLookup(lanes[j + q].q, scratch, row, index[q]);
    }
    for (size_t q = 0; q < n; ++q) ChainDifference<kMul, kChains>(t, window, lanes, j + q, abs[q], negative[q]);
  }
  SecureWipe(abs, sizeof abs);
  SecureWipe(negative, sizeof negative);
  SecureWipe(index, sizeof index);
}

// inverses[c] = 1/(chain c's product), in Montgomery form, from one blinded inversion of the
// chains' products multiplied together (Montgomery's trick once more, over kChains values).
// Fails as BlindedInverse does if a product is zero.
template <FeMulFn kMul, size_t kChains>
Status InvertChains(std::span<const AffineLane> lanes, Fe (&inverses)[kChains]) {
  const size_t n = lanes.size();
  Fe ends[kChains], running[kChains];
  for (size_t c = 0; c < kChains; ++c) ends[c] = lanes[n - 1 - (n - 1 - c) % kChains].prefix;  // chain's last lane
  running[0] = ends[0];
  for (size_t c = 1; c < kChains; ++c) kMul(running[c], running[c - 1], ends[c]);
  Fe inverse;  // 1/(P R) for the product's Montgomery form P R, then R^3/(P R R) = R/P
  Status st = BlindedInverse(P256FieldModulus(), running[kChains - 1], inverse);
  if (st.ok()) {
    kMul(inverse, inverse, P256FieldModulus().r3);
    for (size_t c = kChains; c-- > 1;) {
      kMul(inverses[c], inverse, running[c - 1]);
      kMul(inverse, inverse, ends[c]);
    }
    inverses[0] = inverse;
  }
  SecureWipe(ends, sizeof ends);
  SecureWipe(running, sizeof running);
  SecureWipe(&inverse, sizeof inverse);
  return st;
}

// A chord group's temporaries, one per chain; secret, wiped once a window by AddWindowEntries.
template <size_t kChains>
struct ChordTemporaries {
  Fe inv_dx[kChains], lambda[kChains], x3[kChains], y3[kChains];
};

// The chord of lanes[first, first + count), one lane of each chain, written as steps over the
// lanes so that their independent multiplications sit next to each other in the instruction
// stream. inverses[c] is 1/(prefix of chain c up to its lane here); each is stepped down past its
// lane.
template <FeMulFn kMul, FeSqrFn kSqr, size_t kChains>
[[gnu::always_inline]] inline void AddChordGroup(std::span<AffineLane> lanes, size_t first, size_t count,
                                                 Fe (&inverses)[kChains], ChordTemporaries<kChains>& tmp) {
  auto& [inv_dx, lambda, x3, y3] = tmp;
  for (size_t s = 0; s < count; ++s) {
    const size_t j = first + s;
    Fe& inverse = inverses[j % kChains];
    if (j >= kChains) {
      kMul(inv_dx[s], inverse, lanes[j - kChains].prefix);
      kMul(inverse, inverse, lanes[j].dx);
    } else {
      inv_dx[s] = inverse;
    }
  }
  for (size_t s = 0; s < count; ++s) {
    AffineLane& lane = lanes[first + s];
    p256::FeSub(lambda[s], lane.q.y, lane.acc.y);
    kMul(lambda[s], lambda[s], inv_dx[s]);
  }
  for (size_t s = 0; s < count; ++s) kSqr(x3[s], lambda[s]);
  for (size_t s = 0; s < count; ++s) {
    AffineLane& lane = lanes[first + s];
    p256::FeSub(x3[s], x3[s], lane.acc.x);
    p256::FeSub(x3[s], x3[s], lane.q.x);  // x3 = lambda^2 - x1 - x2
    p256::FeSub(y3[s], lane.acc.x, x3[s]);
  }
  for (size_t s = 0; s < count; ++s) kMul(y3[s], lambda[s], y3[s]);
  for (size_t s = 0; s < count; ++s) {
    AffineLane& lane = lanes[first + s];
    p256::FeSub(y3[s], y3[s], lane.acc.y);  // y3 = lambda (x1 - x3) - y1
    p256::FeSelect(x3[s], lane.at_infinity, lane.q.x, x3[s]);
    p256::FeSelect(y3[s], lane.at_infinity, lane.q.y, y3[s]);
    p256::FeSelect(lane.acc.x, lane.zero_digit, lane.acc.x, x3[s]);
    p256::FeSelect(lane.acc.y, lane.zero_digit, lane.acc.y, y3[s]);
    lane.at_infinity &= lane.zero_digit;
  }
}

// Stage two: unwinds the chains' inverses group by group, from the last lanes, and adds each
// lane's entry with its own 1/dx. `inverses` come from InvertChains; they are consumed. The two
// stages are functions of their own: inlined into one body with the lookups, GCC spilled the
// accumulators of the multiplications to the stack (a fifth slower).
template <FeMulFn kMul, FeSqrFn kSqr, size_t kChains>
[[gnu::noinline]] void AddWindowEntries(std::span<AffineLane> lanes, Fe (&inverses)[kChains]) {
  ChordTemporaries<kChains> tmp;
  for (size_t end = lanes.size(); end > 0;) {
    const size_t first = (end - 1) / kChains * kChains;  // a group never holds two lanes of a chain
    AddChordGroup<kMul, kSqr, kChains>(lanes, first, end - first, inverses, tmp);
    end = first;
  }
  SecureWipe(&tmp, sizeof tmp);
}

// out[j] = [k[j]]G for a batch of kMinAffineBatch to kMaxAffineBatch scalars in [1, n-1].
template <FeMulFn kMul, FeSqrFn kSqr, LookupFn kLookup, LookupFourFn kLookupFour, size_t kChains>
Status MultiplyAffineBatch(const Table& t, std::span<const Limbs256> k, std::span<P256Point> out) {
  std::vector<AffineLane> lanes(k.size());
  uint64_t scratch[8];
  for (size_t j = 0; j < k.size(); ++j) {
    uint64_t negative;
    const uint64_t abs = BoothDigit(k[j], 0, &negative);
    SelectEntry<kLookup>(t.points[0], abs, negative, scratch, lanes[j].acc);
    lanes[j].at_infinity = ct::IsZero(abs);
  }
  Status st = Status::Ok();
  for (int i = 1; i < kWindows && st.ok(); ++i) {
    SelectWindowEntries<kMul, kLookup, kLookupFour, kChains>(t, i, k, lanes, scratch);
    Fe inverses[kChains];
    st = InvertChains<kMul, kChains>(lanes, inverses);
    if (!st.ok()) break;  // a zero product: some k outside [1, n-1] (0, n, ...)
    AddWindowEntries<kMul, kSqr, kChains>(lanes, inverses);
    SecureWipe(inverses, sizeof inverses);
  }
  for (size_t j = 0; j < lanes.size() && st.ok(); ++j) {
    Fe x, y;
    const Fe one{1, 0, 0, 0};
    p256::FeMul(x, lanes[j].acc.x, one);  // out of Montgomery form
    p256::FeMul(y, lanes[j].acc.y, one);
    EncodePoint(x, y, out[j]);
    SecureWipe(&x, sizeof x);
    SecureWipe(&y, sizeof y);
  }
  SecureWipe(lanes.data(), lanes.size() * sizeof(AffineLane));
  SecureWipe(scratch, sizeof scratch);
  return st;
}

// The one-lane paths' batch: chunks of kMinAffineBatch to kMaxAffineBatch scalars (none smaller,
// so a chunk's inversions pay), each summed in affine coordinates.
template <FeMulFn kMul, FeSqrFn kSqr, LookupFn kLookup, LookupFourFn kLookupFour, size_t kChains>
Status MultiplyAffineChunks(const Table& t, std::span<const Limbs256> k, std::span<P256Point> out) {
  const size_t chunks = (k.size() + kMaxAffineBatch - 1) / kMaxAffineBatch;
  size_t done = 0;
  for (size_t c = 0; c < chunks; ++c) {
    const size_t size = (k.size() - done) / (chunks - c);  // even shares; >= 32 as k.size() >= 32
    Status st = MultiplyAffineBatch<kMul, kSqr, kLookup, kLookupFour, kChains>(t, k.subspan(done, size), out.subspan(done, size));
    if (!st.ok()) return st;
    done += size;
  }
  return Status::Ok();
}

Status MultiplyAffineChunksOn(MathPath path, std::span<const Limbs256> k, std::span<P256Point> out,
                              bool checked = true) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (path == MathPath::kAvx2 && (!checked || MathPathAvailable(MathPath::kAvx2))) {
    return MultiplyAffineChunks<p256::FeMulAdx, p256::FeSqrAdx, LookupAvx2, LookupFourAvx2, kAdxChains>(P256Table(), k, out);
  }
#endif
  (void)path;
  (void)checked;
  return MultiplyAffineChunks<p256::FeMul, p256::FeSqr, LookupPortable, LookupEach<LookupPortable>, kPortableChains>(P256Table(), k, out);
}

// out = (X/Z, Y/Z) encoded, given inv = 1/Z_m where Z_m = Z R is the Montgomery form of Z.
void EncodeAffine(const Projective& a, const Limbs256& inv, P256Point& out) {
  Limbs256 z_inv, x, y;
  p256::FeMul(z_inv, inv, P256FieldModulus().r2);  // (1/(Z R)) R^2 / R = 1/Z, plain
  p256::FeMul(x, a.x, z_inv);                      // (X R)(1/Z)/R = X/Z, plain
  p256::FeMul(y, a.y, z_inv);
  EncodePoint(x, y, out);
}

// The one-lane [k]G of a path: the avx2 path multiplies with mulx/adcx/adox and scans with AVX2
// (`checked` false: the caller has checked the CPU itself, ct_audit only).
void MultiplyOneLane(MathPath path, const Table& t, const Limbs256& k, Projective& r, bool checked = true) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (path == MathPath::kAvx2 && (!checked || MathPathAvailable(MathPath::kAvx2))) {
    MultiplyProjective<p256::FeMulAdx, p256::FeSqrAdx, LookupAvx2>(t, k, r);
    return;
  }
#endif
  (void)path;
  (void)checked;
  MultiplyProjective<p256::FeMul, p256::FeSqr, LookupPortable>(t, k, r);
}

Status AffineResult(Projective& r, P256Point& out) {
  Limbs256 inv;
  Status st = BlindedInverse(P256FieldModulus(), r.z, inv);
  if (st.ok()) EncodeAffine(r, inv, out);
  SecureWipe(&r, sizeof r);
  SecureWipe(&inv, sizeof inv);
  return st;
}

}  // namespace

void PrepareP256Table() {
  (void)P256Table();
  if (p256::IfmaLanesAvailable()) {
    (void)P256LaneTable();
    (void)P256SplitTable();
  }
}

Status P256MultiplyGenerator(const Limbs256& k, P256Point& out) {
  return P256MultiplyGeneratorOn(BestMathPath(), k, out);
}

Status P256MultiplyGeneratorOn(MathPath path, const Limbs256& k, P256Point& out) {
  Projective r;
  if (path == MathPath::kIfma && p256::IfmaLanesAvailable()) {
    MultiplyProjectiveSplit(k, r);
  } else {
    MultiplyOneLane(path, P256Table(), k, r);
  }
  return AffineResult(r, out);
}

Status P256MultiplyGeneratorAvx2Unchecked(const Limbs256& k, P256Point& out) {
  Projective r;
  MultiplyOneLane(MathPath::kAvx2, P256Table(), k, r, /*checked=*/false);
  return AffineResult(r, out);
}

Status P256MultiplyGeneratorBatchAvx2Unchecked(std::span<const Limbs256> k, std::span<P256Point> out) {
  if (k.size() != out.size()) return Status::Internal("P256MultiplyGeneratorBatch: size mismatch");
  return MultiplyAffineChunksOn(MathPath::kAvx2, k, out, /*checked=*/false);
}

Status P256MultiplyGeneratorBatch(std::span<const Limbs256> k, std::span<P256Point> out) {
  return P256MultiplyGeneratorBatchOn(BestMathPath(), k, out);
}

Status P256MultiplyGeneratorBatchOn(MathPath path, std::span<const Limbs256> k, std::span<P256Point> out) {
  if (k.size() != out.size()) return Status::Internal("P256MultiplyGeneratorBatch: size mismatch");
  const bool ifma = path == MathPath::kIfma && p256::IfmaLanesAvailable();
  if (!ifma && k.size() >= kMinAffineBatch) return MultiplyAffineChunksOn(path, k, out);
  const Table& t = P256Table();
  std::vector<Projective> points(k.size());
  std::vector<Limbs256> inv(k.size()), scratch(k.size());
  size_t done = 0;
  if (ifma && k.size() >= p256::kLanes) {
    // Groups of eight; the last group is padded with the public scalar 1.
    for (; done < k.size(); done += p256::kLanes) {
      Limbs256 group[p256::kLanes];
      Projective results[p256::kLanes];
      const size_t n = std::min<size_t>(p256::kLanes, k.size() - done);
      for (size_t l = 0; l < p256::kLanes; ++l) group[l] = l < n ? k[done + l] : Limbs256{1, 0, 0, 0};
      MultiplyProjectiveLanes(group, results);
      for (size_t l = 0; l < n; ++l) points[done + l] = results[l];
      SecureWipe(group, sizeof group);
      SecureWipe(results, sizeof results);
    }
    done = k.size();
  }
  if (ifma) {
    for (size_t i = done; i < k.size(); ++i) MultiplyProjectiveSplit(k[i], points[i]);  // fewer than 8
    done = k.size();
  }
  for (size_t i = done; i < k.size(); ++i) MultiplyOneLane(path, t, k[i], points[i]);
  for (size_t i = 0; i < k.size(); ++i) inv[i] = points[i].z;
  Status st = BatchInverse(P256FieldModulus(), inv, scratch);
  if (st.ok()) {
    for (size_t i = 0; i < k.size(); ++i) EncodeAffine(points[i], inv[i], out[i]);
  }
  SecureWipe(points.data(), points.size() * sizeof(Projective));
  SecureWipe(inv.data(), inv.size() * sizeof(Limbs256));
  SecureWipe(scratch.data(), scratch.size() * sizeof(Limbs256));
  return st;
}

}  // namespace mcx
