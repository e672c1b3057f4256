#include "tests/api/http_test_client.h"

#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

namespace mcx::api::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpTestClient::Impl {
  uint16_t port;
  net::io_context ioc;
  std::unique_ptr<tcp::socket> socket;
  beast::flat_buffer buffer;

  bool Connect() {
    if (socket && socket->is_open()) return true;
    socket = std::make_unique<tcp::socket>(ioc);
    buffer.clear();
    beast::error_code ec;
    socket->connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    if (ec) socket.reset();
    return !ec;
  }

  HttpResult ReadResponse(bool head = false) {
    HttpResult out;
    http::response_parser<http::string_body> parser;
    parser.skip(head);  // a response to HEAD has no body, whatever its Content-Length says
    parser.body_limit(16 * 1024 * 1024);
    beast::error_code ec;
    http::read(*socket, buffer, parser, ec);
    if (ec) {
      out.error = ec.message();
      Close();
      return out;
    }
    auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    out.body = std::move(res.body());
    out.keep_alive = res.keep_alive();
    if (!out.keep_alive) Close();
    return out;
  }

  void Close() {
    if (socket) {
      beast::error_code ignored;
      socket->shutdown(tcp::socket::shutdown_both, ignored);
      socket->close(ignored);
      socket.reset();
    }
  }
};

HttpTestClient::HttpTestClient(uint16_t port) : impl_(std::make_unique<Impl>()) { impl_->port = port; }
HttpTestClient::~HttpTestClient() { impl_->Close(); }

bool HttpTestClient::Connect() { return impl_->Connect(); }
bool HttpTestClient::connected() const { return impl_->socket && impl_->socket->is_open(); }
void HttpTestClient::Close() { impl_->Close(); }

HttpResult HttpTestClient::Send(const std::string& method, const std::string& target,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                const std::string& body) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->Connect()) return HttpResult{0, {}, "", false, "cannot connect"};
    http::request<http::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(http::field::host, "127.0.0.1:" + std::to_string(impl_->port));
    req.set(http::field::user_agent, "mcx-kms-api-test");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.prepare_payload();
    beast::error_code ec;
    http::write(*impl_->socket, req, ec);
    if (ec) {
      impl_->Close();
      continue;  // the server closed an idle keep-alive connection: reconnect once
    }
    HttpResult r = impl_->ReadResponse(method == "HEAD");
    if (r.status == 0 && attempt == 0 && r.error == "end of stream") continue;
    return r;
  }
  return HttpResult{0, {}, "", false, "the server closed the connection"};
}

HttpResult HttpTestClient::SendRaw(const std::string& bytes) {
  if (!impl_->Connect()) return HttpResult{0, {}, "", false, "cannot connect"};
  beast::error_code ec;
  net::write(*impl_->socket, net::buffer(bytes), ec);
  if (ec) {
    impl_->Close();
    return HttpResult{0, {}, "", false, ec.message()};
  }
  return impl_->ReadResponse();
}

HttpResult HttpTestClient::SendInParts(const std::vector<std::string>& parts, int delay_ms) {
  if (!impl_->Connect()) return HttpResult{0, {}, "", false, "cannot connect"};
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    beast::error_code ec;
    net::write(*impl_->socket, net::buffer(parts[i]), ec);
    if (ec) break;  // the server may have answered already: read what it said
  }
  return impl_->ReadResponse();
}

size_t HttpTestClient::Trickle(const std::string& bytes, int delay_ms) {
  if (!impl_->Connect()) return 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    beast::error_code ec;
    net::write(*impl_->socket, net::buffer(&bytes[i], 1), ec);
    if (ec) {
      impl_->Close();
      return i;
    }
    // A closed connection shows as readable with 0 bytes (EOF) before a write fails.
    if (impl_->socket->available(ec) == 0 && !ec) {
      impl_->socket->non_blocking(true);
      char c;
      const size_t n = impl_->socket->read_some(net::buffer(&c, 1), ec);
      impl_->socket->non_blocking(false);
      if (ec == net::error::eof || (n == 0 && ec && ec != net::error::would_block)) {
        impl_->Close();
        return i + 1;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  }
  return bytes.size();
}

std::string XmllintSchemaErrors(const std::string& xml) {
  char path[] = "/tmp/mcx-kms-xml-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return "cannot create a temporary file";
  close(fd);
  {
    std::ofstream out(path, std::ios::binary);
    out << xml;
  }
  const std::string report = std::string(path) + ".out";
  const std::string cmd = std::string("xmllint --noout --schema '") + MCX_SOURCE_DIR + "/docs/kms-interface.xsd' '" +
                          path + "' >'" + report + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(report);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(path);
  std::remove(report.c_str());
  if (rc == 0) return "";
  return text.empty() ? "xmllint failed with status " + std::to_string(rc) : text;
}

}  // namespace mcx::api::testing
