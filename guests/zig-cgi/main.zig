//! A plain WASI command in Zig that wharf serves CGI-style: it reads the
//! request body from stdin and CGI variables from the environment, and
//! writes a CGI response to stdout. Built as a wasm32-wasi core module,
//! which the build adapts into a wasi:cli/run component with the preview1
//! command adapter.
//!
//! Stdin and stdout are read and written in streaming mode: through the
//! WASI preview1 adapter, positional reads of stdin fail instead of
//! reporting that stdin is not seekable.
const std = @import("std");

pub fn main(init: std.process.Init) !void {
    const io = init.io;
    const env = init.environ_map;
    const method = env.get("REQUEST_METHOD") orelse "GET";
    const path = env.get("PATH_INFO") orelse "/";
    const query = env.get("QUERY_STRING") orelse "";

    var in_buf: [4096]u8 = undefined;
    var stdin = std.Io.File.stdin().reader(io, &in_buf);
    var total: usize = 0;
    var chunk: [4096]u8 = undefined;
    while (true) {
        const n = try stdin.interface.readSliceShort(&chunk);
        if (n == 0) break;
        total += n;
    }

    var out_buf: [4096]u8 = undefined;
    var stdout = std.Io.File.stdout().writer(io, &out_buf);
    const out = &stdout.interface;
    try out.print("Content-Type: text/plain\r\nX-Guest: zig\r\n\r\n", .{});
    try out.print("zig cgi: method={s} path={s} query={s} body_bytes={d}\n", .{ method, path, query, total });
    try out.flush();
}
