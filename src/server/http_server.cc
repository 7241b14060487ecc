#include "server/http_server.h"
#include "common/thread_name.h"

#include <spdlog/spdlog.h>

#include <boost/beast/ssl.hpp>
#include <memory>
#include <type_traits>
#include <vector>

namespace sluice {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

http::status HttpStatusFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kInvalidArgument:
      return http::status::bad_request;
    case Status::Code::kUnauthenticated:
      return http::status::unauthorized;
    case Status::Code::kPermissionDenied:
      return http::status::forbidden;
    case Status::Code::kNotFound:
      return http::status::not_found;
    case Status::Code::kResourceExhausted:
      return http::status::too_many_requests;
    case Status::Code::kUnavailable:
      return http::status::service_unavailable;
    case Status::Code::kDeadlineExceeded:
      return http::status::gateway_timeout;
    default:
      return http::status::internal_server_error;
  }
}

HttpResponse JsonResponse(http::status status, std::string body, unsigned version) {
  HttpResponse res{status, version};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

HttpResponse JsonError(http::status status, const std::string& message, unsigned version) {
  HttpResponse res{status, version};
  res.set(http::field::content_type, "application/json");
  res.body() = "{\"error\":\"" + JsonEscape(message) + "\"}";
  res.prepare_payload();
  return res;
}

// One connection. `Stream` is a plain TCP stream, or a TLS stream over one when the
// server has a certificate ([server] tls_cert_file): the request loop is the same, only
// the start (handshake) and the end (TLS close_notify) differ.
template <class Stream>
class HttpServer::Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(tcp::socket&& socket, HttpServer* server) : stream_(std::move(socket)), server_(server) {}
  Session(tcp::socket&& socket, HttpServer* server, net::ssl::context& tls)
      : stream_(std::move(socket), tls), server_(server) {}

  void Start() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        beast::get_lowest_layer(self->stream_).expires_after(std::chrono::seconds(30));
        self->stream_.async_handshake(net::ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->CloseSocket();
          self->ReadHeader();
        });
      } else {
        self->ReadHeader();
      }
    });
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  auto shared_from_this() {
    return std::enable_shared_from_this<Session<Stream>>::shared_from_this();
  }
  auto& lowest() { return beast::get_lowest_layer(stream_); }

  void ReadHeader() {
    if (!server_->accepting_.load()) return Close();
    parser_.emplace();
    parser_->header_limit(64 * 1024);
    parser_->body_limit(server_->router_->body_limit());
    lowest().expires_after(std::chrono::seconds(120));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    const auto& header = parser_->get().base();
    uint64_t len = parser_->content_length().value_or(0);
    if (auto refused = server_->router_->Admit(header, len)) {
      refused->keep_alive(false);
      admitted_ = 0;
      return Send(AnyResponse(std::move(*refused)), /*counted=*/false);
    }
    admitted_ = len;
    // Expect: 100-continue clients wait for this before sending the body.
    if (header[http::field::expect] == "100-continue") {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     header.version());
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    // Beast reads at most (capacity - size) bytes per read_some, and at least 512: a
    // flat_buffer left at its first, small capacity took a 115 KB batch in ~230 recvmsg
    // calls, each also re-arming the stream's timer. Up to 64 KB per read (Beast's own cap)
    // took the server's CPU per event from 1.45 to 0.13-0.16 µs with no ingest work behind it
    // (bench/ingest_floor.cc). The capacity stays for the connection's next request.
    constexpr size_t kReadChunk = 64 * 1024;
    // A chunked body has no length up front: it gets the full chunk size.
    const bool chunked = parser_->chunked();
    if ((admitted_ > 4096 || chunked) && buffer_.capacity() < kReadChunk) {
      buffer_.reserve(chunked ? kReadChunk : std::min<uint64_t>(admitted_ + 1024, kReadChunk));
    }
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec) {
      server_->router_->Release(admitted_);
      return OnReadError(ec);
    }
    lowest().expires_never();
    server_->inflight_.fetch_add(1);
    keep_alive_ = parser_->get().keep_alive();
    auto self = shared_from_this();
    server_->router_->Handle(parser_->release(), [self](AnyResponse res) {
      net::post(self->stream_.get_executor(), [self, res = std::move(res)]() mutable {
        self->server_->inflight_.fetch_sub(1);
        self->Send(std::move(res), /*counted=*/true);
      });
    });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      auto res = JsonError(http::status::payload_too_large,
                           "request body exceeds the limit of " +
                               std::to_string(server_->router_->body_limit()) + " bytes");
      res.keep_alive(false);
      return Send(AnyResponse(std::move(res)), false);
    }
    if (ec == http::error::header_limit || ec == http::error::bad_target ||
        ec == http::error::bad_method || ec == http::error::bad_version ||
        ec == http::error::bad_field || ec == http::error::bad_value ||
        ec == http::error::bad_content_length || ec == http::error::bad_transfer_encoding ||
        ec == http::error::bad_chunk || ec == http::error::bad_line_ending) {
      auto res = JsonError(http::status::bad_request, "malformed HTTP request: " + ec.message());
      res.keep_alive(false);
      return Send(AnyResponse(std::move(res)), false);
    }
    Close();  // end of stream, timeout, reset: nothing to answer
  }

  void Send(AnyResponse any, bool counted) {
    std::visit([&](auto& res) { SendOne(std::move(res), counted); }, any);
  }

  template <class Body>
  void SendOne(http::response<Body> res, bool counted) {
    bool close = !keep_alive_ || !res.keep_alive() || !server_->accepting_.load();
    res.keep_alive(!close);
    auto sp = std::make_shared<http::response<Body>>(std::move(res));
    http::async_write(
        stream_, *sp,
        [self = shared_from_this(), sp, close, counted](beast::error_code ec, size_t) {
          if (counted) self->server_->router_->Release(self->admitted_);
          self->admitted_ = 0;
          if (ec || close) return self->Close();
          self->ReadHeader();
        });
  }

  void Close() {
    if constexpr (kTls) {
      // close_notify, so the client knows the answer is complete; bounded in time.
      lowest().expires_after(std::chrono::seconds(5));
      stream_.async_shutdown(
          [self = shared_from_this()](beast::error_code) { self->CloseSocket(); });
    } else {
      CloseSocket();
    }
  }

  // Closes without destroying the answer just sent. A client may still be sending a body
  // that was refused unread (503 over the memory budget, 413, 401) or a pipelined request;
  // closing with those bytes unread makes the kernel send a reset, and a reset throws away
  // the answer still in the client's receive buffer: it sees a dropped connection instead
  // of the 503 and its Retry-After. So, like nginx's lingering close: stop sending, read
  // and discard what still arrives until the client closes, for at most kLingerSeconds
  // and kLingerBytes, then close.
  void CloseSocket() {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
      lowest().socket().close(ec);
      return;
    }
    lowest().expires_after(std::chrono::seconds(kLingerSeconds));
    Linger(std::make_shared<std::vector<char>>(16 * 1024), 0);
  }

  static constexpr int kLingerSeconds = 2;
  static constexpr uint64_t kLingerBytes = 64ull << 20;

  void Linger(std::shared_ptr<std::vector<char>> sink, uint64_t drained) {
    lowest().async_read_some(net::buffer(*sink), [self = shared_from_this(), sink, drained](
                                                     beast::error_code ec, size_t n) {
      if (ec || drained + n > kLingerBytes) {
        beast::error_code ignored;
        self->lowest().socket().close(ignored);
        return;
      }
      self->Linger(sink, drained + n);
    });
  }

  Stream stream_;
  HttpServer* server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<RequestBody>> parser_;
  uint64_t admitted_ = 0;
  bool keep_alive_ = true;
};

namespace {
std::vector<std::unique_ptr<net::io_context>> MakeContexts(int n) {
  std::vector<std::unique_ptr<net::io_context>> v;
  for (int i = 0; i < std::max(n, 1); ++i) v.push_back(std::make_unique<net::io_context>(1));
  return v;
}
}  // namespace

HttpServer::HttpServer(Router* router, int threads)
    : router_(router), contexts_(MakeContexts(threads)), acceptor_(*contexts_[0]) {
  for (auto& c : contexts_) work_.push_back(net::make_work_guard(*c));
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Listen(const std::string& host, uint16_t port) {
  beast::error_code ec;
  auto addr = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return Status::InvalidArgument("listen host '" + host + "' is not an IP address");
  tcp::endpoint ep(addr, port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                           ec.message());
  }
  bound_port_ = acceptor_.local_endpoint().port();
  return Status::OK();
}

Status HttpServer::EnableTls(const std::string& cert_file, const std::string& key_file) {
  auto tls = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
  tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                   net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                   net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
  beast::error_code ec;
  tls->use_certificate_chain_file(cert_file, ec);
  if (ec) {
    return Status::InvalidArgument("[server] tls_cert_file " + cert_file + ": " + ec.message());
  }
  tls->use_private_key_file(key_file, net::ssl::context::pem, ec);
  if (ec) return Status::InvalidArgument("[server] tls_key_file " + key_file + ": " + ec.message());
  tls_ = std::move(tls);
  return Status::OK();
}

void HttpServer::Start() {
  DoAccept();
  for (auto& c : contexts_) {
    pool_.emplace_back([ctx = c.get()] {
      SetCurrentThreadName("http-io");
      ctx->run();
    });
  }
}

void HttpServer::DoAccept() {
  net::io_context& target = *contexts_[next_context_++ % contexts_.size()];
  acceptor_.async_accept(target, [this](beast::error_code ec, tcp::socket s) {
    if (!accepting_.load()) return;
    if (!ec) {
      s.set_option(tcp::no_delay(true), ec);
      if (tls_) {
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(std::move(s), this, *tls_)
            ->Start();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(std::move(s), this)->Start();
      }
    }
    DoAccept();
  });
}

void HttpServer::StopAccepting() {
  accepting_.store(false);
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
}

void HttpServer::Stop() {
  accepting_.store(false);
  for (auto& w : work_) w.reset();
  for (auto& c : contexts_) c->stop();
  for (auto& t : pool_) {
    if (t.joinable()) t.join();
  }
  pool_.clear();
}

}  // namespace sluice
