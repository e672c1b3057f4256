#include "hsm/pkcs11_module.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <system_error>

#include "hsm/pkcs11_error.h"

namespace mcx::hsm {
namespace {

// Live modules by canonical path: PKCS#11 allows one C_Initialize per library and process.
std::mutex g_registry_mu;
std::map<std::filesystem::path, std::weak_ptr<Pkcs11Module>>& Registry() {
  static auto* registry = new std::map<std::filesystem::path, std::weak_ptr<Pkcs11Module>>;
  return *registry;
}

std::string Quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

}  // namespace

std::string TrimPadded(const unsigned char* field, size_t width) {
  size_t n = width;
  while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\0')) --n;
  return std::string(reinterpret_cast<const char*>(field), n);
}

Result<std::shared_ptr<Pkcs11Module>> Pkcs11Module::Load(const std::filesystem::path& path,
                                                         const ModuleEnvironment& environment) {
  std::error_code ec;
  if (path.empty()) {
    return Status::InvalidArgument("no PKCS#11 module given: pass --module PATH (for SoftHSM2: "
                                   "/usr/lib/softhsm/libsofthsm2.so)");
  }
  if (!std::filesystem::exists(path, ec)) {
    return Status::NotFound("the PKCS#11 module " + Quoted(path) +
                            " does not exist: install the HSM vendor's client library or fix --module "
                            "(for SoftHSM2: /usr/lib/softhsm/libsofthsm2.so)");
  }
  std::filesystem::path canonical = std::filesystem::canonical(path, ec);
  if (ec) canonical = path;

  std::lock_guard<std::mutex> lock(g_registry_mu);
  if (std::shared_ptr<Pkcs11Module> live = Registry()[canonical].lock()) {
    if (live->environment_ != environment) {
      return Status::InvalidArgument("the PKCS#11 module " + Quoted(path) +
                                     " is already loaded in this process with another environment "
                                     "(e.g. SOFTHSM2_CONF); use one KMS per process");
    }
    return live;
  }

  for (const auto& [name, value] : environment) setenv(name.c_str(), value.c_str(), 1);
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return Status::InvalidArgument("the PKCS#11 module " + Quoted(path) +
                                   " could not be loaded as a shared library (" + (why ? why : "unknown") +
                                   "): point --module at the vendor's PKCS#11 .so file");
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  if (get_list == nullptr) {
    dlclose(handle);
    return Status::InvalidArgument("the file " + Quoted(path) +
                                   " is a shared library but not a PKCS#11 module (it has no "
                                   "C_GetFunctionList): point --module at the vendor's PKCS#11 library");
  }
  CK_FUNCTION_LIST* fn = nullptr;
  CK_RV rv = get_list(&fn);
  if (rv != CKR_OK || fn == nullptr) {
    dlclose(handle);
    if (rv == CKR_OK) rv = CKR_GENERAL_ERROR;
    return Pkcs11Error(rv, "getting the function list of PKCS#11 module " + Quoted(path));
  }
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  rv = fn->C_Initialize(&args);
  if (rv != CKR_OK) {
    dlclose(handle);
    return Pkcs11Error(rv, "initialising PKCS#11 module " + Quoted(path));
  }
  std::shared_ptr<Pkcs11Module> module(new Pkcs11Module(path, handle, fn, environment));
  Registry()[canonical] = module;
  return module;
}

Pkcs11Module::~Pkcs11Module() {
  // Under the registry lock so a concurrent Load() of the same path waits for C_Finalize.
  std::lock_guard<std::mutex> lock(g_registry_mu);
  fn_->C_Finalize(nullptr);
  dlclose(handle_);
}

Result<ModuleDescription> Pkcs11Module::Describe() const {
  CK_INFO info{};
  MCX_RETURN_IF_ERROR(Pkcs11Error(fn_->C_GetInfo(&info), "reading the module information of " + Quoted(path_)));
  ModuleDescription d;
  d.manufacturer = TrimPadded(info.manufacturerID, sizeof info.manufacturerID);
  d.library = TrimPadded(info.libraryDescription, sizeof info.libraryDescription);
  d.cryptoki_major = info.cryptokiVersion.major;
  d.cryptoki_minor = info.cryptokiVersion.minor;
  return d;
}

Result<std::vector<SlotDescription>> Pkcs11Module::Slots() const {
  CK_ULONG count = 0;
  const std::string op = "listing the slots of PKCS#11 module " + Quoted(path_);
  MCX_RETURN_IF_ERROR(Pkcs11Error(fn_->C_GetSlotList(CK_FALSE, nullptr, &count), op));
  std::vector<CK_SLOT_ID> ids(count);
  CK_RV rv = fn_->C_GetSlotList(CK_FALSE, ids.data(), &count);
  MCX_RETURN_IF_ERROR(Pkcs11Error(rv, op));
  ids.resize(count);
  std::vector<SlotDescription> slots;
  for (CK_SLOT_ID id : ids) {
    CK_SLOT_INFO si{};
    if (fn_->C_GetSlotInfo(id, &si) != CKR_OK) continue;  // a slot that vanished meanwhile
    SlotDescription s;
    s.id = id;
    s.description = TrimPadded(si.slotDescription, sizeof si.slotDescription);
    s.token_present = (si.flags & CKF_TOKEN_PRESENT) != 0;
    CK_TOKEN_INFO ti{};
    if (s.token_present && fn_->C_GetTokenInfo(id, &ti) == CKR_OK) {
      s.token_initialized = (ti.flags & CKF_TOKEN_INITIALIZED) != 0;
      s.token_label = TrimPadded(ti.label, sizeof ti.label);
      s.token_model = TrimPadded(ti.model, sizeof ti.model);
      s.token_serial = TrimPadded(ti.serialNumber, sizeof ti.serialNumber);
    }
    slots.push_back(std::move(s));
  }
  return slots;
}

Result<CK_SLOT_ID> Pkcs11Module::FindToken(const std::string& label) const {
  Result<std::vector<SlotDescription>> slots = Slots();
  if (!slots.ok()) return slots.status();
  std::string labels;
  std::vector<CK_SLOT_ID> matches;
  for (const SlotDescription& s : *slots) {
    if (!s.token_initialized) continue;
    if (s.token_label == label) matches.push_back(s.id);
    labels += (labels.empty() ? "'" : ", '") + s.token_label + "'";
  }
  if (matches.size() == 1) return matches[0];
  if (matches.size() > 1) {
    return Status::InvalidArgument("PKCS#11 module " + Quoted(path_) + " has " + std::to_string(matches.size()) +
                                   " tokens labelled '" + label + "': relabel all but one");
  }
  return Status::NotFound("no token labelled '" + label + "' in PKCS#11 module " + Quoted(path_) +
                          (labels.empty() ? std::string(": it has no initialised token; create one with the HSM's tools")
                                          : ": the tokens there are " + labels + "; fix --token-label"));
}

Result<std::vector<CK_MECHANISM_TYPE>> Pkcs11Module::Mechanisms(CK_SLOT_ID slot) const {
  const std::string op = "listing the mechanisms of slot " + std::to_string(slot);
  CK_ULONG count = 0;
  MCX_RETURN_IF_ERROR(Pkcs11Error(fn_->C_GetMechanismList(slot, nullptr, &count), op));
  std::vector<CK_MECHANISM_TYPE> mechs(count);
  MCX_RETURN_IF_ERROR(Pkcs11Error(fn_->C_GetMechanismList(slot, mechs.data(), &count), op));
  mechs.resize(count);
  return mechs;
}

std::string MechanismName(CK_MECHANISM_TYPE m) {
  struct Named { CK_MECHANISM_TYPE m; const char* name; };
  static constexpr Named kNames[] = {
      {CKM_RSA_PKCS_KEY_PAIR_GEN, "CKM_RSA_PKCS_KEY_PAIR_GEN"}, {CKM_RSA_PKCS, "CKM_RSA_PKCS"},
      {CKM_RSA_PKCS_OAEP, "CKM_RSA_PKCS_OAEP"}, {CKM_RSA_PKCS_PSS, "CKM_RSA_PKCS_PSS"},
      {CKM_SHA256_RSA_PKCS, "CKM_SHA256_RSA_PKCS"}, {CKM_SHA_1, "CKM_SHA_1"}, {CKM_SHA256, "CKM_SHA256"},
      {CKM_SHA384, "CKM_SHA384"}, {CKM_SHA512, "CKM_SHA512"}, {CKM_SHA256_HMAC, "CKM_SHA256_HMAC"},
      {CKM_GENERIC_SECRET_KEY_GEN, "CKM_GENERIC_SECRET_KEY_GEN"}, {CKM_EC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN"},
      {CKM_ECDSA, "CKM_ECDSA"}, {CKM_ECDH1_DERIVE, "CKM_ECDH1_DERIVE"}, {CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN"},
      {CKM_AES_ECB, "CKM_AES_ECB"}, {CKM_AES_CBC, "CKM_AES_CBC"}, {CKM_AES_CBC_PAD, "CKM_AES_CBC_PAD"},
      {CKM_AES_CTR, "CKM_AES_CTR"}, {CKM_AES_GCM, "CKM_AES_GCM"}, {CKM_AES_CMAC, "CKM_AES_CMAC"},
      {CKM_AES_KEY_WRAP, "CKM_AES_KEY_WRAP"}, {CKM_AES_KEY_WRAP_PAD, "CKM_AES_KEY_WRAP_PAD"},
      {CKM_DES3_KEY_GEN, "CKM_DES3_KEY_GEN"}, {CKM_DES3_CBC, "CKM_DES3_CBC"},
      {CKM_RSA_X_509, "CKM_RSA_X_509"},
      {CKM_MD5_RSA_PKCS, "CKM_MD5_RSA_PKCS"},
      {CKM_SHA1_RSA_PKCS, "CKM_SHA1_RSA_PKCS"},
      {CKM_SHA1_RSA_PKCS_PSS, "CKM_SHA1_RSA_PKCS_PSS"},
      {CKM_SHA224_RSA_PKCS, "CKM_SHA224_RSA_PKCS"},
      {CKM_SHA384_RSA_PKCS, "CKM_SHA384_RSA_PKCS"},
      {CKM_SHA512_RSA_PKCS, "CKM_SHA512_RSA_PKCS"},
      {CKM_SHA224_RSA_PKCS_PSS, "CKM_SHA224_RSA_PKCS_PSS"},
      {CKM_SHA256_RSA_PKCS_PSS, "CKM_SHA256_RSA_PKCS_PSS"},
      {CKM_SHA384_RSA_PKCS_PSS, "CKM_SHA384_RSA_PKCS_PSS"},
      {CKM_SHA512_RSA_PKCS_PSS, "CKM_SHA512_RSA_PKCS_PSS"},
      {CKM_DES_KEY_GEN, "CKM_DES_KEY_GEN"},
      {CKM_DES_ECB, "CKM_DES_ECB"},
      {CKM_DES_CBC, "CKM_DES_CBC"},
      {CKM_DES_CBC_PAD, "CKM_DES_CBC_PAD"},
      {CKM_DES3_ECB, "CKM_DES3_ECB"},
      {CKM_DES3_CBC_PAD, "CKM_DES3_CBC_PAD"},
      {CKM_DES3_CMAC, "CKM_DES3_CMAC"},
      {CKM_DES_ECB_ENCRYPT_DATA, "CKM_DES_ECB_ENCRYPT_DATA"},
      {CKM_DES_CBC_ENCRYPT_DATA, "CKM_DES_CBC_ENCRYPT_DATA"},
      {CKM_DES3_ECB_ENCRYPT_DATA, "CKM_DES3_ECB_ENCRYPT_DATA"},
      {CKM_DES3_CBC_ENCRYPT_DATA, "CKM_DES3_CBC_ENCRYPT_DATA"},
      {CKM_AES_ECB_ENCRYPT_DATA, "CKM_AES_ECB_ENCRYPT_DATA"},
      {CKM_AES_CBC_ENCRYPT_DATA, "CKM_AES_CBC_ENCRYPT_DATA"},
      {CKM_MD5, "CKM_MD5"},
      {CKM_MD5_HMAC, "CKM_MD5_HMAC"},
      {CKM_SHA_1_HMAC, "CKM_SHA_1_HMAC"},
      {CKM_SHA224, "CKM_SHA224"},
      {CKM_SHA224_HMAC, "CKM_SHA224_HMAC"},
      {CKM_SHA384_HMAC, "CKM_SHA384_HMAC"},
      {CKM_SHA512_HMAC, "CKM_SHA512_HMAC"},
      {CKM_DH_PKCS_KEY_PAIR_GEN, "CKM_DH_PKCS_KEY_PAIR_GEN"},
      {CKM_DH_PKCS_DERIVE, "CKM_DH_PKCS_DERIVE"},
      {CKM_DH_PKCS_PARAMETER_GEN, "CKM_DH_PKCS_PARAMETER_GEN"},
      {CKM_DSA_KEY_PAIR_GEN, "CKM_DSA_KEY_PAIR_GEN"},
      {CKM_DSA_SHA1, "CKM_DSA_SHA1"},
      {CKM_DSA_SHA224, "CKM_DSA_SHA224"},
      {CKM_DSA_SHA256, "CKM_DSA_SHA256"},
      {CKM_DSA_SHA384, "CKM_DSA_SHA384"},
      {CKM_DSA_SHA512, "CKM_DSA_SHA512"},
      {CKM_DSA_PARAMETER_GEN, "CKM_DSA_PARAMETER_GEN"},
      {CKM_ECDSA_SHA1, "CKM_ECDSA_SHA1"},
      {CKM_ECDSA_SHA224, "CKM_ECDSA_SHA224"},
      {CKM_ECDSA_SHA256, "CKM_ECDSA_SHA256"},
      {CKM_ECDSA_SHA384, "CKM_ECDSA_SHA384"},
      {CKM_ECDSA_SHA512, "CKM_ECDSA_SHA512"},
      {CKM_CONCATENATE_DATA_AND_BASE, "CKM_CONCATENATE_DATA_AND_BASE"},
      {CKM_RSA_AES_KEY_WRAP, "CKM_RSA_AES_KEY_WRAP"},
      {CKM_EC_EDWARDS_KEY_PAIR_GEN, "CKM_EC_EDWARDS_KEY_PAIR_GEN"},
      {CKM_EDDSA, "CKM_EDDSA"},
      {CKM_SHA256_HMAC_GENERAL, "CKM_SHA256_HMAC_GENERAL"},
  };
  for (const Named& n : kNames) {
    if (n.m == m) return n.name;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "CKM_0x%08lX", static_cast<unsigned long>(m));
  return buf;
}

}  // namespace mcx::hsm
