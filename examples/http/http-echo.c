// http-echo: a JSON view of the request it received: method, path and
// query, headers and body. Shows what reaches a wasi:http function, and
// turns any request into JSON.
//
//   curl -d 'hi' 'localhost:8080/fn/http-echo/a/b?x=1'
//   {"method":"POST","path":"/a/b","query":"x=1","headers":{…},"body":"hi","body_bytes":2}
//
// A request with `?status=N` (100-599) is answered with that status.
#include <stdio.h>

#include "nebula_http.h"

void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t request,
    exports_wasi_http_incoming_handler_own_response_outparam_t response_out) {
  wasi_http_types_borrow_incoming_request_t req = wasi_http_types_borrow_incoming_request(request);
  nh_bytes other = {0};
  const char* method = nh_method(req, &other);
  nh_bytes target = nh_path(req);
  char* query = strchr(target.data, '?');
  size_t path_len = query != NULL ? (size_t)(query - target.data) : target.len;
  const char* query_text = query != NULL ? query + 1 : "";

  uint16_t status = 200;
  const char* wanted = strstr(query_text, "status=");
  if (wanted != NULL && (wanted == query_text || wanted[-1] == '&')) {
    long n = strtol(wanted + 7, NULL, 10);
    if (n >= 100 && n <= 599) status = (uint16_t)n;
  }

  nh_bytes json = {0};
  nh_append_str(&json, "{\"method\":");
  nh_json_string(&json, method, strlen(method));
  nh_append_str(&json, ",\"path\":");
  nh_json_string(&json, target.data, path_len);
  nh_append_str(&json, ",\"query\":");
  nh_json_string(&json, query_text, strlen(query_text));
  nh_append_str(&json, ",\"headers\":{");
  wasi_http_types_list_tuple2_field_name_field_value_t headers = nh_headers(req);
  for (size_t i = 0; i < headers.len; ++i) {
    if (i > 0) nh_append_str(&json, ",");
    nh_json_string(&json, (const char*)headers.ptr[i].f0.ptr, headers.ptr[i].f0.len);
    nh_append_str(&json, ":");
    nh_json_string(&json, (const char*)headers.ptr[i].f1.ptr, headers.ptr[i].f1.len);
  }
  wasi_http_types_list_tuple2_field_name_field_value_free(&headers);
  nh_bytes body = nh_read_body(req);
  nh_append_str(&json, "},\"body\":");
  nh_json_string(&json, body.data, body.len);
  char count[48];
  snprintf(count, sizeof count, ",\"body_bytes\":%zu}\n", body.len);
  nh_append_str(&json, count);
  wasi_http_types_incoming_request_drop_own(request);

  static const char* const kHeaders[] = {"content-type", "application/json", NULL};
  nh_respond(response_out, status, kHeaders, json.data, json.len);
  nh_free(&json);
  nh_free(&body);
  nh_free(&target);
  nh_free(&other);
}
