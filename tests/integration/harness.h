// Test harness for integration tests: runs the real `sluice` binary (SLUICE_BIN) on an
// ephemeral loopback port in a fresh data dir, and talks to it over real HTTP (libcurl).
#pragma once

#include <string>
#include <vector>

namespace sluice::test {

std::string SluiceBin();
std::string MakeTempDir(const std::string& prefix);
void RemoveTree(const std::string& path);
void WriteFile(const std::string& path, const std::string& contents);
std::string ReadFile(const std::string& path);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs `sluice args...` to completion, feeding `stdin_data`.
CommandResult RunSluice(const std::vector<std::string>& args, const std::string& stdin_data = "");

class ServerProcess {
 public:
  // Writes `config_toml` (may be empty) to data_dir/../NAME.toml and starts the server.
  ServerProcess(std::string data_dir, std::string config_toml = "");
  void set_listen(std::string listen) { listen_ = std::move(listen); }  // before Start()
  void set_scheme(std::string scheme) { scheme_ = std::move(scheme); }  // "https" with TLS
  ~ServerProcess();
  bool Start();  // waits until it listens (false on failure/timeout)
  int Stop();    // SIGTERM, wait; returns the exit code
  void Kill();   // SIGKILL, wait
  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string url() const { return scheme_ + "://127.0.0.1:" + std::to_string(port_); }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& config_path() const { return config_path_; }
  std::string log_text() const;  // the server's stderr so far

 private:
  std::string data_dir_, config_path_, log_path_;
  std::string listen_ = "127.0.0.1:0";
  std::string scheme_ = "http";
  int pid_ = -1;
  int port_ = 0;
};

struct HttpResult {
  long status = 0;
  std::string body;
  std::string headers;
  bool ok() const { return status > 0; }
};

// HTTPS requests trust this PEM file (a test's self-signed certificate); empty = default.
void SetHttpsCaFile(const std::string& pem_path);
HttpResult HttpGet(const std::string& url, const std::vector<std::string>& headers = {});
// Any method (GET, POST, PUT, DELETE...), with an optional body.
HttpResult HttpCall(const std::string& method, const std::string& url, const std::string& body,
                    const std::vector<std::string>& headers = {});
HttpResult HttpPost(const std::string& url, const std::string& body,
                    const std::vector<std::string>& headers = {});

std::string Gzip(const std::string& in);
std::string Zstd(const std::string& in);

// Every event_id export-ids prints for this data dir (server must be stopped).
std::vector<std::string> ExportIds(const std::string& data_dir, const std::string& config_path);

}  // namespace sluice::test
