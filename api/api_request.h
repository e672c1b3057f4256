// The exchange between the HTTP layer and the request handler, free of any socket type.
//
// HttpSession reads a request, fills an ApiRequest and hands it to a RequestHandler with a
// Reply; the handler calls the Reply exactly once, on any thread (the session resumes on its own
// strand). For requests the server refuses before they are read whole (too large, malformed,
// too many connections), the session asks the handler for the Refusal body instead.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/wiping_allocator.h"

namespace mcx::api {

struct ApiRequest {
  std::string method;          // "GET", "POST", ...
  std::string target;          // as received, e.g. /keymanagement/identity/v1/keyprov/sip:a@b.org
  std::string authorization;   // the Authorization header, or empty
  std::string host;            // the Host header, or empty
  std::string forwarded_proto; // X-Forwarded-Proto from the proxy, or empty
  std::string asserted_identity;  // X-3GPP-Asserted-Identity, or empty (trusted only from a trusted proxy)
  std::string peer_address;       // the connecting client's IP address, e.g. "127.0.0.1"
  std::string body;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/xml";
  // May carry key material (KmsKeyProv): its buffer is wiped whenever it is released, here and
  // in the HTTP response it is moved into.
  SecretString body;
  std::vector<std::pair<std::string, std::string>> headers;  // WWW-Authenticate, Allow, ...
};

using Reply = std::function<void(ApiResponse)>;
// Runs a task on a worker thread (never an I/O thread).
using WorkerExecutor = std::function<void(std::function<void()>)>;

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Called on the connection's strand; `reply` may be called later from another thread.
  virtual void Handle(ApiRequest request, Reply reply) = 0;
  // The response for a request refused by the HTTP layer (`status` 400, 413, 431 or 503);
  // `target` is the request target when its header was read, else empty.
  virtual ApiResponse Refusal(int status, std::string_view message, std::string_view target) = 0;
};

}  // namespace mcx::api
