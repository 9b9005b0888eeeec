//! Property tests of the parsers that take outside input: origin rules
//! arrive in flags and the admin API, and hosts in every request.

use crate::OriginRule;
use crate::authority::{split_host_port, strip_port};
use proptest::prelude::*;

proptest! {
    /// Any text: parsing never panics, and a rule that parses is written
    /// back in a form that parses to the same rule.
    #[test]
    fn an_origin_rule_reads_back_as_written(
        text in "\\PC{0,60}|(https?://)?(\\*\\.)?[a-z0-9.:\\[\\]*-]{0,40}(:[0-9]{0,6})?/?",
    ) {
        if let Ok(rule) = text.parse::<OriginRule>() {
            let written = rule.to_string();
            prop_assert_eq!(written.parse::<OriginRule>().ok(), Some(rule));
        }
    }

    /// Any text: splitting a `host[:port]` never panics, and what it
    /// returns is part of the text; stripping the port keeps a prefix.
    #[test]
    fn a_host_splits_within_its_text(text in "\\PC{0,60}|\\[[0-9a-f:]{0,20}\\]?(:[0-9]{0,6})?") {
        if let Some((host, port)) = split_host_port(&text) {
            prop_assert!(text.contains(host));
            if let Some(port) = port {
                prop_assert!(text.ends_with(port));
            }
        }
        prop_assert!(text.starts_with(strip_port(&text)));
    }
}
