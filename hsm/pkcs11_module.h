// Pkcs11Module: one PKCS#11 library, loaded and initialised for this process.
//
// Load() dlopens the library by path, takes its function list (C_GetFunctionList) and calls
// C_Initialize with CKF_OS_LOCKING_OK, since the KMS calls it from many threads; the destructor
// calls C_Finalize and unloads it. PKCS#11 allows one C_Initialize per library per process, so
// Load() returns the instance already alive for the same path; `environment` (e.g. SoftHSM2's
// SOFTHSM2_CONF) is set before C_Initialize, and asking for a live module with different
// environment fails. Slot ids are not stable across restarts, so tokens are found by label.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "hsm/pkcs11.h"

namespace mcx::hsm {

struct SlotDescription {
  CK_SLOT_ID id = 0;
  std::string description;      // trimmed CK_SLOT_INFO.slotDescription
  bool token_present = false;
  bool token_initialized = false;
  std::string token_label;      // trimmed, empty without a token
  std::string token_model;
  std::string token_serial;
};

struct ModuleDescription {
  std::string manufacturer;
  std::string library;
  int cryptoki_major = 0, cryptoki_minor = 0;
};

using ModuleEnvironment = std::vector<std::pair<std::string, std::string>>;

class Pkcs11Module {
 public:
  static Result<std::shared_ptr<Pkcs11Module>> Load(const std::filesystem::path& path,
                                                    const ModuleEnvironment& environment = {});
  ~Pkcs11Module();
  Pkcs11Module(const Pkcs11Module&) = delete;
  Pkcs11Module& operator=(const Pkcs11Module&) = delete;

  CK_FUNCTION_LIST* fn() const { return fn_; }
  const std::filesystem::path& path() const { return path_; }

  Result<ModuleDescription> Describe() const;
  Result<std::vector<SlotDescription>> Slots() const;
  // The slot whose token has this label. NotFound lists the labels that are there.
  Result<CK_SLOT_ID> FindToken(const std::string& label) const;
  Result<std::vector<CK_MECHANISM_TYPE>> Mechanisms(CK_SLOT_ID slot) const;

 private:
  Pkcs11Module(std::filesystem::path path, void* handle, CK_FUNCTION_LIST* fn, ModuleEnvironment env)
      : path_(std::move(path)), handle_(handle), fn_(fn), environment_(std::move(env)) {}
  std::filesystem::path path_;
  void* handle_;
  CK_FUNCTION_LIST* fn_;
  ModuleEnvironment environment_;
};

// A fixed-width, blank-padded PKCS#11 text field without its padding.
std::string TrimPadded(const unsigned char* field, size_t width);

// "CKM_AES_GCM", or "CKM_0x..." for a mechanism we do not name.
std::string MechanismName(CK_MECHANISM_TYPE m);

}  // namespace mcx::hsm
