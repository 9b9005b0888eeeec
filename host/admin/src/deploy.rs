//! Receiving a deploy: stream the upload, validate it, store it, and only
//! then record it and move the pointer.

use crate::access::{AuditNote, Caller};
use crate::api::DeployResult;
use crate::error::ApiError;
use crate::extract::AppParam;
use crate::state::Admin;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt;
use std::sync::Arc;
use wharf_registry::{Action, AppName, Deployment, NewDeployment, PreviewAccess, Role};
use wharf_runtime::BodyStalled;
use wharf_server::FetchError;
use wharf_store::{BlobKey, DigestWriter};

/// The longest deploy message accepted.
pub const MAX_MESSAGE_LEN: usize = 1000;

/// What the deploy's query string asks for.
#[derive(Debug, Default)]
pub(crate) struct DeployOptions {
    /// Record without going live.
    pub preview: bool,
    /// The deployer's note.
    pub message: String,
    /// `allow_outbound` origins; when any are given they replace the app's
    /// outbound allow-list.
    pub allow_outbound: Vec<String>,
}

impl DeployOptions {
    pub fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut options = Self::default();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match &*name {
                "preview" => {
                    options.preview = match &*value {
                        "" | "1" | "true" => true,
                        "0" | "false" => false,
                        other => {
                            return Err(ApiError::bad_request(format!(
                                "preview must be true or false, not `{other}`"
                            )));
                        }
                    }
                }
                "message" => {
                    if value.chars().count() > MAX_MESSAGE_LEN || value.contains('\0') {
                        return Err(ApiError::bad_request(format!(
                            "the message must be at most {MAX_MESSAGE_LEN} characters of text"
                        )));
                    }
                    options.message = value.into_owned();
                }
                "allow_outbound" => {
                    check_origin(&value)?;
                    options.allow_outbound.push(value.into_owned());
                }
                other => {
                    return Err(ApiError::bad_request(format!(
                        "unknown deploy parameter `{other}`; use preview, message and allow_outbound"
                    )));
                }
            }
        }
        if options.preview && !options.allow_outbound.is_empty() {
            // Previews share the app's settings, so this would widen what the
            // live deployment may reach.
            return Err(ApiError::bad_request(
                "allow_outbound changes the app's allow-list, which its live deployment uses too, \
                 so it cannot come with preview; set it with `wharf settings APP --allow-outbound`",
            ));
        }
        Ok(options)
    }
}

/// Refuses an outbound origin that does not parse, saying how to write one.
pub(crate) fn check_origin(origin: &str) -> Result<(), ApiError> {
    origin
        .parse::<wharf_runtime::OriginRule>()
        .map(drop)
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// Logs why a deploy to `app` was refused, and says it to the deployer.
fn refused(app: &AppName, e: FetchError) -> ApiError {
    tracing::info!(%app, "deploy refused: {e}");
    ApiError::from(e)
}

/// Why reading the upload failed: the client went quiet (408, naming the
/// timeout) or broke off (400).
fn upload_failed(e: axum::Error) -> ApiError {
    let e = e.into_inner();
    match e.downcast_ref::<BodyStalled>() {
        Some(stalled) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the upload stalled: {stalled}; nothing was deployed"),
        ),
        None => ApiError::bad_request(format!("the upload was interrupted: {e}")),
    }
}

/// Reads the upload, hashing it as it arrives and refusing it with 413 as
/// soon as it passes `limit` bytes.
async fn read_upload(
    mut body: Body,
    declared: Option<u64>,
    limit: u64,
) -> Result<(Vec<u8>, wharf_store::Digest), ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the upload is larger than the server's {limit}-byte deploy limit \
                 (`wharf serve --max-deploy-size`)"
            ),
        )
    };
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let capacity = usize::try_from(declared.unwrap_or(0).min(limit)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    let mut hasher = DigestWriter::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(upload_failed)?;
        if let Ok(data) = frame.into_data() {
            if (bytes.len() + data.len()) as u64 > limit {
                return Err(too_large());
            }
            hasher.update(&data);
            bytes.extend_from_slice(&data);
        }
    }
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "the upload is empty; send the component's bytes as the request body",
        ));
    }
    Ok((bytes, hasher.finish().0))
}

/// `POST /v1/apps/{app}/deployments?preview=&message=&allow_outbound=`:
/// deploys the body, a component or a WASI preview1 core module.
pub(crate) async fn deploy(
    State(admin): State<Arc<Admin>>,
    Extension(caller): Extension<Caller>,
    AppParam(app): AppParam,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let result = admin
        .deploy(app, &caller, query.as_deref(), declared, body)
        .await?;
    let note = AuditNote(format!(
        "{} {}",
        if result.live { "live:" } else { "preview:" },
        result.digest
    ));
    let mut response = (StatusCode::CREATED, Json(result)).into_response();
    response.extensions_mut().insert(note);
    Ok(response)
}

impl Admin {
    /// Deploys the upload in `body` to `app`.
    ///
    /// The pointer moves only after the blob is stored and validated, inside
    /// one registry change, so a crash at any point leaves no deployment
    /// that names a missing or invalid blob (at worst an unreferenced blob,
    /// which garbage collection removes).
    pub(crate) async fn deploy(
        &self,
        app: AppName,
        caller: &Caller,
        query: Option<&str>,
        declared: Option<u64>,
        body: Body,
    ) -> Result<DeployResult, ApiError> {
        let options = DeployOptions::parse(query)?;
        if !options.allow_outbound.is_empty() {
            // The outbound allow-list is a setting: an admin's to change.
            caller.require(Role::Admin, Some(&app))?;
        }
        let (upload, upload_digest) = read_upload(body, declared, self.max_deploy_bytes).await?;
        tracing::info!(%app, size = upload.len(), digest = %upload_digest, "deploy received");

        let prepared = tokio::task::spawn_blocking(move || wharf_runtime::prepare(upload))
            .await
            .map_err(ApiError::task_stopped)?
            .map_err(|e| refused(&app, e.into()))?;
        let bytes = Bytes::from(prepared.bytes);
        let key = BlobKey::of(&bytes);
        // The same chain a request's load takes: the compiled code is kept
        // on disk, in memory for the first request, and sealed for the
        // cluster.
        let compiled = self
            .router
            .components()
            .load_upload(key, bytes.clone())
            .await
            .map_err(|e| refused(&app, e))?;
        let outcome = self.store.put(bytes.clone()).await?;

        let interfaces = compiled.interfaces();
        let new = NewDeployment {
            app: app.clone(),
            key,
            token_name: caller.name.clone(),
            message: options.message.clone(),
            imports: interfaces.imports.clone(),
            exports: interfaces.exports.clone(),
            adapted: prepared.adapted,
        };
        let (deployment, previous) = self.record(&new, &options, bytes).await?;
        let capabilities = wharf_runtime::capabilities(&deployment.imports);
        let added_capabilities = added_capabilities(&capabilities, previous.as_ref());
        if !added_capabilities.is_empty() {
            tracing::info!(%app, added = ?added_capabilities, "deploy imports new capabilities");
        }
        tracing::info!(
            %app,
            digest = %key.digest,
            uploaded = outcome.uploaded,
            live = !options.preview,
            adapted = prepared.adapted,
            "deployed"
        );
        // The deploy is recorded: a link that cannot be made is logged, not
        // reported as a failed deploy (`wharf deployments link` makes one).
        let preview_link = if options.preview {
            let link = async {
                if self.registry.settings(&app).await?.previews != PreviewAccess::Token {
                    return Ok(None);
                }
                self.preview_link(&app, &deployment)
                    .await
                    .map(|link| Some(link.link))
            };
            link.await.unwrap_or_else(|e: ApiError| {
                tracing::warn!(%app, "cannot make a preview link: {}", e.message);
                None
            })
        } else {
            None
        };

        Ok(DeployResult {
            app: app.to_string(),
            digest: key.digest.to_string(),
            key: key.to_string(),
            size: key.size,
            uploaded: outcome.uploaded,
            live: !options.preview,
            adapted: prepared.adapted,
            url: self.urls.app(&app),
            preview_url: self.urls.preview(&deployment),
            preview_link,
            deployment_id: deployment.id,
            imports: deployment.imports,
            exports: deployment.exports,
            capabilities,
            added_capabilities,
        })
    }

    /// Records `new` in one registry change, with the blob `bytes` stored
    /// before it (again, if garbage collection took it meanwhile), and moves
    /// the pointer unless it is a preview. Returns the deployment and what
    /// was live before.
    async fn record(
        &self,
        new: &NewDeployment,
        options: &DeployOptions,
        bytes: Bytes,
    ) -> Result<(Deployment, Option<Deployment>), ApiError> {
        let app = &new.app;
        let mut change = self.registry.begin().await?;
        // Garbage collection holds the same lock while it deletes, so once
        // the blob is seen here it stays until this change commits.
        if !self.store.contains(&new.key).await? {
            self.store.put(bytes).await?;
        }
        let deployment = change.record_deployment(new).await?;
        // Recording creates a new app and never moves the live pointer, so
        // this is what was live before the deploy.
        let previous = change.current(app).await?;
        if !options.allow_outbound.is_empty() {
            let mut settings = change.settings(app).await?;
            settings.outbound = options.allow_outbound.clone();
            change.set_settings(app, &settings).await?;
        }
        if !options.preview {
            change
                .go_live(&deployment, Action::Deploy, &new.token_name)
                .await?;
        }
        change.commit().await?;
        Ok((deployment, previous))
    }
}

/// The `capabilities` of a deployment that `previous`, the deployment live
/// before it, did not have; none for an app's first deployment, where
/// nothing is new.
fn added_capabilities(capabilities: &[String], previous: Option<&Deployment>) -> Vec<String> {
    let Some(previous) = previous else {
        return Vec::new();
    };
    let before = wharf_runtime::capabilities(&previous.imports);
    capabilities
        .iter()
        .filter(|capability| !before.contains(capability))
        .cloned()
        .collect()
}
