// A Nebula HTTP function: a wasi:http/proxy handler. It gets the request
// itself (method, path, headers, body) and answers with its own status and
// headers; Nebula serves it at /fn/<name>/… and adds its timing headers.
//
// The types and calls come from the C bindings wit-bindgen generates into
// build/bindings/proxy.h (see nebula.toml).
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

// Adds one header; names and values are copied by the host.
static void add_header(wasi_http_types_borrow_fields_t fields, const char* name,
                       const uint8_t* value, size_t value_len) {
  wasi_http_types_field_name_t key;
  proxy_string_set(&key, name);
  wasi_http_types_field_value_t val = {(uint8_t*)value, value_len};
  wasi_http_types_header_error_t err;
  (void)wasi_http_types_method_fields_append(fields, &key, &val, &err);
}

void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t request,
    exports_wasi_http_incoming_handler_own_response_outparam_t response_out) {
  static const char kBody[] = "Hello from C!\n";
  static const char kType[] = "text/plain; charset=utf-8";
  static const char kHello[] = "nebula";

  // The path (with its query) as the handler sees it: below /fn/<name>.
  proxy_string_t path = {0};
  const bool has_path = wasi_http_types_method_incoming_request_path_with_query(
      wasi_http_types_borrow_incoming_request(request), &path);
  wasi_http_types_incoming_request_drop_own(request);

  wasi_http_types_own_fields_t fields = wasi_http_types_constructor_fields();
  wasi_http_types_borrow_fields_t borrowed_fields = wasi_http_types_borrow_fields(fields);
  add_header(borrowed_fields, "content-type", (const uint8_t*)kType, strlen(kType));
  add_header(borrowed_fields, "x-hello", (const uint8_t*)kHello, strlen(kHello));
  if (has_path) {
    add_header(borrowed_fields, "x-request-path", path.ptr, path.len);
    proxy_string_free(&path);
  }

  wasi_http_types_own_outgoing_response_t response =
      wasi_http_types_constructor_outgoing_response(fields);
  wasi_http_types_borrow_outgoing_response_t borrowed =
      wasi_http_types_borrow_outgoing_response(response);
  (void)wasi_http_types_method_outgoing_response_set_status_code(borrowed, 200);
  wasi_http_types_own_outgoing_body_t body;
  if (!wasi_http_types_method_outgoing_response_body(borrowed, &body)) abort();

  // The head goes out first, then the body.
  wasi_http_types_result_own_outgoing_response_error_code_t result = {.is_err = false,
                                                                      .val = {.ok = response}};
  wasi_http_types_static_response_outparam_set(response_out, &result);

  wasi_http_types_own_output_stream_t stream;
  if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body),
                                                  &stream)) {
    abort();
  }
  // One call takes at most 4096 bytes; this body is far smaller.
  proxy_list_u8_t bytes = {(uint8_t*)kBody, sizeof kBody - 1};
  wasi_io_streams_stream_error_t write_err;
  (void)wasi_io_streams_method_output_stream_blocking_write_and_flush(
      wasi_io_streams_borrow_output_stream(stream), &bytes, &write_err);
  wasi_io_streams_output_stream_drop_own(stream);
  wasi_http_types_error_code_t finish_err;
  (void)wasi_http_types_static_outgoing_body_finish(body, NULL, &finish_err);
}
