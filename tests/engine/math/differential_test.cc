// 3,000 random identities under 3 random master secrets: the kernel the engine uses (the fastest
// for this CPU, in batches as bulk provisioning runs it) against the generic OpenSSL reference,
// byte for byte. The reference is slow (milliseconds per RSK), so it runs on every core. (It was
// 10,000 under 10 secrets, a minute of the CI run's two cores; each path's 1,000 against the same
// reference (FastSakkeTest) and every field's 15,000 against the portable one
// (PathsAgreeOnTenThousandScalars) cover the rest.)
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/cpu_count.h"
#include "base/pooled_random.h"
#include "engine/keys/master_secrets.h"
#include "engine/math/sakke_kernel.h"

namespace mcx {
namespace {

TEST(DifferentialTest, ThreeThousandRandomRsksMatchTheGenericKernel) {
  constexpr int kSecrets = 3, kPerSecret = 1000;
  auto fast = NewBestSakkeKernel();
  auto generic = NewGenericSakkeKernel();
  OpenSslRandom rng;
  for (int s = 0; s < kSecrets; ++s) {
    Result<SecretBytes> z = DrawScalar(rng, SakkeOrder(), sakke::kScalarBytes, 2);
    ASSERT_TRUE(z.ok());
    // Identities of the UID's length mostly, and of other lengths (up to 128 octets) too.
    std::vector<Bytes> ids(kPerSecret);
    for (int i = 0; i < kPerSecret; ++i) {
      ids[static_cast<size_t>(i)].resize(i % 7 == 0 ? 1 + static_cast<size_t>(i % 128) : 32);
      ASSERT_TRUE(rng.Fill(ids[static_cast<size_t>(i)]).ok());
    }
    std::vector<ByteView> views(ids.begin(), ids.end());
    std::vector<SakkePoint> got(ids.size());
    ASSERT_TRUE(fast->ReceiverSecretKeys(views, *z, got).ok());

    std::vector<SakkePoint> want(ids.size());
    std::vector<std::thread> workers;
    const unsigned n = static_cast<unsigned>(CoreCount());
    std::vector<Status> status(n);
    for (unsigned t = 0; t < n; ++t) {
      workers.emplace_back([&, t] {
        for (size_t i = t; i < ids.size() && status[t].ok(); i += n) {
          status[t] = generic->ReceiverSecretKey(ids[i], *z, want[i]);
        }
      });
    }
    for (auto& w : workers) w.join();
    for (const Status& st : status) ASSERT_TRUE(st.ok()) << st.ToString();
    for (size_t i = 0; i < ids.size(); ++i) {
      ASSERT_EQ(ToHex(got[i]), ToHex(want[i])) << "secret #" << s << ", identity #" << i;
    }
  }
}

}  // namespace
}  // namespace mcx
