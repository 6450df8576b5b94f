// http-hello: the smallest wasi:http handler. Answers every request with a
// greeting, its own status (200) and headers, whatever the method or path.
#include "nebula_http.h"

void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t request,
    exports_wasi_http_incoming_handler_own_response_outparam_t response_out) {
  static const char kBody[] = "Hello from a Nebula HTTP function!\n";
  static const char* const kHeaders[] = {"content-type", "text/plain; charset=utf-8",
                                         "x-hello", "nebula", NULL};
  wasi_http_types_incoming_request_drop_own(request);
  nh_respond(response_out, 200, kHeaders, kBody, sizeof kBody - 1);
}
