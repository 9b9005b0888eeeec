//! Reports which deployment is answering, as JSON:
//! `{"app": .., "digest": .., "deployed_at": .., "preview": ..}`.

use wharf_sdk::{Request, Response, deployment, handler};

#[handler]
fn whoami(_request: Request) -> Response {
    let me = deployment::current();
    Response::json(&Facts {
        app: &me.app,
        digest: &me.digest,
        deployed_at: me.deployed_at,
        preview: me.preview,
    })
}

#[derive(serde::Serialize)]
struct Facts<'a> {
    app: &'a str,
    digest: &'a str,
    deployed_at: u64,
    preview: bool,
}
