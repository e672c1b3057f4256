// BlindedInverse leaves nothing of its secret inputs in memory GMP hands back to the allocator:
// every limb buffer is wiped before it is freed, and none is reallocated (a realloc frees the old
// copy unwiped). Checked by GMP's own allocation hooks, which this test points at checking
// versions for its duration. (GMP's stack temporaries are overwritten by WipeStackBelow in
// inverse.cc; the stack is not checked here.)
#include <gmp.h>

#include <cstring>

#include <gtest/gtest.h>

#include "base/pooled_random.h"
#include "engine/math/inverse.h"

namespace mcx {
namespace {

void* (*g_allocate)(size_t);
void* (*g_reallocate)(void*, size_t, size_t);
void (*g_free)(void*, size_t);
int g_unwiped = 0;   // buffers freed or reallocated with content in them
int g_reallocs = 0;

bool AllZero(const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

void* CheckingReallocate(void* p, size_t old_size, size_t new_size) {
  ++g_reallocs;
  if (!AllZero(p, old_size)) ++g_unwiped;
  return g_reallocate(p, old_size, new_size);
}

void CheckingFree(void* p, size_t size) {
  if (!AllZero(p, size)) ++g_unwiped;
  g_free(p, size);
}

template <size_t N>
void InvertManyUnderCheckingHooks(const Modulus<N>& mod) {
  OpenSslRandom rng;
  std::vector<Limbs<N>> xs;
  for (int i = 0; i < 64; ++i) {
    Limbs<N> x{};
    ASSERT_TRUE(rng.Fill({reinterpret_cast<uint8_t*>(x.data()), sizeof x}).ok());
    x[N - 1] &= mod.m[N - 1] >> 1;  // below m
    x[0] |= 1;                      // nonzero
    xs.push_back(x);
  }
  Limbs<N> one{};
  one[0] = 1;
  Limbs<N> one_over_r;
  MontMul(mod, one_over_r, one, one);

  g_unwiped = g_reallocs = 0;
  mp_get_memory_functions(&g_allocate, &g_reallocate, &g_free);
  mp_set_memory_functions(g_allocate, CheckingReallocate, CheckingFree);
  std::vector<Limbs<N>> inverses(xs.size());
  std::vector<Status> results;
  for (size_t i = 0; i < xs.size(); ++i) results.push_back(BlindedInverse(mod, xs[i], inverses[i]));
  mp_set_memory_functions(g_allocate, g_reallocate, g_free);

  for (size_t i = 0; i < xs.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].ToString();
    Limbs<N> product;
    MontMul(mod, product, xs[i], inverses[i]);  // x * (1/x) / R
    EXPECT_EQ(product, one_over_r) << i;
  }
  EXPECT_EQ(g_unwiped, 0) << "GMP freed or reallocated limb buffers with content in them";
  EXPECT_EQ(g_reallocs, 0);
}

TEST(InverseWipeTest, GmpBuffersAreWipedBeforeTheyAreFreedSakkeField) {
  InvertManyUnderCheckingHooks(SakkeFieldModulus());
}

TEST(InverseWipeTest, GmpBuffersAreWipedBeforeTheyAreFreedP256Field) {
  InvertManyUnderCheckingHooks(P256FieldModulus());
}

}  // namespace
}  // namespace mcx
