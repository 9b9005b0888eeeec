//! The access-log flags of `wharf serve` and `wharf run`.

use wharf_server::observe::AccessLog;

/// What is logged for each request.
#[derive(clap::Args, Clone, Debug)]
pub struct AccessLogArgs {
    /// Write one log line per request (target `wharf::access`): app,
    /// digest, method, path, status, bytes, duration, request id, client
    /// address.
    #[arg(long, env = "WHARF_ACCESS_LOG", default_value_t = true, action = clap::ArgAction::Set, value_name = "true|false")]
    access_log: bool,

    /// Keep the query string in the access log's paths. Off by default:
    /// query strings often carry tokens.
    #[arg(long, env = "WHARF_ACCESS_LOG_QUERY")]
    access_log_query: bool,
}

impl AccessLogArgs {
    /// The access log of the listener named `listener`.
    pub fn access_log(&self, listener: &'static str) -> AccessLog {
        AccessLog {
            listener,
            enabled: self.access_log,
            with_query: self.access_log_query,
        }
    }
}
