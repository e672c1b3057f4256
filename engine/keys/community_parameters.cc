#include "engine/keys/community_parameters.h"

namespace mcx {
namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Position of the first blank or control character, or npos.
size_t FirstUnprintable(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c <= 0x20 || c == 0x7f) return i;
  }
  return std::string::npos;
}

}  // namespace

Result<CommunityParameters> CommunityParameters::Make(std::string kms_uri, int64_t user_key_period,
                                                      int64_t user_key_offset) {
  if (kms_uri.empty()) {
    return Status::InvalidArgument("the KMS URI is empty; give the KMS's name, e.g. kms.example.org");
  }
  if (kms_uri.size() > 65535) {
    return Status::InvalidArgument("the KMS URI is longer than 65535 octets");
  }
  if (size_t at = FirstUnprintable(kms_uri); at != std::string::npos) {
    return Status::InvalidArgument("the KMS URI has a blank or control character at offset " +
                                   std::to_string(at));
  }
  if (user_key_period <= 0) {
    return Status::InvalidArgument("UserKeyPeriod must be at least 1 second, got " +
                                   std::to_string(user_key_period) +
                                   " (the usual value is 2592000, 30 days)");
  }
  if (user_key_offset < 0) {
    return Status::InvalidArgument("UserKeyOffset must be 0 or more seconds, got " +
                                   std::to_string(user_key_offset));
  }
  CommunityParameters p;
  p.kms_uri = std::move(kms_uri);
  p.user_key_period = static_cast<uint64_t>(user_key_period);
  p.user_key_offset = static_cast<uint64_t>(user_key_offset);
  return p;
}

Status ValidateUserUri(const std::string& uri, const char* what) {
  const std::string name(what);
  if (uri.empty()) return Status::InvalidArgument("the " + name + " is empty");
  if (uri.size() > 65535) return Status::InvalidArgument("the " + name + " is longer than 65535 octets");
  if (size_t at = FirstUnprintable(uri); at != std::string::npos) {
    return Status::InvalidArgument("the " + name + " has a blank or control character at offset " +
                                   std::to_string(at));
  }
  size_t colon = uri.find(':');
  bool scheme_ok = colon != std::string::npos && colon > 0 && IsAlpha(uri[0]);
  for (size_t i = 1; scheme_ok && i < colon; ++i) {
    char c = uri[i];
    scheme_ok = IsAlpha(c) || IsDigit(c) || c == '+' || c == '-' || c == '.';
  }
  if (!scheme_ok || colon + 1 == uri.size()) {
    return Status::InvalidArgument("the " + name +
                                   " is not a URI: expected scheme:identity, e.g. sip:alice@example.org");
  }
  return Status::Ok();
}

}  // namespace mcx
