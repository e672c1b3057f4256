// Pkcs11Token: a token found by label, logged in once, with a pool of sessions.
//
// Open() finds the token by its label (slot ids move), opens the first session and logs in; in
// PKCS#11 a login holds for every session of the application while one of them is open, so this
// first session (the anchor) is never lent and the login lasts as long as the Pkcs11Token. Acquire() lends a session to one thread: a free
// one from the pool, or a new one; the lease gives it back. So N busy threads hold at most N
// sessions, and a thread never shares a session with another while it works. A second
// Pkcs11Token on a token the process is already logged in to shares that login and leaves it in
// place when destroyed; the one that logged in logs out, so it must be destroyed last.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/secret.h"
#include "base/status.h"
#include "hsm/pkcs11_module.h"
#include "hsm/pkcs11_session.h"

namespace mcx::hsm {

class Pkcs11Token {
 public:
  // `pin` may be null for a token used without login (random numbers only).
  static Result<std::unique_ptr<Pkcs11Token>> Open(std::shared_ptr<Pkcs11Module> module,
                                                   const std::string& label, const SecretBytes* pin);
  ~Pkcs11Token();

  class Lease {
   public:
    Lease(Pkcs11Token* token, Pkcs11Session session) : token_(token), session_(std::move(session)) {}
    Lease(Lease&& o) noexcept : token_(o.token_), session_(std::move(o.session_)) { o.session_.reset(); }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Pkcs11Session* operator->() { return &*session_; }
    Pkcs11Session& operator*() { return *session_; }
    // Closes the session instead of returning it, after an error that may have broken it.
    void Discard() { session_.reset(); }

   private:
    Pkcs11Token* token_;
    std::optional<Pkcs11Session> session_;
  };

  Result<Lease> Acquire();

  const std::string& label() const { return label_; }
  CK_SLOT_ID slot() const { return slot_; }
  const std::shared_ptr<Pkcs11Module>& module() const { return module_; }

 private:
  Pkcs11Token(std::shared_ptr<Pkcs11Module> module, CK_SLOT_ID slot, std::string label)
      : module_(std::move(module)), slot_(slot), label_(std::move(label)) {}
  void Return(Pkcs11Session session);

  std::shared_ptr<Pkcs11Module> module_;
  CK_SLOT_ID slot_;
  std::string label_;
  std::mutex mu_;
  std::optional<Pkcs11Session> anchor_;  // holds the login
  bool owns_login_ = false;               // this token logged in (not a shared login): it logs out
  std::vector<Pkcs11Session> free_;      // guarded by mu_
};

// Initialises the first token-less slot of `module` as a new token with this label, SO PIN and
// user PIN (C_InitToken, C_InitPIN). For test and demo tokens (SoftHSM2 offers such a slot);
// production tokens are created with the HSM vendor's tools.
Status InitializeToken(const std::shared_ptr<Pkcs11Module>& module, const std::string& label,
                       ByteView so_pin, ByteView user_pin);

}  // namespace mcx::hsm
