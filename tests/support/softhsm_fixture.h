// Test fixture over a real SoftHSM2: each test process gets a fresh token directory in a
// temporary directory (SOFTHSM2_CONF points at it) and a fresh token, so tests never share HSM
// state and never touch the system's tokens.
#pragma once

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "engine/custody/kms_config.h"
#include "engine/custody/kms_init.h"

namespace mcx::testing {

inline constexpr char kModule[] = "/usr/lib/softhsm/libsofthsm2.so";
inline constexpr char kTokenLabel[] = "mcx-test";
inline constexpr char kUserPin[] = "user-pin-4321";
inline constexpr char kSoPin[] = "so-pin-8765";
inline constexpr char kPinVariable[] = "MCX_TEST_PIN";

class SoftHsmTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Creates another token with this label and user PIN.
  void CreateToken(const std::string& label, const std::string& user_pin);
  // Options for a KMS on the test token in <tmp>/<name>, PIN from $MCX_TEST_PIN.
  InitOptions KmsOptions(const std::string& name, const std::string& kms_uri = "kms.example.org") const;
  // InitKms(KmsOptions(name)) and LoadKmsConfig, asserting success.
  KmsConfig MakeKms(const std::string& name, const std::string& kms_uri = "kms.example.org");

  const std::filesystem::path& tmp() const { return tmp_; }

 private:
  std::filesystem::path tmp_;
};

// SHA-256 over every path, permission set and content under `dir`, in order; "absent" if none.
std::string HashTree(const std::filesystem::path& dir);

// Runs `command` through the shell; returns its exit status and puts stdout+stderr in `output`.
int RunCommand(const std::string& command, std::string& output);

}  // namespace mcx::testing
