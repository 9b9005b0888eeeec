//! The `wharf:app` world from `wit/`: its host bindings, and the check that a
//! component fits it before anything is instantiated.

pub(crate) mod binary;

use crate::LoadError;
use wasmtime::Engine;
use wasmtime::component::Component;

/// Host bindings for the `wharf:app` world. The WASI 0.2 imports are
/// implemented by wasmtime-wasi and wasmtime-wasi-http; wharf implements
/// `wasi:config`, `wasi:keyvalue`, `wharf:app/deployment`,
/// `wasi:sockets/ip-name-lookup` and `wasi:sockets/tcp-create-socket`
/// itself (in `capabilities/`). The `with:` mapping below names wharf's
/// own resource types in `capabilities/`, which in turn implement the
/// generated traits: that circle is how `bindgen!` works.
pub(crate) mod generated {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "wharf:app/app",
        exports: { default: async },
        imports: {
            "wasi:keyvalue": async,
            "wasi:sockets/ip-name-lookup": trappable,
            "wasi:sockets/tcp-create-socket": trappable,
        },
        trappable_error_type: {
            "wasi:sockets/network.error-code" => wasmtime_wasi::p2::SocketError,
        },
        require_store_data_send: true,
        with: {
            "wasi:keyvalue/store.bucket": crate::capabilities::Bucket,
            // wharf resolves names and creates sockets itself, by the
            // app's outbound rules; wasmtime-wasi implements the rest of
            // wasi:sockets.
            "wasi:sockets/ip-name-lookup.resolve-address-stream": crate::capabilities::ResolveAddressStream,
            "wasi:sockets/network": wasmtime_wasi::p2::bindings::sockets::network,
            "wasi:sockets/instance-network": wasmtime_wasi::p2::bindings::sockets::instance_network,
            "wasi:sockets/tcp": wasmtime_wasi::p2::bindings::sockets::tcp,
            "wasi:sockets/udp": wasmtime_wasi::p2::bindings::sockets::udp,
            "wasi:sockets/udp-create-socket": wasmtime_wasi::p2::bindings::sockets::udp_create_socket,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:cli": wasmtime_wasi::p2::bindings::cli,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:random": wasmtime_wasi::p2::bindings::random,
            "wasi:filesystem": wasmtime_wasi::p2::bindings::filesystem,
        },
    });
}

pub(crate) use generated::AppPre;

/// The interfaces wharf provides to apps, without versions. Any 0.2.x version
/// of each is accepted. This is exactly the import list of the `app` world in
/// `wit/world.wit`; a test below keeps the two in step.
pub const PROVIDED_IMPORTS: &[&str] = &[
    // wharf's own additions
    "wasi:config/store",
    "wasi:keyvalue/store",
    "wasi:keyvalue/atomics",
    "wasi:keyvalue/batch",
    "wharf:app/deployment",
    // wasi:http/proxy
    "wasi:http/types",
    "wasi:http/outgoing-handler",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    // language runtimes' start-up imports, served empty
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    // sockets, which reach only what the app's outbound rules allow
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/ip-name-lookup",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
];

/// The imports that reach beyond the request itself: outbound HTTP,
/// sockets, the app's configuration, its key-value data and its deployment
/// facts. A deploy lists those its component imports, and names any the
/// live deployment did not. `wasi:sockets` stands for every interface of
/// that package.
pub const CAPABILITIES: &[&str] = &[
    "wasi:http/outgoing-handler",
    "wasi:sockets",
    "wasi:config/store",
    "wasi:keyvalue/store",
    "wasi:keyvalue/atomics",
    "wasi:keyvalue/batch",
    "wharf:app/deployment",
];

/// The capabilities among `imports`, without versions, in
/// [`CAPABILITIES`] order.
pub fn capabilities<S: AsRef<str>>(imports: &[S]) -> Vec<String> {
    CAPABILITIES
        .iter()
        .filter(|capability| {
            imports.iter().any(|import| {
                let base = split_version(import.as_ref()).0;
                base == **capability
                    || base
                        .strip_prefix(**capability)
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        })
        .map(|capability| (*capability).to_owned())
        .collect()
}

/// The export of an HTTP app.
pub const HTTP_HANDLER_EXPORT: &str = "wasi:http/incoming-handler";
/// The export of a command, served CGI-style.
pub const CLI_RUN_EXPORT: &str = "wasi:cli/run";

/// How a component is served, decided by what it exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppKind {
    /// It exports `wasi:http/incoming-handler`: requests stream in and out.
    Http,
    /// It exports only `wasi:cli/run`: a command served CGI-style, with the
    /// request body on stdin and the response on stdout.
    Command,
}

/// The major.minor series of WASI that wharf implements.
const WASI_SERIES: &str = "0.2";

/// Splits `wasi:http/types@0.2.4` into `("wasi:http/types", Some("0.2.4"))`.
fn split_version(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((base, version)) => (base, Some(version)),
        None => (name, None),
    }
}

/// Whether `version` is in the 0.2.x series wharf implements.
fn in_series(version: Option<&str>) -> bool {
    version.is_some_and(|v| {
        v.strip_prefix(WASI_SERIES)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// Whether wharf implements `version` of the interface `base`. The WASI
/// 0.2 interfaces are stable, so any 0.2.x will do; the drafts that wharf
/// adds are matched exactly, since a different draft may differ in shape.
fn accepts_version(base: &str, version: Option<&str>) -> bool {
    if base.starts_with("wasi:config/") {
        version == Some("0.2.0-rc.1")
    } else if base.starts_with("wasi:keyvalue/") {
        version == Some("0.2.0-draft")
    } else if base.starts_with("wharf:app/") {
        version.is_some_and(|v| v.starts_with("0.1."))
    } else {
        in_series(version)
    }
}

fn is_provided(import: &str) -> bool {
    let (base, version) = split_version(import);
    PROVIDED_IMPORTS.contains(&base) && accepts_version(base, version)
}

/// What a component imports and exports, by full versioned name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interfaces {
    /// Its imports, e.g. `wasi:http/types@0.2.4`.
    pub imports: Vec<String>,
    /// Its exports, e.g. `wasi:http/incoming-handler@0.2.4`.
    pub exports: Vec<String>,
}

/// Checks that `component` imports nothing wharf does not provide and
/// exports the HTTP handler or `wasi:cli/run`, naming every offending import
/// or the exports it has instead.
pub(crate) fn check(
    engine: &Engine,
    component: &Component,
) -> Result<(Interfaces, AppKind), LoadError> {
    let ty = component.component_type();
    let imports = ty
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let exports = ty
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    classify(Interfaces { imports, exports })
}

/// [`check`] on the component's bytes, before anything is compiled: reads
/// the names it imports and exports at its top level, so a component that
/// wharf cannot serve is refused in milliseconds however large it is.
pub fn check_bytes(bytes: &[u8]) -> Result<(Interfaces, AppKind), LoadError> {
    use wasmparser::{BinaryReader, ComponentExportSectionReader, ComponentImportSectionReader};
    const IMPORT_SECTION: u8 = 10;
    const EXPORT_SECTION: u8 = 11;
    let sections = binary::sections(bytes).ok_or(LoadError::NotWasm)?;
    let mut interfaces = Interfaces::default();
    for section in sections {
        let reader = BinaryReader::new(section.contents, 0);
        match section.id {
            IMPORT_SECTION => {
                for import in
                    ComponentImportSectionReader::new(reader).map_err(LoadError::Malformed)?
                {
                    let import = import.map_err(LoadError::Malformed)?;
                    interfaces.imports.push(import.name.name.to_owned());
                }
            }
            EXPORT_SECTION => {
                for export in
                    ComponentExportSectionReader::new(reader).map_err(LoadError::Malformed)?
                {
                    let export = export.map_err(LoadError::Malformed)?;
                    interfaces.exports.push(export.name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    classify(interfaces)
}

/// Refuses imports wharf does not provide, and finds how the component is
/// served from its exports.
fn classify(interfaces: Interfaces) -> Result<(Interfaces, AppKind), LoadError> {
    let unsupported: Vec<String> = interfaces
        .imports
        .iter()
        .filter(|name| !is_provided(name))
        .cloned()
        .collect();
    if !unsupported.is_empty() {
        return Err(LoadError::UnsupportedImports {
            imports: unsupported,
        });
    }
    let exports_one = |wanted: &str| {
        interfaces.exports.iter().any(|name| {
            let (base, version) = split_version(name);
            base == wanted && in_series(version)
        })
    };
    let kind = if exports_one(HTTP_HANDLER_EXPORT) {
        AppKind::Http
    } else if exports_one(CLI_RUN_EXPORT) {
        AppKind::Command
    } else {
        return Err(LoadError::MissingHandler {
            exports: interfaces.exports,
        });
    };
    Ok((interfaces, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_in_the_series_are_accepted() {
        assert!(is_provided("wasi:http/types@0.2.0"));
        assert!(is_provided("wasi:http/types@0.2.12"));
        assert!(is_provided("wasi:cli/environment@0.2.4"));
        assert!(!is_provided("wasi:http/types@0.3.0-rc-2025-09-16"));
        assert!(!is_provided("wasi:http/types@0.20.0"));
        assert!(!is_provided("wasi:http/types"));
        assert!(is_provided("wasi:sockets/tcp@0.2.0"));
        assert!(!is_provided("wasi:sockets/tcp@0.3.0-rc-2025-09-16"));
        assert!(is_provided("wasi:keyvalue/atomics@0.2.0-draft"));
        assert!(!is_provided("wasi:keyvalue/atomics@0.2.0-draft2"));
        assert!(is_provided("wasi:config/store@0.2.0-rc.1"));
        assert!(is_provided("wharf:app/deployment@0.1.0"));
        assert!(!is_provided("wharf:app/deployment@0.2.0"));
    }

    #[test]
    fn capabilities_are_picked_out_of_imports() {
        let imports = [
            "wasi:io/streams@0.2.0",
            "wasi:keyvalue/atomics@0.2.0-draft",
            "wasi:http/outgoing-handler@0.2.4",
        ];
        assert_eq!(
            capabilities(&imports),
            ["wasi:http/outgoing-handler", "wasi:keyvalue/atomics"]
        );
        assert!(capabilities::<&str>(&[]).is_empty());
        // Every interface of wasi:sockets counts as the one capability.
        let imports = ["wasi:sockets/tcp@0.2.9", "wasi:sockets/network@0.2.9"];
        assert_eq!(capabilities(&imports), ["wasi:sockets"]);
        assert!(capabilities(&["wasi:socketsfoo/x@0.2.0"]).is_empty());
    }

    /// The provided list must match the world the guests build against.
    #[test]
    fn provided_imports_match_the_world() {
        let world = include_str!("../../../../wit/world.wit");
        let proxy = include_str!("../../../../wit/deps/http.wit");
        // Each world names interfaces of its own package without one.
        let qualify = |package: &'static str| {
            move |name: String| {
                if name.contains(':') {
                    name
                } else {
                    format!("{package}/{name}")
                }
            }
        };
        let world_imports = imports_of(world, "world app")
            .into_iter()
            .map(qualify("wharf:app"));
        let proxy_imports = imports_of(proxy, "world proxy")
            .into_iter()
            .map(qualify("wasi:http"));
        let mut from_wit: Vec<String> = world_imports.chain(proxy_imports).collect();
        from_wit.sort();
        from_wit.dedup();
        let mut provided: Vec<String> = PROVIDED_IMPORTS.iter().map(|s| s.to_string()).collect();
        provided.sort();
        assert_eq!(provided, from_wit);
    }

    /// The `import` lines of one world in a WIT file, without versions.
    fn imports_of(wit: &str, world: &str) -> Vec<String> {
        let start = wit.find(world).expect("world present");
        let body = &wit[start..];
        let body = &body[..body.find("\n}").expect("world closes")];
        body.lines()
            .filter_map(|line| line.trim().strip_prefix("import "))
            .map(|rest| split_version(rest.trim_end_matches(';')).0.to_owned())
            .collect()
    }
}
