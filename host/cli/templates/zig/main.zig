//! `{{name}}`: a CGI-style app for wharf, in Zig. The request body is on
//! stdin and the request line in CGI variables; what it writes to stdout
//! (an optional header block, a blank line, then the body) is the response.
const std = @import("std");

pub fn main(init: std.process.Init) !void {
    const io = init.io;
    const method = init.environ_map.get("REQUEST_METHOD") orelse "GET";
    const path = init.environ_map.get("PATH_INFO") orelse "/";

    // Read the whole body; stdin ends where the request body ends.
    var in_buf: [4096]u8 = undefined;
    var stdin = std.Io.File.stdin().reader(io, &in_buf);
    var body_bytes: usize = 0;
    var chunk: [4096]u8 = undefined;
    while (true) {
        const n = try stdin.interface.readSliceShort(&chunk);
        if (n == 0) break;
        body_bytes += n;
    }

    var out_buf: [4096]u8 = undefined;
    var stdout = std.Io.File.stdout().writer(io, &out_buf);
    const out = &stdout.interface;
    try out.print("Content-Type: text/plain; charset=utf-8\r\n\r\n", .{});
    try out.print("Hello from {{name}}! ({s} {s}, {d} body bytes)\n", .{ method, path, body_bytes });
    try out.flush();
}
