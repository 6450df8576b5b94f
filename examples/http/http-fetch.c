// http-fetch: fetches the URL named by `?url=` and answers with what came
// back: the upstream status and body. An outbound request leaves only for
// hosts the function's manifest lists in `allowed_outbound_hosts`; a
// refused one is answered 502 with the guest's error, e.g.
// {"error":"HTTP-request-denied"}.
//
//   curl 'localhost:8080/fn/http-fetch/?url=http://127.0.0.1:8081/hello'
#include <stdio.h>

#include "nebula_http.h"

static void respond_error(wasi_http_types_own_response_outparam_t out, const char* what) {
  nh_bytes json = {0};
  nh_append_str(&json, "{\"error\":");
  nh_json_string(&json, what, strlen(what));
  nh_append_str(&json, "}\n");
  static const char* const kHeaders[] = {"content-type", "application/json", NULL};
  nh_respond(out, 502, kHeaders, json.data, json.len);
  nh_free(&json);
}

static const char* error_name(const wasi_http_types_error_code_t* code) {
  switch (code->tag) {
    case WASI_HTTP_TYPES_ERROR_CODE_HTTP_REQUEST_DENIED: return "HTTP-request-denied";
    case WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_REFUSED: return "connection-refused";
    case WASI_HTTP_TYPES_ERROR_CODE_CONNECTION_TIMEOUT: return "connection-timeout";
    case WASI_HTTP_TYPES_ERROR_CODE_HTTP_RESPONSE_TIMEOUT: return "HTTP-response-timeout";
    default: return "request failed";
  }
}

void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t request,
    exports_wasi_http_incoming_handler_own_response_outparam_t response_out) {
  nh_bytes target = nh_path(wasi_http_types_borrow_incoming_request(request));
  wasi_http_types_incoming_request_drop_own(request);
  const char* url = strstr(target.data, "url=");
  const char* sep = url != NULL ? strstr(url, "://") : NULL;
  if (url == NULL || sep == NULL || (url[-1] != '?' && url[-1] != '&')) {
    respond_error(response_out, "send ?url=http://host:port/path");
    nh_free(&target);
    return;
  }
  url += 4;
  const char* authority = sep + 3;
  const char* path = strchr(authority, '/');
  const char* end = strchr(authority, '&');
  if (end == NULL) end = target.data + target.len;
  if (path == NULL || path > end) path = end;

  wasi_http_types_own_outgoing_request_t out_req =
      wasi_http_types_constructor_outgoing_request(wasi_http_types_constructor_fields());
  wasi_http_types_borrow_outgoing_request_t b = wasi_http_types_borrow_outgoing_request(out_req);
  wasi_http_types_scheme_t scheme = {.tag = (size_t)(sep - url) == 5 && strncmp(url, "https", 5) == 0
                                                ? WASI_HTTP_TYPES_SCHEME_HTTPS
                                                : WASI_HTTP_TYPES_SCHEME_HTTP};
  (void)wasi_http_types_method_outgoing_request_set_scheme(b, &scheme);
  proxy_string_t auth = {(uint8_t*)authority, (size_t)(path - authority)};
  (void)wasi_http_types_method_outgoing_request_set_authority(b, &auth);
  proxy_string_t path_q = {(uint8_t*)(path < end ? path : "/"),
                           path < end ? (size_t)(end - path) : 1};
  (void)wasi_http_types_method_outgoing_request_set_path_with_query(b, &path_q);

  wasi_http_outgoing_handler_own_future_incoming_response_t future;
  wasi_http_outgoing_handler_error_code_t code;
  if (!wasi_http_outgoing_handler_handle(out_req, NULL, &future, &code)) {
    respond_error(response_out, error_name(&code));
    nh_free(&target);
    return;
  }
  wasi_http_types_borrow_future_incoming_response_t fb =
      wasi_http_types_borrow_future_incoming_response(future);
  wasi_io_poll_own_pollable_t ready = wasi_http_types_method_future_incoming_response_subscribe(fb);
  wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(ready));
  wasi_io_poll_pollable_drop_own(ready);
  wasi_http_types_result_result_own_incoming_response_error_code_void_t got;
  if (!wasi_http_types_method_future_incoming_response_get(fb, &got) || got.is_err) {
    respond_error(response_out, "no response");
  } else if (got.val.ok.is_err) {
    respond_error(response_out, error_name(&got.val.ok.val.err));
  } else {
    wasi_http_types_own_incoming_response_t upstream = got.val.ok.val.ok;
    wasi_http_types_borrow_incoming_response_t ub = wasi_http_types_borrow_incoming_response(upstream);
    uint16_t status = wasi_http_types_method_incoming_response_status(ub);
    nh_bytes body = {0};
    nh_append(&body, "", 0);
    wasi_http_types_own_incoming_body_t incoming;
    if (wasi_http_types_method_incoming_response_consume(ub, &incoming)) {
      wasi_http_types_own_input_stream_t stream;
      if (wasi_http_types_method_incoming_body_stream(
              wasi_http_types_borrow_incoming_body(incoming), &stream)) {
        for (;;) {
          proxy_list_u8_t chunk;
          wasi_io_streams_stream_error_t err;
          if (!wasi_io_streams_method_input_stream_blocking_read(
                  wasi_io_streams_borrow_input_stream(stream), 65536, &chunk, &err)) {
            break;
          }
          nh_append(&body, chunk.ptr, chunk.len);
          proxy_list_u8_free(&chunk);
        }
        wasi_io_streams_input_stream_drop_own(stream);
      }
      wasi_http_types_future_trailers_drop_own(wasi_http_types_static_incoming_body_finish(incoming));
    }
    wasi_http_types_incoming_response_drop_own(upstream);
    static const char* const kHeaders[] = {"content-type", "application/octet-stream", NULL};
    nh_respond(response_out, status, kHeaders, body.data, body.len);
    nh_free(&body);
  }
  wasi_http_types_future_incoming_response_drop_own(future);
  nh_free(&target);
}
