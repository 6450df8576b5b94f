// Test guest: a wasi:http handler that misbehaves on request, by path.
//   /before   traps before it answers
//   /after    answers 200, sends part of its body, then traps
//   /spin     never returns (the timeout stops it)
//   /grow     allocates until its memory limit stops it
//   /flood    answers with a 1 MiB body (over a small max_output_bytes)
//   /state    answers how many requests this instance has seen: always 1,
//             since every request gets a fresh instance
//   /stderr   logs a line on stderr, then answers
//   /slow     answers "one", "two", "three", 30 ms apart (a streamed body)
//   other     answers 200 "ok"
#include <stdio.h>

#include "nebula_http.h"

static int requests_seen = 0;

static const char* const kText[] = {"content-type", "text/plain", NULL};

void exports_wasi_http_incoming_handler_handle(
    exports_wasi_http_incoming_handler_own_incoming_request_t request,
    exports_wasi_http_incoming_handler_own_response_outparam_t response_out) {
  ++requests_seen;
  nh_bytes path = nh_path(wasi_http_types_borrow_incoming_request(request));
  wasi_http_types_incoming_request_drop_own(request);

  if (strcmp(path.data, "/before") == 0) __builtin_trap();
  if (strcmp(path.data, "/spin") == 0) {
    for (volatile unsigned long i = 0;; ++i) {
    }
  }
  if (strcmp(path.data, "/grow") == 0) {
    // Kept reachable, so that the compiler cannot drop the allocations.
    static char* volatile last;
    for (;;) {
      char* block = malloc(1 << 20);
      if (block == NULL) __builtin_trap();
      memset(block, 1, 1 << 20);
      block[0] = (char)(last != NULL);
      last = block;
    }
  }
  if (strcmp(path.data, "/after") == 0) {
    // The head and the first piece of the body, then a trap.
    wasi_http_types_own_outgoing_response_t response =
        wasi_http_types_constructor_outgoing_response(wasi_http_types_constructor_fields());
    wasi_http_types_own_outgoing_body_t body;
    if (!wasi_http_types_method_outgoing_response_body(
            wasi_http_types_borrow_outgoing_response(response), &body)) {
      abort();
    }
    wasi_http_types_result_own_outgoing_response_error_code_t result = {
        .is_err = false, .val = {.ok = response}};
    wasi_http_types_static_response_outparam_set(response_out, &result);
    wasi_http_types_own_output_stream_t stream;
    if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body),
                                                    &stream)) {
      abort();
    }
    proxy_list_u8_t piece = {(uint8_t*)"partial", 7};
    wasi_io_streams_stream_error_t err;
    (void)wasi_io_streams_method_output_stream_blocking_write_and_flush(
        wasi_io_streams_borrow_output_stream(stream), &piece, &err);
    __builtin_trap();
  }
  if (strcmp(path.data, "/slow") == 0) {
    wasi_http_types_own_outgoing_response_t response =
        wasi_http_types_constructor_outgoing_response(wasi_http_types_constructor_fields());
    wasi_http_types_own_outgoing_body_t body;
    if (!wasi_http_types_method_outgoing_response_body(
            wasi_http_types_borrow_outgoing_response(response), &body)) {
      abort();
    }
    wasi_http_types_result_own_outgoing_response_error_code_t result = {
        .is_err = false, .val = {.ok = response}};
    wasi_http_types_static_response_outparam_set(response_out, &result);
    wasi_http_types_own_output_stream_t stream;
    if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body),
                                                    &stream)) {
      abort();
    }
    static const char* const kPieces[] = {"one", "two", "three"};
    for (int i = 0; i < 3; ++i) {
      if (i > 0) {
        wasi_io_poll_own_pollable_t later =
            wasi_clocks_monotonic_clock_subscribe_duration(30ULL * 1000 * 1000);
        wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(later));
        wasi_io_poll_pollable_drop_own(later);
      }
      proxy_list_u8_t piece = {(uint8_t*)kPieces[i], strlen(kPieces[i])};
      wasi_io_streams_stream_error_t err;
      (void)wasi_io_streams_method_output_stream_blocking_write_and_flush(
          wasi_io_streams_borrow_output_stream(stream), &piece, &err);
    }
    wasi_io_streams_output_stream_drop_own(stream);
    wasi_http_types_error_code_t err;
    (void)wasi_http_types_static_outgoing_body_finish(body, NULL, &err);
  } else if (strcmp(path.data, "/flood") == 0) {
    static char big[1 << 20];
    memset(big, 'x', sizeof big);
    nh_respond(response_out, 200, kText, big, sizeof big);
  } else if (strcmp(path.data, "/state") == 0) {
    char text[32];
    int n = snprintf(text, sizeof text, "%d", requests_seen);
    nh_respond(response_out, 200, kText, text, (size_t)n);
  } else if (strcmp(path.data, "/stderr") == 0) {
    fprintf(stderr, "http_guest: logged to stderr\n");
    fflush(stderr);
    nh_respond(response_out, 200, kText, "logged", 6);
  } else {
    nh_respond(response_out, 200, kText, "ok", 2);
  }
  nh_free(&path);
}
