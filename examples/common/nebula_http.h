// nebula_http.h: what Nebula's wasi:http example functions share, on top of
// the C bindings wit-bindgen generates for the wasi:http/proxy world
// (proxy.h): reading the request, and answering it.
//
// Every function here is static: each example is one source file plus this
// header, compiled with the generated proxy.c.
#ifndef NEBULA_HTTP_H
#define NEBULA_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

// Bytes owned by the caller (free with nh_free).
typedef struct nh_bytes {
  char* data;
  size_t len;
} nh_bytes;

static void nh_free(nh_bytes* b) {
  free(b->data);
  b->data = NULL;
  b->len = 0;
}

static void nh_append(nh_bytes* b, const void* data, size_t len) {
  char* grown = realloc(b->data, b->len + len + 1);
  if (grown == NULL) abort();
  memcpy(grown + b->len, data, len);
  b->data = grown;
  b->len += len;
  b->data[b->len] = '\0';
}

static void nh_append_str(nh_bytes* b, const char* s) {
  nh_append(b, s, strlen(s));
}

// The request's method as text ("GET", …).
static const char* nh_method(wasi_http_types_borrow_incoming_request_t request, nh_bytes* other) {
  wasi_http_types_method_t m;
  wasi_http_types_method_incoming_request_method(request, &m);
  static const char* const kNames[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                       "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  if (m.tag < sizeof kNames / sizeof kNames[0]) return kNames[m.tag];
  nh_append(other, m.val.other.ptr, m.val.other.len);
  proxy_string_free(&m.val.other);
  return other->data;
}

// The path with its query ("/a/b?x=1"); "/" when the request has none.
static nh_bytes nh_path(wasi_http_types_borrow_incoming_request_t request) {
  nh_bytes out = {0};
  proxy_string_t path;
  if (wasi_http_types_method_incoming_request_path_with_query(request, &path)) {
    nh_append(&out, path.ptr, path.len);
    proxy_string_free(&path);
  } else {
    nh_append_str(&out, "/");
  }
  return out;
}

// Every header, in order.
static wasi_http_types_list_tuple2_field_name_field_value_t nh_headers(
    wasi_http_types_borrow_incoming_request_t request) {
  wasi_http_types_own_headers_t headers = wasi_http_types_method_incoming_request_headers(request);
  wasi_http_types_list_tuple2_field_name_field_value_t entries;
  wasi_http_types_method_fields_entries(wasi_http_types_borrow_fields(headers), &entries);
  wasi_http_types_fields_drop_own(headers);
  return entries;
}

// The whole request body (the stream read to its end).
static nh_bytes nh_read_body(wasi_http_types_borrow_incoming_request_t request) {
  nh_bytes out = {0};
  nh_append(&out, "", 0);
  wasi_http_types_own_incoming_body_t body;
  if (!wasi_http_types_method_incoming_request_consume(request, &body)) return out;
  wasi_http_types_own_input_stream_t stream;
  if (wasi_http_types_method_incoming_body_stream(wasi_http_types_borrow_incoming_body(body),
                                                  &stream)) {
    wasi_io_streams_borrow_input_stream_t in = wasi_io_streams_borrow_input_stream(stream);
    for (;;) {
      proxy_list_u8_t chunk;
      wasi_io_streams_stream_error_t err;
      if (!wasi_io_streams_method_input_stream_blocking_read(in, 65536, &chunk, &err)) {
        if (err.tag != WASI_IO_STREAMS_STREAM_ERROR_CLOSED) {
          wasi_io_error_error_drop_own(err.val.last_operation_failed);
        }
        break;
      }
      nh_append(&out, chunk.ptr, chunk.len);
      proxy_list_u8_free(&chunk);
    }
    wasi_io_streams_input_stream_drop_own(stream);
  }
  wasi_http_types_future_trailers_drop_own(wasi_http_types_static_incoming_body_finish(body));
  return out;
}

// Answers with `status`, the given headers (name, value, name, value, …,
// NULL) and `body`, written in pieces as a streaming guest would.
static void nh_respond(wasi_http_types_own_response_outparam_t out, uint16_t status,
                       const char* const* headers, const char* body, size_t body_len) {
  wasi_http_types_own_fields_t fields = wasi_http_types_constructor_fields();
  for (size_t i = 0; headers != NULL && headers[i] != NULL && headers[i + 1] != NULL; i += 2) {
    wasi_http_types_field_name_t name;
    proxy_string_set(&name, headers[i]);
    wasi_http_types_field_value_t value = {(uint8_t*)headers[i + 1], strlen(headers[i + 1])};
    wasi_http_types_header_error_t err;
    (void)wasi_http_types_method_fields_append(wasi_http_types_borrow_fields(fields), &name,
                                               &value, &err);
  }
  wasi_http_types_own_outgoing_response_t response =
      wasi_http_types_constructor_outgoing_response(fields);
  wasi_http_types_borrow_outgoing_response_t borrowed =
      wasi_http_types_borrow_outgoing_response(response);
  (void)wasi_http_types_method_outgoing_response_set_status_code(borrowed, status);
  wasi_http_types_own_outgoing_body_t outgoing;
  if (!wasi_http_types_method_outgoing_response_body(borrowed, &outgoing)) abort();

  // The head goes out first; the body follows, piece by piece.
  wasi_http_types_result_own_outgoing_response_error_code_t result = {
      .is_err = false, .val = {.ok = response}};
  wasi_http_types_static_response_outparam_set(out, &result);

  wasi_http_types_own_output_stream_t stream;
  if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(outgoing),
                                                  &stream)) {
    abort();
  }
  wasi_io_streams_borrow_output_stream_t w = wasi_io_streams_borrow_output_stream(stream);
  for (size_t done = 0; done < body_len;) {
    // blocking-write-and-flush takes at most 4096 bytes a call.
    size_t n = body_len - done < 4096 ? body_len - done : 4096;
    proxy_list_u8_t piece = {(uint8_t*)body + done, n};
    wasi_io_streams_stream_error_t err;
    if (!wasi_io_streams_method_output_stream_blocking_write_and_flush(w, &piece, &err)) break;
    done += n;
  }
  wasi_io_streams_output_stream_drop_own(stream);
  wasi_http_types_error_code_t err;
  (void)wasi_http_types_static_outgoing_body_finish(outgoing, NULL, &err);
}

// A JSON string literal of `data` (quotes included) appended to `out`.
static void nh_json_string(nh_bytes* out, const char* data, size_t len) {
  static const char kHex[] = "0123456789abcdef";
  nh_append_str(out, "\"");
  for (size_t i = 0; i < len; ++i) {
    unsigned char c = (unsigned char)data[i];
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      nh_append(out, esc, 2);
    } else if (c == '\n') {
      nh_append_str(out, "\\n");
    } else if (c == '\r') {
      nh_append_str(out, "\\r");
    } else if (c == '\t') {
      nh_append_str(out, "\\t");
    } else if (c < 0x20) {
      char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      nh_append(out, esc, 6);
    } else {
      nh_append(out, &data[i], 1);
    }
  }
  nh_append_str(out, "\"");
}

#endif  // NEBULA_HTTP_H
