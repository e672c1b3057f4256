#include "hsm/pkcs11_token.h"

#include <cstring>

#include "hsm/pkcs11_error.h"

namespace mcx::hsm {

Result<std::unique_ptr<Pkcs11Token>> Pkcs11Token::Open(std::shared_ptr<Pkcs11Module> module,
                                                       const std::string& label, const SecretBytes* pin) {
  Result<CK_SLOT_ID> slot = module->FindToken(label);
  if (!slot.ok()) return slot.status();
  std::unique_ptr<Pkcs11Token> token(new Pkcs11Token(module, *slot, label));
  // Read-write: `init` creates the KEK; a read-only session could not.
  Result<Pkcs11Session> first = Pkcs11Session::Open(module, *slot, label, /*read_write=*/true);
  if (!first.ok()) return first.status();
  if (pin != nullptr) {
    // Login is per process: a second Pkcs11Token on a token the process is logged in to shares that
    // login and must not end it (its C_Logout would log out the first one's sessions too).
    CK_SESSION_INFO info{};
    const bool already = module->fn()->C_GetSessionInfo(first->handle(), &info) == CKR_OK &&
                         (info.state == CKS_RW_USER_FUNCTIONS || info.state == CKS_RO_USER_FUNCTIONS);
    MCX_RETURN_IF_ERROR(first->Login(pin->view()));
    token->owns_login_ = !already;
  }
  token->anchor_.emplace(std::move(first).value());
  return token;
}

Pkcs11Token::~Pkcs11Token() {
  std::lock_guard<std::mutex> lock(mu_);
  free_.clear();
  if (anchor_.has_value() && owns_login_) module_->fn()->C_Logout(anchor_->handle());
  anchor_.reset();
}

Result<Pkcs11Token::Lease> Pkcs11Token::Acquire() {
  std::optional<Pkcs11Session> pooled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!free_.empty()) {
      pooled.emplace(std::move(free_.back()));
      free_.pop_back();
    }
  }
  if (pooled.has_value()) return Lease(this, std::move(*pooled));
  Result<Pkcs11Session> s = Pkcs11Session::Open(module_, slot_, label_, /*read_write=*/true);
  if (!s.ok()) return s.status();
  return Lease(this, std::move(s).value());
}

void Pkcs11Token::Return(Pkcs11Session session) {
  std::lock_guard<std::mutex> lock(mu_);
  free_.push_back(std::move(session));
}

Pkcs11Token::Lease::~Lease() {
  if (session_.has_value() && token_ != nullptr) token_->Return(std::move(*session_));
}

Status InitializeToken(const std::shared_ptr<Pkcs11Module>& module, const std::string& label,
                       ByteView so_pin, ByteView user_pin) {
  if (label.empty() || label.size() > 32) {
    return Status::InvalidArgument("a token label is 1 to 32 characters, got '" + label + "'");
  }
  Result<std::vector<SlotDescription>> slots = module->Slots();
  if (!slots.ok()) return slots.status();
  const SlotDescription* free_slot = nullptr;
  for (const SlotDescription& s : *slots) {
    if (s.token_present && !s.token_initialized) { free_slot = &s; break; }
  }
  if (free_slot == nullptr) {
    return Status::Unavailable("PKCS#11 module '" + module->path().string() +
                               "' has no slot with an uninitialised token; create the token with the HSM's tools");
  }
  CK_UTF8CHAR padded[32];
  std::memset(padded, ' ', sizeof padded);
  std::memcpy(padded, label.data(), label.size());
  CK_FUNCTION_LIST* fn = module->fn();
  const std::string op = "initialising token '" + label + "'";
  MCX_RETURN_IF_ERROR(Pkcs11Error(
      fn->C_InitToken(free_slot->id, const_cast<CK_UTF8CHAR*>(so_pin.data()), so_pin.size(), padded), op));
  // Some modules renumber the slot of a freshly initialised token; find it again by label.
  Result<CK_SLOT_ID> slot = module->FindToken(label);
  if (!slot.ok()) return slot.status().Annotate(op);
  Result<Pkcs11Session> so = Pkcs11Session::Open(module, *slot, label, /*read_write=*/true);
  if (!so.ok()) return so.status();
  MCX_RETURN_IF_ERROR(so->Login(so_pin, CKU_SO));
  CK_RV rv = fn->C_InitPIN(so->handle(), const_cast<CK_UTF8CHAR*>(user_pin.data()), user_pin.size());
  fn->C_Logout(so->handle());
  return Pkcs11Error(rv, "setting the user PIN of token '" + label + "'");
}

}  // namespace mcx::hsm
