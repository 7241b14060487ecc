#include "harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sluice::test {

std::string SluiceBin() {
  const char* b = std::getenv("SLUICE_BIN");
  return b ? b : "./sluice";
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/sluice-" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  return buf.data();
}

void RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream f(path, std::ios::binary);
  f << contents;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

namespace {

std::vector<char*> Argv(const std::vector<std::string>& args, std::vector<std::string>* store) {
  *store = args;
  store->insert(store->begin(), SluiceBin());
  std::vector<char*> argv;
  for (auto& a : *store) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

}  // namespace

CommandResult RunSluice(const std::vector<std::string>& args, const std::string& stdin_data) {
  std::string dir = MakeTempDir("cmd");
  std::string in = dir + "/in", out = dir + "/out", err = dir + "/err";
  WriteFile(in, stdin_data);
  std::vector<std::string> store;
  auto argv = Argv(args, &store);
  pid_t pid = fork();
  if (pid == 0) {
    int fi = open(in.c_str(), O_RDONLY);
    int fo = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fi, 0);
    dup2(fo, 1);
    dup2(fe, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CommandResult r;
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  RemoveTree(dir);
  return r;
}

ServerProcess::ServerProcess(std::string data_dir, std::string config_toml)
    : data_dir_(std::move(data_dir)) {
  config_path_ = data_dir_ + ".toml";
  log_path_ = data_dir_ + ".log";
  WriteFile(config_path_, config_toml);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Kill();
}

bool ServerProcess::Start() {
  std::string addr_file = data_dir_ + "/sluice.addr";
  std::error_code ec;
  std::filesystem::remove(addr_file, ec);
  std::vector<std::string> store;
  auto argv = Argv(
      {"serve", "--data-dir", data_dir_, "--config", config_path_, "--listen", listen_}, &store);
  pid_ = fork();
  if (pid_ == 0) {
    int fe = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int fn = open("/dev/null", O_RDWR);
    dup2(fn, 0);
    dup2(fe, 1);
    dup2(fe, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string addr = ReadFile(addr_file);
    auto colon = addr.rfind(':');
    if (colon != std::string::npos && addr.back() == '\n') {
      port_ = std::atoi(addr.c_str() + colon + 1);
      return true;
    }
    int st;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int st = 0;
  waitpid(pid_, &st, 0);
  pid_ = -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int st = 0;
  waitpid(pid_, &st, 0);
  pid_ = -1;
}

std::string ServerProcess::log_text() const { return ReadFile(log_path_); }

namespace {

size_t Collect(char* p, size_t s, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, s * n);
  return s * n;
}

std::string& CaFile() {
  static std::string path;
  return path;
}

HttpResult Perform(CURL* c, const std::vector<std::string>& headers) {
  HttpResult r;
  if (!CaFile().empty()) curl_easy_setopt(c, CURLOPT_CAINFO, CaFile().c_str());
  struct curl_slist* hl = nullptr;
  for (const auto& h : headers) hl = curl_slist_append(hl, h.c_str());
  hl = curl_slist_append(hl, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, Collect);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(hl);
  curl_easy_cleanup(c);
  return r;
}

}  // namespace

void SetHttpsCaFile(const std::string& pem_path) { CaFile() = pem_path; }

HttpResult HttpGet(const std::string& url, const std::vector<std::string>& headers) {
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  return Perform(c, headers);
}

HttpResult HttpCall(const std::string& method, const std::string& url, const std::string& body,
                    const std::vector<std::string>& headers) {
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (!body.empty() || method == "POST" || method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  return Perform(c, headers);
}

HttpResult HttpPost(const std::string& url, const std::string& body,
                    const std::vector<std::string>& headers) {
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  return Perform(c, headers);
}

std::string Gzip(const std::string& in) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  out.resize(n);
  return out;
}

std::vector<std::string> ExportIds(const std::string& data_dir, const std::string& config_path) {
  CommandResult r = RunSluice({"export-ids", "--data-dir", data_dir, "--config", config_path});
  if (r.exit_code != 0) throw std::runtime_error("export-ids failed: " + r.err);
  std::vector<std::string> ids;
  std::istringstream ss(r.out);
  std::string line;
  while (std::getline(ss, line)) ids.push_back(line);
  return ids;
}

}  // namespace sluice::test
