// The two curves of MIKEY-SAKKE as OpenSSL groups, for the generic arithmetic and the client
// checks: SAKKE parameter set 1 (RFC 6509) and NIST P-256 (ECCSI, RFC 6507).
//
// The groups are built once and shared read-only between threads.
#pragma once

#include <array>
#include <cstdint>

#include <openssl/ec.h>

#include "base/bytes.h"
#include "base/status.h"
#include "base/openssl_handles.h"
#include "engine/math/sakke_params.h"

namespace mcx {

using SakkePoint = std::array<uint8_t, sakke::kPointBytes>;  // 04 || x || y
inline constexpr size_t kP256PointBytes = 65;
inline constexpr size_t kP256ScalarBytes = 32;
using P256Point = std::array<uint8_t, kP256PointBytes>;     // 04 || x || y

const EC_GROUP* SakkeGroup();
const EC_GROUP* P256Group();
const BIGNUM* SakkeOrder();  // q
const BIGNUM* P256Order();   // n of P-256 (called q in RFC 6507)

// Decodes an uncompressed point and checks that it lies on the curve and is not infinity.
// `what` names the value in the error ("PVT", "RSK", ...).
Result<ossl::Point> DecodePoint(const EC_GROUP* group, ByteView encoded, const char* what);
// out = [k]G, encoded, with OpenSSL's generator multiplication (constant-time: its ladder for
// SAKKE, nistz256's fixed-base code for P-256). k is secret, big-endian.
Status MultiplyGeneratorWithOpenSsl(const EC_GROUP* group, ByteView k, std::span<uint8_t> out);
// Encodes a point as 04 || x || y at the curve's fixed length; fails for the point at infinity.
Status EncodePoint(const EC_GROUP* group, const EC_POINT* point, std::span<uint8_t> out);

}  // namespace mcx
