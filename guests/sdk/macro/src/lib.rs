//! The `#[handler]` attribute of `wharf-sdk`; use it through `wharf_sdk::handler`.

use proc_macro::{Ident, Span, TokenStream, TokenTree};

/// Marks the function that answers every request of a wharf app.
///
/// The function takes a `wharf_sdk::Request` and returns anything that
/// implements `wharf_sdk::IntoResponse`. The attribute keeps the function as
/// written and exports it as the app's `wasi:http/incoming-handler`.
#[proc_macro_attribute]
pub fn handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    if let Some(extra) = attr.into_iter().next() {
        return compile_error(
            extra.span(),
            "#[handler] takes no arguments; write `#[wharf_sdk::handler]`",
        );
    }
    let Some(name) = function_name(item.clone()) else {
        return compile_error(
            Span::call_site(),
            "#[handler] goes on a function: `#[wharf_sdk::handler] fn handle(request: Request) -> Response`",
        );
    };
    let export: TokenStream = format!("::wharf_sdk::__export_handler!({name});")
        .parse()
        .expect("the export call is valid Rust");
    let mut out = item;
    out.extend(export);
    out
}

/// The name of the function an attribute was put on: the identifier after `fn`.
fn function_name(item: TokenStream) -> Option<Ident> {
    let mut tokens = item.into_iter();
    while let Some(token) = tokens.next() {
        if let TokenTree::Ident(ident) = &token
            && ident.to_string() == "fn"
        {
            return match tokens.next() {
                Some(TokenTree::Ident(name)) => Some(name),
                _ => None,
            };
        }
    }
    None
}

/// A `compile_error!` pointing at `span`.
fn compile_error(span: Span, message: &str) -> TokenStream {
    let call: TokenStream = format!("::core::compile_error!({message:?});")
        .parse()
        .expect("the compile_error call is valid Rust");
    call.into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}
