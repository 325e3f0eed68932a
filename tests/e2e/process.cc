#include "tests/e2e/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "net/loopback.h"

extern char** environ;

namespace signfed::test {

Process::Process(const std::string& binary, const std::vector<std::string>& args, const std::string& log_path)
    : log_(log_path) {
  std::vector<std::string> argv_s = {binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addclose(&fa, 0);
  const int rc = posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot spawn " + binary);
}

Process::~Process() {
  if (!done_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
}

int Process::wait(double timeout_s) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (!done_) {
    const pid_t r = waitpid(pid_, &status_, WNOHANG);
    if (r == pid_) {
      done_ = true;
      break;
    }
    if (std::chrono::steady_clock::now() > end) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

void Process::signal(int sig) {
  if (!done_) ::kill(pid_, sig);
}

bool Process::running() { return wait(0) == -1; }

std::string Process::output() const {
  std::ifstream f(log_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/signfed-e2e-XXXXXX";
  path = mkdtemp(tmpl);
}

TempDir::~TempDir() {
  if (std::getenv("SIGNFED_KEEP_TMP") == nullptr) std::system(("rm -rf '" + path + "'").c_str());
}

std::uint64_t edge_final_digest(const std::string& output) {
  // The last "model digest <16 hex digits>" in the output. (No std::regex:
  // GCC 12 warns inside <regex> at -O1 with sanitizers, and -Werror is on.)
  const std::string key = "model digest ";
  std::uint64_t d = 0;
  for (std::size_t at = output.find(key); at != std::string::npos; at = output.find(key, at + 1)) {
    const std::string hex = output.substr(at + key.size(), 16);
    if (hex.size() == 16 && hex.find_first_not_of("0123456789abcdef") == std::string::npos)
      d = std::strtoull(hex.c_str(), nullptr, 16);
  }
  return d;
}

int free_tcp_port() { return net::free_loopback_port(); }

long rss_kb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

bool wait_until(double timeout_s, const std::function<bool()>& cond) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

}  // namespace signfed::test
