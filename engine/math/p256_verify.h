// ECDSA verification on NIST P-256 (FIPS 186-4 6.4.2, SEC1 4.1.4) for ES256 access tokens
// (RFC 7518 3.4): the IdMS's key Q, a 32-octet digest (SHA-256 of the JWS signing input) and the
// raw signature r || s (32 + 32 octets, big-endian).
//
// Contract: every input is public (a public key, a digest and a signature anyone may present), so
// verification is variable time: it skips zero digits, indexes tables directly, inverts s with
// GMP's gcd and returns as soon as the answer is known. Nothing secret may pass through here.
//
// A key is built once per trusted key: FromAffine() refuses a point with a coordinate >= p, off the
// curve, or at infinity (P-256's cofactor is 1, so any other point has the prime order n), then
// precomputes the comb table of Q (p256_comb.h: 37 windows x 64 affine multiples, 148 KiB, a few
// milliseconds). Verify() then computes R = [u1]G + [u2]Q as up to 74 Jacobian mixed additions of
// table entries (G's table is the one p256_fixed_base.h uses) without any doubling (but where the
// sum meets the entry itself, or its negative), and accepts iff R is not infinity and
// x(R) mod n == r, compared as X == r Z^2 or (r + n) Z^2 (no field inversion).
// r and s must lie in [1, n-1]; high-S signatures are accepted (JWS does not forbid them).
// Immutable after construction: Verify() is safe from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "base/bytes.h"
#include "base/status.h"
#include "engine/math/lane_field.h"

namespace mcx {

namespace p256 {
struct CombTable;
}

class P256VerifyingKey {
 public:
  // x and y big-endian, 32 octets each. InvalidArgument for a point that is not a valid public key.
  static Result<std::shared_ptr<const P256VerifyingKey>> FromAffine(std::span<const uint8_t, 32> x,
                                                                  std::span<const uint8_t, 32> y);
  // From the uncompressed encoding 04 || x || y (65 octets); anything else is InvalidArgument.
  static Result<std::shared_ptr<const P256VerifyingKey>> FromPoint(ByteView encoded);

  // True iff signature (r || s) is a valid ECDSA signature of digest under this key.
  // The field multiplication is BestMathPath()'s: mulx/adcx/adox (p256::FeMulAdx) on the avx2 and
  // ifma paths (IFMA's lanes do not pay for one verification), else the portable FeMul.
  bool Verify(std::span<const uint8_t, 32> digest, std::span<const uint8_t, 64> signature) const;
  // The same on a given path (tests compare the paths; a path the CPU lacks falls back to portable).
  bool VerifyOn(MathPath path, std::span<const uint8_t, 32> digest, std::span<const uint8_t, 64> signature) const;

  ~P256VerifyingKey();
  P256VerifyingKey(const P256VerifyingKey&) = delete;
  P256VerifyingKey& operator=(const P256VerifyingKey&) = delete;

 private:
  explicit P256VerifyingKey(std::unique_ptr<p256::CombTable> table);
  std::unique_ptr<p256::CombTable> table_;  // multiples of Q
};

}  // namespace mcx
