#include <gtest/gtest.h>

#include <sys/resource.h>

#include <fstream>
#include <map>

#include "engine/bulk/identity_reader.h"
#include "tests/support/temp_dir.h"

namespace mcx {
namespace {

class IdentityReaderTest : public ::testing::Test {
 protected:
  std::filesystem::path Write(const std::string& name, const std::string& content) {
    std::filesystem::path p = dir_.path() / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  // Reads every identity; bad lines land in `bad_`.
  std::vector<Identity> ReadAll(const std::filesystem::path& p, IdentityReaderOptions opt = {}) {
    Result<std::unique_ptr<IdentityReader>> r =
        IdentityReader::Open(p, opt, [this](uint64_t line, const std::string& why) { bad_[line] = why; });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<Identity> out;
    if (!r.ok()) return out;
    while (true) {
      Result<std::optional<Identity>> id = (*r)->Next();
      EXPECT_TRUE(id.ok());
      if (!id.ok() || !id->has_value()) break;
      out.push_back(**id);
    }
    return out;
  }
  testing::TempDir dir_;
  std::map<uint64_t, std::string> bad_;
};

TEST_F(IdentityReaderTest, PlainListWithCommentsAndBlankLines) {
  auto ids = ReadAll(Write("users.txt", "# responders\nsip:a@example.org\n\n  sip:b@example.org  \r\n#x\ntel:+4477\n"));
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0].uri, "sip:a@example.org");
  EXPECT_EQ(ids[1].uri, "sip:b@example.org");
  EXPECT_EQ(ids[1].line, 4u);
  EXPECT_EQ(ids[2].uri, "tel:+4477");
  EXPECT_TRUE(bad_.empty());
}

TEST_F(IdentityReaderTest, BadLinesAreReportedWithTheirNumbersAndSkipped) {
  std::string longline = "sip:" + std::string(5000, 'x') + "@example.org";
  auto ids = ReadAll(Write("users.txt", "sip:a@example.org\nnot a uri\nsip:a@example.org\n" + longline +
                                            "\nsip:b@example.org\nalice\n"));
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[1].uri, "sip:b@example.org");
  ASSERT_EQ(bad_.size(), 4u);
  EXPECT_NE(bad_[2].find("blank or control character"), std::string::npos) << bad_[2];
  EXPECT_EQ(bad_[3], "duplicate of line 1");
  EXPECT_NE(bad_[4].find("longer than 4096"), std::string::npos);
  EXPECT_NE(bad_[6].find("not a URI"), std::string::npos);
}

TEST_F(IdentityReaderTest, CsvWithHeaderPicksTheUriColumn) {
  auto ids = ReadAll(Write("pop.csv", "name,mcptt_id,team\n\"Doe, Jane\",sip:jane@example.org,red\n"
                                          "Bob,sip:bob@example.org,blue\nshort\n"));
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0].uri, "sip:jane@example.org");
  EXPECT_EQ(ids[0].line, 2u);
  ASSERT_EQ(bad_.size(), 1u);
  EXPECT_NE(bad_[4].find("no URI column"), std::string::npos);

  IdentityReaderOptions opt;
  opt.uri_column = "Team";
  bad_.clear();
  auto teams = ReadAll(Write("teams.csv", "uri,team\nsip:x@example.org,sip:red@example.org\n"), opt);
  ASSERT_EQ(teams.size(), 1u);
  EXPECT_EQ(teams[0].uri, "sip:red@example.org");
}

TEST_F(IdentityReaderTest, CsvWithoutAKnownColumnIsAClearError) {
  Result<std::unique_ptr<IdentityReader>> r =
      IdentityReader::Open(Write("pop.csv", "name,phone\nBob,123\n"), {}, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--uri-column"), std::string::npos);
}

TEST_F(IdentityReaderTest, EmptyAndMissingFiles) {
  EXPECT_TRUE(ReadAll(Write("empty.txt", "")).empty());
  EXPECT_TRUE(ReadAll(Write("comments.txt", "# nothing\n\n")).empty());
  Result<std::unique_ptr<IdentityReader>> r = IdentityReader::Open(dir_.path() / "missing.txt", {}, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
}

long PeakRssKiB() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

TEST_F(IdentityReaderTest, TwoHundredThousandLinesStreamInBoundedMemory) {
  std::filesystem::path p = dir_.path() / "big.txt";
  {
    std::ofstream out(p);
    // Long identities (~170 octets) so that holding the lines would show far above the index.
    const std::string domain = "@" + std::string(150, 'p') + ".example.org";
    for (int i = 0; i < 200000; ++i) out << "sip:responder" << i << domain << "\n";
  }
  const auto file_kib = static_cast<long>(std::filesystem::file_size(p) / 1024);
  const long before = PeakRssKiB();
  Result<std::unique_ptr<IdentityReader>> r = IdentityReader::Open(p, {}, nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->total_lines(), 200000u);
  uint64_t n = 0;
  while (true) {
    Result<std::optional<Identity>> id = (*r)->Next();
    ASSERT_TRUE(id.ok());
    if (!id->has_value()) break;
    ++n;
  }
  EXPECT_EQ(n, 200000u);
  const long grown = PeakRssKiB() - before;
  // Only the duplicate index grows (about 48 octets an identity in an unordered_map, whatever the
  // line length); the lines themselves are never all held. The file is ~34 MiB.
  RecordProperty("peak_rss_growth_kib", static_cast<int>(grown));
  EXPECT_GT(file_kib, 30 * 1024);
  EXPECT_LT(grown, 16 * 1024) << "peak RSS grew " << grown << " KiB reading a " << file_kib << " KiB file";
}

}  // namespace
}  // namespace mcx
