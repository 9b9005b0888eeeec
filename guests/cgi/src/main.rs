//! A plain WASI command that wharf serves CGI-style. It reads the request
//! body from stdin and the request line from CGI variables, and writes a
//! CGI response to stdout.
//!
//! - `/plain` prints a line with no CGI headers;
//! - `/missing` answers `Status: 404`;
//! - `/redirect` answers with only a `Location`;
//! - `/inject` writes a header with a bare CR in it, which wharf refuses;
//! - `/long-head?bytes=N` writes a header block of about N bytes;
//! - `/space-before-colon` writes `Content-Type : text/plain`, which wharf
//!   refuses;
//! - `/count` reads the whole body and reports its length;
//! - `/big?bytes=N` writes N bytes of body;
//! - `/fail` exits with a failure status;
//! - `/client` reports the client's address and the forwarding headers it
//!   received;
//! - `/credentials` reports the cookies and the preview-token header it
//!   received (wharf removes its own);
//! - anything else answers 201 with what it received.

use std::io::{Read, Write};

fn main() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let path = var("PATH_INFO");
    let query = var("QUERY_STRING");
    let mut out = std::io::stdout().lock();
    match path.as_str() {
        "/plain" => writeln!(out, "plain output"),
        "/missing" => write!(out, "Status: 404 Not Found\r\n\r\nno such page\n"),
        "/redirect" => write!(out, "Location: /elsewhere\r\n\r\n"),
        "/inject" => write!(out, "X-Note: a\rSet-Cookie: stolen=1\r\n\r\nbody\n"),
        "/long-head" => {
            let bytes: usize = query
                .strip_prefix("bytes=")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            // Lines of 1,000 bytes: `X-Pad-NNNNNN: ` and padding, CRLF.
            for line in 0..bytes.div_ceil(1000) {
                write!(out, "X-Pad-{line:06}: {}\r\n", "p".repeat(984)).expect("stdout");
            }
            write!(out, "\r\nafter a long head\n")
        }
        "/space-before-colon" => write!(out, "Content-Type : text/plain\r\n\r\nbody\n"),
        "/count" => {
            let mut body = Vec::new();
            std::io::stdin().read_to_end(&mut body).expect("stdin");
            writeln!(out, "read {} bytes", body.len())
        }
        "/big" => {
            let bytes: usize = query
                .strip_prefix("bytes=")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            write!(out, "Content-Type: application/octet-stream\r\n\r\n").expect("stdout");
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(chunk.len());
                out.write_all(&chunk[..n]).expect("stdout");
                left -= n;
            }
            Ok(())
        }
        "/client" => writeln!(
            out,
            "remote={} client={} x-forwarded-for={} forwarded={} x-forwarded-proto={}",
            var("REMOTE_ADDR"),
            var("HTTP_WHARF_CLIENT_IP"),
            var("HTTP_X_FORWARDED_FOR"),
            var("HTTP_FORWARDED"),
            var("HTTP_X_FORWARDED_PROTO"),
        ),
        "/credentials" => writeln!(
            out,
            "cookie={} preview-token={}",
            var("HTTP_COOKIE"),
            var("HTTP_WHARF_PREVIEW_TOKEN"),
        ),
        "/fail" => {
            eprintln!("cgi guest failing on purpose");
            std::process::exit(3);
        }
        _ => {
            let mut body = String::new();
            std::io::stdin().read_to_string(&mut body).expect("stdin");
            write!(
                out,
                "Status: 201 Created\r\nContent-Type: text/plain\r\nX-Cgi: yes\r\n\r\n\
                 method={} path={path} query={query} type={} port={} body={body}\n",
                var("REQUEST_METHOD"),
                var("CONTENT_TYPE"),
                var("SERVER_PORT"),
            )
        }
    }
    .expect("stdout");
    out.flush().expect("stdout");
}
