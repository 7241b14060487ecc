#include "ingest/decompress.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>

namespace sluice {
namespace {

Status TooLarge(size_t max_bytes) {
  return Status::ResourceExhausted("decompressed body exceeds the limit of " +
                                   std::to_string(max_bytes) + " bytes");
}

Status Inflate(std::string_view in, size_t max_bytes, bool gzip, std::string* out) {
  z_stream zs{};
  // 15+32: auto-detect zlib or gzip header; -15: raw deflate.
  if (inflateInit2(&zs, gzip ? 15 + 32 : -15) != Z_OK) return Status::Internal("inflateInit");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  out->clear();
  out->resize(std::min<size_t>(std::max<size_t>(in.size() * 4, 4096), max_bytes + 1));
  size_t produced = 0;
  int rc = Z_OK;
  while (true) {
    if (produced == out->size()) {
      if (out->size() > max_bytes) {
        inflateEnd(&zs);
        return TooLarge(max_bytes);
      }
      out->resize(std::min(out->size() * 2, max_bytes + 1));
    }
    zs.next_out = reinterpret_cast<Bytef*>(out->data() + produced);
    zs.avail_out = static_cast<uInt>(out->size() - produced);
    rc = inflate(&zs, Z_NO_FLUSH);
    produced = out->size() - zs.avail_out;
    if (rc == Z_STREAM_END) {
      // Concatenated gzip members are legal (and what some clients send).
      if (gzip && zs.avail_in > 0) {
        inflateReset(&zs);
        continue;
      }
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // truncated input
  }
  inflateEnd(&zs);
  if (produced > max_bytes) return TooLarge(max_bytes);
  if (rc != Z_STREAM_END) {
    return Status::InvalidArgument("body is not valid " + std::string(gzip ? "gzip" : "deflate") +
                                   " data");
  }
  out->resize(produced);
  return Status::OK();
}

Status Unzstd(std::string_view in, size_t max_bytes, std::string* out) {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  out->clear();
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::string chunk(ZSTD_DStreamOutSize(), '\0');
  size_t last = 1;
  while (input.pos < input.size) {
    ZSTD_outBuffer output{chunk.data(), chunk.size(), 0};
    last = ZSTD_decompressStream(dctx, &output, &input);
    if (ZSTD_isError(last)) {
      ZSTD_freeDCtx(dctx);
      return Status::InvalidArgument(std::string("body is not valid zstd data: ") +
                                     ZSTD_getErrorName(last));
    }
    if (out->size() + output.pos > max_bytes) {
      ZSTD_freeDCtx(dctx);
      return TooLarge(max_bytes);
    }
    out->append(chunk.data(), output.pos);
    if (output.pos == 0 && input.pos == input.size) break;
  }
  // Drain output still buffered in the decoder.
  while (last != 0) {
    ZSTD_outBuffer output{chunk.data(), chunk.size(), 0};
    last = ZSTD_decompressStream(dctx, &output, &input);
    if (ZSTD_isError(last) || output.pos == 0) break;
    if (out->size() + output.pos > max_bytes) {
      ZSTD_freeDCtx(dctx);
      return TooLarge(max_bytes);
    }
    out->append(chunk.data(), output.pos);
  }
  ZSTD_freeDCtx(dctx);
  if (last != 0) return Status::InvalidArgument("body is truncated zstd data");
  return Status::OK();
}

}  // namespace

Status Decompress(std::string_view encoding, std::string_view in, size_t max_bytes,
                  std::string* out) {
  std::string enc(encoding);
  std::transform(enc.begin(), enc.end(), enc.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!enc.empty() && enc.back() == ' ') enc.pop_back();
  if (enc.empty() || enc == "identity") {
    if (in.size() > max_bytes) return TooLarge(max_bytes);
    out->assign(in);
    return Status::OK();
  }
  if (enc == "gzip" || enc == "x-gzip") return Inflate(in, max_bytes, true, out);
  if (enc == "deflate") {
    // HTTP "deflate" is zlib-wrapped in theory and raw deflate in some clients: try both.
    Status s = Inflate(in, max_bytes, true, out);
    if (s.ok() || s.code() == Status::Code::kResourceExhausted) return s;
    return Inflate(in, max_bytes, false, out);
  }
  if (enc == "zstd") return Unzstd(in, max_bytes, out);
  return Status::InvalidArgument("unsupported Content-Encoding '" + std::string(encoding) +
                                 "' (use gzip, deflate or zstd)");
}

}  // namespace sluice
