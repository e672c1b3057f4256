// HttpTestClient: a real HTTP/1.1 client (Boost.Beast, blocking) for the api tests, over loopback.
// It keeps one connection open across requests (keep-alive) and reconnects when the server
// closed it. SendRaw() writes arbitrary bytes, for requests no well-behaved client would send.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mcx::api::testing {

struct HttpResult {
  int status = 0;                              // 0: no response (connection closed, error)
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  bool keep_alive = false;
  std::string error;  // why there is no response
};

class HttpTestClient {
 public:
  explicit HttpTestClient(uint16_t port);
  ~HttpTestClient();

  HttpResult Send(const std::string& method, const std::string& target,
                  const std::vector<std::pair<std::string, std::string>>& headers = {}, const std::string& body = "");
  // Writes `bytes` as they are, then reads one response (or the connection's end).
  HttpResult SendRaw(const std::string& bytes);
  // Writes each part as it is, `delay_ms` apart (so they arrive as separate reads), then reads one
  // response.
  HttpResult SendInParts(const std::vector<std::string>& parts, int delay_ms);
  // Sends `bytes` one at a time, `delay_ms` apart; returns how many were written before the
  // server closed the connection (all of them if it never did).
  size_t Trickle(const std::string& bytes, int delay_ms);
  // Opens the connection now (for tests that hold connections open).
  bool Connect();
  bool connected() const;
  void Close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs xmllint against the project's XSD; returns "" when the document validates, else its output.
std::string XmllintSchemaErrors(const std::string& xml);

}  // namespace mcx::api::testing
