//! A wasi:http handler in Zig, on C bindings that `wit-bindgen c` generates
//! for the wharf:app world. It reads the request body as it arrives and
//! answers with what it saw:
//!
//!     zig http: method=POST path=/x?y=1 body_bytes=9
//!
//! The build (scripts/build-guests.sh) generates `app.h` and `app.c`,
//! compiles them with this file for wasm32-wasi as a reactor, embeds the
//! world's type information and adapts the module into a component with the
//! preview1 reactor adapter.
const std = @import("std");
const c = @import("app");

/// The most body bytes read from the request at once.
const chunk_size = 64 * 1024;

export fn exports_wasi_http_incoming_handler_handle(
    request: c.exports_wasi_http_incoming_handler_own_incoming_request_t,
    response_out: c.exports_wasi_http_incoming_handler_own_response_outparam_t,
) void {
    const borrowed = c.wasi_http_types_borrow_incoming_request(request);

    var method: c.wasi_http_types_method_t = undefined;
    c.wasi_http_types_method_incoming_request_method(borrowed, &method);
    var path: c.app_string_t = undefined;
    if (!c.wasi_http_types_method_incoming_request_path_with_query(borrowed, &path)) {
        c.app_string_dup(&path, "/");
    }
    defer c.app_string_free(&path);

    const body_bytes = readBody(borrowed) orelse return fail(response_out);
    c.wasi_http_types_incoming_request_drop_own(request);

    var text_buf: [1024]u8 = undefined;
    const text = std.fmt.bufPrint(&text_buf, "zig http: method={s} path={s} body_bytes={d}\n", .{
        methodName(&method),
        path.ptr[0..path.len],
        body_bytes,
    }) catch return fail(response_out);
    respond(response_out, 200, text);
}

/// Reads the whole request body, a chunk at a time, and returns its length.
fn readBody(request: c.wasi_http_types_borrow_incoming_request_t) ?u64 {
    var body: c.wasi_http_types_own_incoming_body_t = undefined;
    if (!c.wasi_http_types_method_incoming_request_consume(request, &body)) return null;
    var stream: c.wasi_io_streams_own_input_stream_t = undefined;
    if (!c.wasi_http_types_method_incoming_body_stream(c.wasi_http_types_borrow_incoming_body(body), &stream)) return null;

    var total: u64 = 0;
    const borrowed = c.wasi_io_streams_borrow_input_stream(stream);
    while (true) {
        var chunk: c.app_list_u8_t = undefined;
        var err: c.wasi_io_streams_stream_error_t = undefined;
        if (!c.wasi_io_streams_method_input_stream_blocking_read(borrowed, chunk_size, &chunk, &err)) {
            if (err.tag == c.WASI_IO_STREAMS_STREAM_ERROR_CLOSED) break;
            return null;
        }
        total += chunk.len;
        c.app_list_u8_free(&chunk);
    }
    c.wasi_io_streams_input_stream_drop_own(stream);
    c.wasi_http_types_future_trailers_drop_own(c.wasi_http_types_static_incoming_body_finish(body));
    return total;
}

/// Sends `status` with `text` as a plain-text body.
fn respond(
    response_out: c.exports_wasi_http_incoming_handler_own_response_outparam_t,
    status: u16,
    text: []const u8,
) void {
    const headers = c.wasi_http_types_constructor_fields();
    appendHeader(headers, "content-type", "text/plain; charset=utf-8");
    appendHeader(headers, "x-guest", "zig-http");

    const response = c.wasi_http_types_constructor_outgoing_response(headers);
    const borrowed = c.wasi_http_types_borrow_outgoing_response(response);
    _ = c.wasi_http_types_method_outgoing_response_set_status_code(borrowed, status);
    var body: c.wasi_http_types_own_outgoing_body_t = undefined;
    if (!c.wasi_http_types_method_outgoing_response_body(borrowed, &body)) unreachable;

    var result = std.mem.zeroes(c.wasi_http_types_result_own_outgoing_response_error_code_t);
    result.is_err = false;
    result.val.ok = response;
    c.wasi_http_types_static_response_outparam_set(response_out, &result);

    var stream: c.wasi_io_streams_own_output_stream_t = undefined;
    if (!c.wasi_http_types_method_outgoing_body_write(c.wasi_http_types_borrow_outgoing_body(body), &stream)) return;
    // blocking-write-and-flush takes at most 4096 bytes per call.
    var rest = text;
    while (rest.len > 0) {
        const n = @min(rest.len, 4096);
        var contents = c.app_list_u8_t{ .ptr = @constCast(rest.ptr), .len = n };
        var err: c.wasi_io_streams_stream_error_t = undefined;
        if (!c.wasi_io_streams_method_output_stream_blocking_write_and_flush(c.wasi_io_streams_borrow_output_stream(stream), &contents, &err)) return;
        rest = rest[n..];
    }
    c.wasi_io_streams_output_stream_drop_own(stream);
    var finish_err: c.wasi_http_types_error_code_t = undefined;
    _ = c.wasi_http_types_static_outgoing_body_finish(body, null, &finish_err);
}

/// Answers 500 when the request could not be read.
fn fail(response_out: c.exports_wasi_http_incoming_handler_own_response_outparam_t) void {
    respond(response_out, 500, "zig http: could not read the request\n");
}

fn appendHeader(headers: c.wasi_http_types_own_fields_t, name: []const u8, value: []const u8) void {
    var field_name = c.wasi_http_types_field_name_t{ .ptr = @constCast(name.ptr), .len = name.len };
    var field_value = c.wasi_http_types_field_value_t{ .ptr = @constCast(value.ptr), .len = value.len };
    var err: c.wasi_http_types_header_error_t = undefined;
    _ = c.wasi_http_types_method_fields_append(c.wasi_http_types_borrow_fields(headers), &field_name, &field_value, &err);
}

fn methodName(method: *const c.wasi_http_types_method_t) []const u8 {
    return switch (method.tag) {
        c.WASI_HTTP_TYPES_METHOD_GET => "GET",
        c.WASI_HTTP_TYPES_METHOD_HEAD => "HEAD",
        c.WASI_HTTP_TYPES_METHOD_POST => "POST",
        c.WASI_HTTP_TYPES_METHOD_PUT => "PUT",
        c.WASI_HTTP_TYPES_METHOD_DELETE => "DELETE",
        c.WASI_HTTP_TYPES_METHOD_CONNECT => "CONNECT",
        c.WASI_HTTP_TYPES_METHOD_OPTIONS => "OPTIONS",
        c.WASI_HTTP_TYPES_METHOD_TRACE => "TRACE",
        c.WASI_HTTP_TYPES_METHOD_PATCH => "PATCH",
        else => method.val.other.ptr[0..method.val.other.len],
    };
}
