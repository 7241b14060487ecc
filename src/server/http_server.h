// HttpServer: Boost.Beast HTTP/1.1 with keep-alive, on a pool of io threads.
//
// It knows nothing of sluice's API: it reads a request header, asks the Router whether a
// body of that size may be read now (memory budget: SPEC §1.6), reads the body, and hands
// the request to the Router together with a Reply callback that may be called later from
// any thread — the ingest path answers from the log's commit thread once the fsync that
// covers the request is done.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "common/json_text.h"
#include "common/status.h"

namespace sluice {

namespace http = boost::beast::http;

// http::string_body, except that reading appends what arrives to the string. string_body
// resizes the string first (zero-filling it) and then copies over the zeros: for 115 KB
// event batches that memset was ~1.5% of serve's CPU (perf, store-off push).
struct RequestBody {
  using value_type = std::string;
  // Capacity reserved past a body of known length (server.cc checks it covers the
  // envelope parser's kBodyPadding).
  static constexpr size_t kSpareBytes = 64;
  static std::uint64_t size(const value_type& body) { return body.size(); }

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}
    void init(const boost::optional<std::uint64_t>& length, boost::beast::error_code& ec) {
      ec = {};
      if (!length) return;
      if (*length > body_.max_size()) {
        ec = http::error::buffer_overflow;
        return;
      }
      // The parser's body_limit bounds it. The spare bytes let the envelope parser read
      // past the end, as simdjson does, without copying the body.
      body_.reserve(static_cast<size_t>(*length) + kSpareBytes);
    }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      ec = {};
      std::size_t n = 0;
      for (const auto b : boost::beast::buffers_range_ref(buffers)) {
        body_.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      return n;
    }
    void finish(boost::beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
  using writer = http::string_body::writer;  // a request written out (tests) as string_body
};

using HttpRequest = http::request<RequestBody>;
using HttpResponse = http::response<http::string_body>;
// Large answers (export-ids) stream from a file in constant memory.
using FileResponse = http::response<http::file_body>;
using AnyResponse = std::variant<HttpResponse, FileResponse>;
using Reply = std::function<void(AnyResponse)>;

class Router {
 public:
  virtual ~Router() = default;
  // Called after the header is read. Returning a response refuses the body (413, 503...).
  virtual std::optional<HttpResponse> Admit(const http::request_header<>& header,
                                            uint64_t content_length) = 0;
  virtual void Handle(HttpRequest req, Reply reply) = 0;
  // Called once the response of a request admitted with `content_length` has been sent.
  virtual void Release(uint64_t content_length) = 0;
  virtual uint64_t body_limit() const = 0;  // larger bodies get 413 while being read
};

class HttpServer {
 public:
  HttpServer(Router* router, int threads);
  ~HttpServer();
  // Binds and listens; port 0 picks a free port (see bound_port()).
  Status Listen(const std::string& host, uint16_t port);
  // Serves HTTPS only (TLS 1.2+), with a PEM certificate chain and private key.
  Status EnableTls(const std::string& cert_file, const std::string& key_file);
  uint16_t bound_port() const { return bound_port_; }
  void Start();
  // Stops accepting new connections (idle keep-alive connections are closed too).
  void StopAccepting();
  // Requests read but not answered yet.
  int64_t inflight() const { return inflight_.load(); }
  void Stop();  // stops the io threads

 private:
  template <class Stream>
  class Session;
  void DoAccept();

  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  Router* router_;
  // One io_context per thread, each connection pinned to one: a session's handlers then
  // never run concurrently (no strands) and the threads share no scheduler lock, which
  // under load was the top source of futex wake-ups.
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  // Keep run() going while requests wait for their fsync: such a session has no pending
  // I/O, and without the guard the io threads would exit and its reply never be sent.
  std::vector<WorkGuard> work_;
  size_t next_context_ = 0;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<std::thread> pool_;
  uint16_t bound_port_ = 0;
  std::atomic<int64_t> inflight_{0};
  std::atomic<bool> accepting_{true};
  std::unique_ptr<boost::asio::ssl::context> tls_;  // null: plain HTTP
};

// The HTTP status of an expected failure: InvalidArgument 400, Unauthenticated 401,
// PermissionDenied 403, NotFound 404, ResourceExhausted 429, Unavailable 503,
// DeadlineExceeded 504, anything else 500.
http::status HttpStatusFor(const Status& s);
// A JSON answer; `body` is already JSON.
HttpResponse JsonResponse(http::status status, std::string body, unsigned version = 11);
// A JSON error body: {"error":"..."}; `message` is escaped.
HttpResponse JsonError(http::status status, const std::string& message, unsigned version = 11);

}  // namespace sluice
