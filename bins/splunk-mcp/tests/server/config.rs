//! Configuration errors stop the binary with exit status 2 and the variable's name;
//! `config check` prints the effective configuration with secrets redacted.

use std::process::Stdio;
use std::time::Duration;

use crate::support::command;

/// Runs the binary with `env` and `args`: exit code, stdout, stderr.
async fn run(env: &[(&str, String)], args: &[&str]) -> (Option<i32>, String, String) {
    let output = command(env).args(args).stdin(Stdio::null()).output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .expect("the binary exits within 30 s")
        .expect("run splunk-mcp");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn an_invalid_variable_exits_2_naming_it() {
    let cases: [(&str, &str); 3] = [
        ("SPLUNK_PORT", "notaport"),
        ("MCP_AUTH_MODE", "sometimes"),
        ("SPLUNK_CREDENTIALS", "borrowed"),
    ];
    for (name, value) in cases {
        let env = [
            ("SPLUNK_HOST", "splunk.example".to_owned()),
            (name, value.to_owned()),
        ];
        for args in [
            &["config", "check"][..],
            &["serve", "--transport", "stdio"][..],
        ] {
            let (code, _, stderr) = run(&env, args).await;
            assert_eq!(code, Some(2), "{name}={value} {args:?}: {stderr}");
            assert!(stderr.contains(name), "{name}={value} {args:?}: {stderr}");
        }
    }
}

#[tokio::test]
async fn config_check_redacts_the_password() {
    let password = "pw-7f3a9c-never-print";
    let env = [
        ("SPLUNK_HOST", "splunk.example".to_owned()),
        ("SPLUNK_PORT", "18089".to_owned()),
        ("SPLUNK_CREDENTIALS", "service".to_owned()),
        ("SPLUNK_USERNAME", "svc-mcp".to_owned()),
        ("SPLUNK_PASSWORD", password.to_owned()),
    ];
    let (code, stdout, stderr) = run(&env, &["config", "check"]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    // The environment was read...
    assert!(stdout.contains("splunk.example"), "{stdout}");
    assert!(stdout.contains("18089"), "{stdout}");
    assert!(stdout.contains("svc-mcp"), "{stdout}");
    // ...and the secret is not shown anywhere.
    assert!(!stdout.contains(password), "{stdout}");
    assert!(!stderr.contains(password), "{stderr}");
}
