"""FastMCP peer of `cargo xtask bench compare`: a `whoami` tool answered from the caller's token.

The equivalent of splunk-mcp's `splunk_whoami` with `skip_splunk`: FastMCP's JWTVerifier checks
an RS256 token against the bench's JWKS, issuer and audience, and the tool answers with the
token's subject, client, scopes and groups. Stateless streamable HTTP with JSON responses.
"""

import argparse

import uvicorn
from fastmcp import FastMCP
from fastmcp.server.auth.providers.jwt import JWTVerifier
from fastmcp.server.dependencies import get_access_token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jwks-uri", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", required=True)
    args = parser.parse_args()

    verifier = JWTVerifier(
        jwks_uri=args.jwks_uri,
        issuer=args.issuer,
        audience=args.audience,
        required_scopes=["splunk:read"],
    )
    mcp = FastMCP("fastmcp-bench-peer", auth=verifier)

    @mcp.tool
    def whoami() -> dict:
        """Show who you are: the MCP identity (subject, OAuth client, scopes, groups)."""
        token = get_access_token()
        if token is None:
            return {"mcp": {"authenticated": False}}
        return {
            "mcp": {
                "authenticated": True,
                "subject": token.claims.get("sub"),
                "client_id": token.client_id,
                "scopes": token.scopes,
                "groups": token.claims.get("groups", []),
            }
        }

    app = mcp.http_app(path="/mcp", transport="http", stateless_http=True, json_response=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
