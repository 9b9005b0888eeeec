//! Property tests of the names that take outside input: app names,
//! hostnames and configuration keys arrive in URLs, CLI arguments and
//! request bodies.

use crate::keyvalue::check_config_key;
use crate::{AppName, Hostname};
use proptest::prelude::*;

proptest! {
    /// Any text: parsing never panics; a name that parses is itself, and
    /// fits in a DNS label under the server's domain.
    #[test]
    fn an_app_name_is_kept_as_given(text in "\\PC{0,50}|[a-z0-9-]{1,45}") {
        if let Ok(name) = text.parse::<AppName>() {
            prop_assert_eq!(name.as_str(), text.as_str());
            prop_assert!(name.as_str().len() <= 63);
            prop_assert!(name.as_str().parse::<Hostname>().is_ok());
        }
    }

    /// Any text: parsing never panics; a hostname that parses is lowercase,
    /// has no trailing dot, and parses again as itself.
    #[test]
    fn a_hostname_is_kept_in_one_form(text in "\\PC{0,80}|[a-zA-Z0-9.-]{1,80}") {
        if let Ok(host) = text.parse::<Hostname>() {
            let again = host.as_str().parse::<Hostname>();
            prop_assert_eq!(again.as_ref().ok(), Some(&host));
            prop_assert!(!host.as_str().ends_with('.'));
            prop_assert_eq!(host.as_str().to_ascii_lowercase(), host.as_str());
        }
    }

    /// Any text: checking a configuration key never panics, and a key it
    /// accepts is plain ASCII, safe in an environment variable's name.
    #[test]
    fn a_configuration_key_is_checked_without_panicking(text in "\\PC{0,140}|[A-Za-z0-9_.-]{1,140}") {
        if check_config_key(&text).is_ok() {
            prop_assert!(text.is_ascii());
            prop_assert!((1..=128).contains(&text.len()));
        }
    }
}
