// Runs part of a test in a child process as a user that file permissions apply to. Root (as
// the tests run in CI containers) reads and writes any file whatever its mode, so a test of "this
// file cannot be read" runs its body as `nobody` when it is root, and as itself otherwise.
#pragma once

#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace mcx::testing {

struct UnprivilegedUser {
  uid_t uid;
  gid_t gid;
};

// This process's own user when it is not root; `nobody` when it is; nullopt if there is none.
inline std::optional<UnprivilegedUser> FindUnprivilegedUser() {
  if (geteuid() != 0) return UnprivilegedUser{geteuid(), getegid()};
  const passwd* pw = getpwnam("nobody");
  if (pw == nullptr || pw->pw_uid == 0) return std::nullopt;
  return UnprivilegedUser{pw->pw_uid, pw->pw_gid};
}

// Gives `path` and everything under it to `user` (a no-op when the test is not root).
inline void GiveTree(const std::filesystem::path& path, const UnprivilegedUser& user) {
  if (geteuid() != 0) return;
  (void)lchown(path.c_str(), user.uid, user.gid);
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(path, ec)) {
    (void)lchown(e.path().c_str(), user.uid, user.gid);
  }
}

// Runs `body` in a forked child as `user` and returns the string it returns, or a line starting
// "child failed" if the child could not drop its privileges or died.
inline std::string RunAs(const UnprivilegedUser& user, const std::function<std::string()>& body) {
  int fds[2];
  if (pipe(fds) != 0) return "child failed: no pipe";
  const pid_t pid = fork();
  if (pid < 0) return "child failed: no fork";
  if (pid == 0) {
    close(fds[0]);
    std::string result;
    if (geteuid() == 0 && (setgroups(0, nullptr) != 0 || setgid(user.gid) != 0 || setuid(user.uid) != 0)) {
      result = "child failed: cannot become uid " + std::to_string(user.uid);
    } else {
      result = body();
    }
    for (size_t done = 0; done < result.size();) {
      const ssize_t n = write(fds[1], result.data() + done, result.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    _exit(0);  // no atexit handlers, no test framework teardown in the child
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "child failed: it died (" + out + ")";
  return out;
}

}  // namespace mcx::testing
