//! A plain WASI command that wharf serves CGI-style. It reads the request
//! body from stdin and the request line from CGI variables, and writes a
//! CGI response to stdout.
//!
//! - `/plain` prints a line with no CGI headers;
//! - `/fail` exits with a failure status;
//! - `/big?bytes=N` prints N bytes;
//! - anything else answers 201 with what it received.

use std::io::{Read, Write};

fn main() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let path = var("PATH_INFO");
    let query = var("QUERY_STRING");
    let mut out = std::io::stdout().lock();
    match path.as_str() {
        "/plain" => {
            writeln!(out, "plain output").expect("stdout");
        }
        "/fail" => {
            eprintln!("cgi guest failing on purpose");
            std::process::exit(3);
        }
        "/big" => {
            let bytes: usize = query
                .strip_prefix("bytes=")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            write!(out, "Content-Type: application/octet-stream\r\n\r\n").expect("stdout");
            out.write_all(&vec![b'x'; bytes]).expect("stdout");
        }
        _ => {
            let mut body = String::new();
            std::io::stdin().read_to_string(&mut body).expect("stdin");
            write!(
                out,
                "Status: 201 Created\r\nContent-Type: text/plain\r\nX-Cgi: yes\r\n\r\n\
                 method={} path={path} query={query} type={} body={body}\n",
                var("REQUEST_METHOD"),
                var("CONTENT_TYPE"),
            )
            .expect("stdout");
        }
    }
    out.flush().expect("stdout");
}
