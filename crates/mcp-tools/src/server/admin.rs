//! Administration tools: Splunk users and roles (read only), behind the `splunk:admin` scope.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Extensions};
use rmcp::{ErrorData, tool, tool_router};
use serde_json::{Value, json};
use splunk_client::ListOptions;

use super::{NoArgs, SplunkTools, answer};

#[tool_router(router = admin_router, vis = "pub(crate)")]
impl SplunkTools {
    /// Lists users.
    #[tool(
        description = "List Splunk users with their roles, type (Splunk, SAML, LDAP) and \
whether they are locked out. Needs administrative rights in Splunk too.",
        annotations(
            title = "List users",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_list_users(
        &self,
        params: Parameters<NoArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let call = self.start("splunk_list_users", &params.0, &extensions);
        let result = async {
            let client = self.client(&call).await?;
            let page = client.list_users(&ListOptions::all()).await?;
            let mut text = format!("{} user(s):\n", page.items.len());
            let items: Vec<Value> = page
                .items
                .iter()
                .map(|u| {
                    text.push_str(&format!("- {} (roles: {})\n", u.name, u.roles.join(", ")));
                    json!({
                        "name": u.name,
                        "realname": u.realname,
                        "roles": u.roles,
                        "type": u.user_type,
                        "default_app": u.default_app,
                        "locked_out": u.locked_out,
                    })
                })
                .collect();
            Ok(answer(text, json!({ "users": items })))
        }
        .await;
        call.finish(result)
    }

    /// Lists roles.
    #[tool(
        description = "List Splunk roles with their capabilities, inherited roles and the \
indexes each may search. Use to explain what a user can see.",
        annotations(
            title = "List roles",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn splunk_list_roles(
        &self,
        params: Parameters<NoArgs>,
        extensions: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let call = self.start("splunk_list_roles", &params.0, &extensions);
        let result = async {
            let client = self.client(&call).await?;
            let page = client.list_roles(&ListOptions::all()).await?;
            let mut text = format!("{} role(s):\n", page.items.len());
            let items: Vec<Value> = page
                .items
                .iter()
                .map(|r| {
                    text.push_str(&format!(
                        "- {} (indexes: {})\n",
                        r.name,
                        r.srch_indexes_allowed.join(", ")
                    ));
                    json!({
                        "name": r.name,
                        "capabilities": r.capabilities,
                        "imported_roles": r.imported_roles,
                        "imported_capabilities": r.imported_capabilities,
                        "srch_indexes_allowed": r.srch_indexes_allowed,
                        "srch_indexes_default": r.srch_indexes_default,
                        "imported_srch_indexes_allowed": r.imported_srch_indexes_allowed,
                    })
                })
                .collect();
            Ok(answer(text, json!({ "roles": items })))
        }
        .await;
        call.finish(result)
    }
}
