// 1024-bit Montgomery multiplication with BMI2 and ADX (mulx, adcx, adox), for x86-64 CPUs that
// have them (Intel since Broadwell, AMD since Zen): the one-lane field of the AVX2 path.
//
// Same contract as MontMul<16> (montgomery.h): a, b canonical mod m, r = a*b/2^1024 mod m
// canonical, r may alias; constant time (no branch or memory index depends on the values); the
// same R, so values move freely between this and the portable arithmetic. Call only when
// CpuHasAdx(). Two variants are kept so that bench/math_bench can compare them: an inline-assembly
// row (the one the field uses, the fastest measured) and the same rows written with the
// _mulx_u64 / _addcarryx_u64 intrinsics.
#pragma once

#include "engine/math/montgomery.h"

namespace mcx {

// True when this is x86-64 built by GCC or Clang and the CPU has BMI2 and ADX. Computed once.
bool CpuHasAdx();

void MontMulAdx(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b);
// r = a*a/2^1024 mod m: MontMulAdx(mod, r, a, a), byte for byte, with each cross product a_i a_j
// computed once and doubled (136 mulx for the product instead of 256; the same reduction). Same
// contract (a canonical, r may alias a, constant time); call only when CpuHasAdx().
void MontSqrAdx(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a);
// r = a - b mod m (SubMod's contract) with sbb/adc chains instead of 128-bit arithmetic. Plain
// x86-64 (no BMI2/ADX needed); used by the ADX fields, whose affine additions are 1/6 subtraction.
void SubModAdx(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b);
void MontMulAdxIntrinsics(const Modulus1024& mod, Limbs1024& r, const Limbs1024& a, const Limbs1024& b);

}  // namespace mcx
