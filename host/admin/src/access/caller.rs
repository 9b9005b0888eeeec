//! [`Caller`]: whoever a request's token says is calling.

use crate::api::describe_scope;
use crate::error::ApiError;
use http::StatusCode;
use wharf_registry::{AppName, Role, TokenRecord};

/// The token a request carries, resolved: the server's own token, the
/// peer credential, or a scoped token from the registry.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    /// Recorded with everything done: `admin`, `peer`, or the token's name.
    pub(crate) name: String,
    /// What it may do.
    pub(crate) role: Role,
    /// The apps it is limited to; empty for every app.
    pub(crate) apps: Vec<AppName>,
}

impl Caller {
    /// The server's own token: everything.
    pub(crate) fn server() -> Self {
        Self {
            name: "admin".to_owned(),
            role: Role::Admin,
            apps: Vec::new(),
        }
    }

    /// Another server of the cluster, reading this one's guest output.
    pub(crate) fn peer() -> Self {
        Self {
            name: "peer".to_owned(),
            role: Role::Read,
            apps: Vec::new(),
        }
    }

    /// Whether the caller may act on `app` at all.
    pub(crate) fn covers(&self, app: &AppName) -> bool {
        self.apps.is_empty() || self.apps.contains(app)
    }

    /// Whether the caller has the role `needs` on `app`, or, for what
    /// concerns no app, on every app (reading needs no more than any
    /// token). 403 naming what is missing otherwise.
    pub(crate) fn require(&self, needs: Role, app: Option<&AppName>) -> Result<(), ApiError> {
        let covered = match app {
            Some(app) => self.covers(app),
            None => self.apps.is_empty() || needs == Role::Read,
        };
        if self.role >= needs && covered {
            return Ok(());
        }
        crate::metrics::forbidden(needs);
        let on = match app {
            Some(app) => format!("on app `{app}`"),
            None => "on every app".to_owned(),
        };
        let has = describe_scope(&self.apps);
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "this needs the `{needs}` role {on}; token `{}` has `{}` on {has}",
                self.name, self.role
            ),
        ))
    }
}

impl From<TokenRecord> for Caller {
    fn from(token: TokenRecord) -> Self {
        Self {
            name: token.name.to_string(),
            role: token.role,
            apps: token.apps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str) -> AppName {
        name.parse().expect("app name")
    }

    fn caller(role: Role, apps: &[&str]) -> Caller {
        Caller {
            name: "ci".into(),
            role,
            apps: apps.iter().map(|a| app(a)).collect(),
        }
    }

    #[test]
    fn roles_rank_and_apps_scope() {
        let deploy_shop = caller(Role::Deploy, &["shop"]);
        assert!(deploy_shop.require(Role::Read, Some(&app("shop"))).is_ok());
        assert!(
            deploy_shop
                .require(Role::Deploy, Some(&app("shop")))
                .is_ok()
        );
        assert!(deploy_shop.require(Role::Read, None).is_ok());
        let refused = deploy_shop
            .require(Role::Deploy, Some(&app("blog")))
            .expect_err("another app");
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(
            refused.message.contains("`deploy` role on app `blog`")
                && refused.message.contains("`deploy` on shop"),
            "{}",
            refused.message
        );
        let refused = deploy_shop
            .require(Role::Admin, Some(&app("shop")))
            .expect_err("not admin");
        assert!(
            refused.message.contains("`admin` role"),
            "{}",
            refused.message
        );

        let scoped_admin = caller(Role::Admin, &["shop"]);
        assert!(
            scoped_admin
                .require(Role::Admin, Some(&app("shop")))
                .is_ok()
        );
        assert!(
            scoped_admin.require(Role::Admin, None).is_err(),
            "server-wide admin needs every app"
        );
        assert!(Caller::server().require(Role::Admin, None).is_ok());
        assert!(caller(Role::Read, &[]).require(Role::Deploy, None).is_err());
    }
}
