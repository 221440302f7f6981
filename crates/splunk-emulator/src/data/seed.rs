//! Deterministic seeded indexes: web access logs, authentication, firewall traffic, syslog and
//! Splunk's own `_internal` / `_audit` logs, spread over the seven days before "now".
//!
//! Every generator draws from its own fixed-seed [`SeededRng`], so adding events to one index
//! never changes another, and tests can assert facts such as "the 404 count from `stats` equals
//! the 404 count of a full scan".

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use super::Event;
use super::rng::SeededRng;

/// Event counts per seeded index (about 42k in all).
pub(crate) const WEB_EVENTS: usize = 20_000;
pub(crate) const SECURITY_EVENTS: usize = 6_000;
pub(crate) const FIREWALL_EVENTS: usize = 10_000;
pub(crate) const MAIN_EVENTS: usize = 3_000;
pub(crate) const INTERNAL_EVENTS: usize = 2_500;
pub(crate) const AUDIT_EVENTS: usize = 400;

const SEVEN_DAYS_MS: u64 = 7 * 86_400 * 1000;

/// Named users, so searches like `user=alice` have something to find.
pub(crate) const USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
];

/// Builds events of one index, sharing the interned default-field strings between them.
struct IndexBuilder {
    rng: SeededRng,
    now_ms: i64,
    index: Arc<str>,
    source: Arc<str>,
    sourcetype: Arc<str>,
    events: Vec<Event>,
}

impl IndexBuilder {
    fn new(
        seed: u64,
        now: DateTime<Utc>,
        index: &str,
        source: &str,
        sourcetype: &str,
        capacity: usize,
    ) -> Self {
        Self {
            rng: SeededRng::new(seed),
            now_ms: now.timestamp_millis(),
            index: index.into(),
            source: source.into(),
            sourcetype: sourcetype.into(),
            events: Vec::with_capacity(capacity),
        }
    }

    /// A random instant within the seven days before now (never exactly now, so `latest=now` keeps it).
    fn random_time(&mut self) -> DateTime<Utc> {
        let back = 1 + self.rng.below(SEVEN_DAYS_MS - 1) as i64;
        Utc.timestamp_millis_opt(self.now_ms - back)
            .single()
            .unwrap_or_default()
    }

    fn push(
        &mut self,
        time: DateTime<Utc>,
        host: &Arc<str>,
        raw: String,
        fields: Vec<(Arc<str>, String)>,
    ) {
        let millis = time.timestamp_millis();
        self.events.push(Event {
            time: millis.div_euclid(1000),
            time_ms: millis.rem_euclid(1000) as u16,
            index: self.index.clone(),
            host: host.clone(),
            source: self.source.clone(),
            sourcetype: self.sourcetype.clone(),
            raw,
            fields,
        });
    }

    /// The events, newest first like Splunk returns them.
    fn finish(mut self) -> Vec<Event> {
        self.events
            .sort_by_key(|event| std::cmp::Reverse((event.time, event.time_ms)));
        self.events
    }
}

fn names<const N: usize>(list: [&str; N]) -> [Arc<str>; N] {
    list.map(Arc::from)
}

fn hosts(list: &[&str]) -> Vec<Arc<str>> {
    list.iter().map(|host| Arc::from(*host)).collect()
}

/// Syslog's `Nov 20 10:00:00` header (day padded with a space, as syslog does).
fn syslog_stamp(time: DateTime<Utc>) -> String {
    time.format("%b %e %H:%M:%S").to_string()
}

fn public_ip(rng: &mut SeededRng) -> String {
    // Documentation ranges only (RFC 5737), so the fake data never names a real host.
    let prefix = rng.pick(&["203.0.113", "198.51.100", "192.0.2"]);
    format!("{prefix}.{}", rng.between(1, 254))
}

fn internal_ip(rng: &mut SeededRng) -> String {
    format!(
        "10.{}.{}.{}",
        rng.between(0, 3),
        rng.between(0, 20),
        rng.between(2, 250)
    )
}

/// `index=web`, sourcetype `access_combined`.
pub(crate) fn web(now: DateTime<Utc>) -> Vec<Event> {
    let mut builder = IndexBuilder::new(
        0x5EED_0001,
        now,
        "web",
        "/var/log/nginx/access.log",
        "access_combined",
        WEB_EVENTS,
    );
    let web_hosts = hosts(&["web-01", "web-02", "web-03", "web-04"]);
    let [
        clientip,
        method,
        uri,
        status,
        bytes,
        useragent,
        user,
        referer,
    ] = names([
        "clientip",
        "method",
        "uri",
        "status",
        "bytes",
        "useragent",
        "user",
        "referer",
    ]);
    // A fixed pool of clients makes `top clientip` meaningful.
    let client_pool: Vec<String> = (0..150)
        .map(|n| {
            if n % 3 == 0 {
                internal_ip(&mut builder.rng)
            } else {
                public_ip(&mut builder.rng)
            }
        })
        .collect();
    let methods = [("GET", 80), ("POST", 15), ("PUT", 3), ("DELETE", 2)];
    let uris = [
        "/",
        "/index.html",
        "/cart.do?action=view&itemId=EST-14",
        "/cart.do?action=addtocart&itemId=EST-6",
        "/cart.do?action=purchase&itemId=EST-21",
        "/product.screen?productId=WC-SH-G04",
        "/category.screen?categoryId=STRATEGY",
        "/api/v1/orders",
        "/api/v1/users/me",
        "/api/v1/search?q=shoes",
        "/login",
        "/logout",
        "/static/app.js",
        "/static/style.css",
        "/images/logo.png",
        "/admin",
        "/wp-login.php",
        "/healthz",
    ];
    let statuses = [
        ("200", 70),
        ("304", 5),
        ("301", 3),
        ("400", 3),
        ("403", 3),
        ("404", 10),
        ("500", 4),
        ("503", 2),
    ];
    let agents = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
        "curl/8.5.0",
        "python-requests/2.32.3",
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
    ];
    let referers = [
        "-",
        "https://www.example.com/",
        "https://www.example.com/cart.do",
        "https://search.example.org/?q=shop",
    ];
    for _ in 0..WEB_EVENTS {
        let time = builder.random_time();
        let rng = &mut builder.rng;
        let host = rng.pick(&web_hosts).clone();
        let client = rng.pick(&client_pool).clone();
        let method_value = *rng.weighted(&methods);
        let uri_value = *rng.pick(&uris);
        let status_value = *rng.weighted(&statuses);
        let bytes_value = if status_value == "304" {
            0
        } else {
            rng.between(120, 48_000)
        };
        let agent = *rng.pick(&agents);
        let user_value = if rng.percent(55) {
            "-"
        } else {
            *rng.pick(USERS)
        };
        let referer_value = *rng.pick(&referers);
        let raw = format!(
            "{client} - {user_value} [{}] \"{method_value} {uri_value} HTTP/1.1\" {status_value} {bytes_value} \"{referer_value}\" \"{agent}\"",
            time.format("%d/%b/%Y:%H:%M:%S%.3f %z")
        );
        let fields = vec![
            (clientip.clone(), client),
            (method.clone(), method_value.to_string()),
            (uri.clone(), uri_value.to_string()),
            (status.clone(), status_value.to_string()),
            (bytes.clone(), bytes_value.to_string()),
            (useragent.clone(), agent.to_string()),
            (user.clone(), user_value.to_string()),
            (referer.clone(), referer_value.to_string()),
        ];
        builder.push(time, &host, raw, fields);
    }
    builder.finish()
}

/// `index=security`, sourcetype `linux_secure`: sshd logins and sudo.
pub(crate) fn security(now: DateTime<Utc>) -> Vec<Event> {
    let mut builder = IndexBuilder::new(
        0x5EED_0002,
        now,
        "security",
        "/var/log/secure",
        "linux_secure",
        SECURITY_EVENTS,
    );
    let secure_hosts = hosts(&[
        "web-01",
        "web-02",
        "web-03",
        "web-04",
        "db-01",
        "db-02",
        "bastion-01",
    ]);
    let [user, action, src, app, dest, src_port] =
        names(["user", "action", "src", "app", "dest", "src_port"]);
    // Attackers try these names from the internet; employees log in from the internal network.
    let attacked = ["root", "admin", "test", "oracle", "guest", "ubuntu"];
    let commands = [
        "/usr/bin/systemctl restart nginx",
        "/usr/bin/tail -f /var/log/syslog",
        "/usr/bin/apt-get update",
        "/bin/cat /etc/shadow",
        "/usr/bin/docker ps",
    ];
    for _ in 0..SECURITY_EVENTS {
        let time = builder.random_time();
        let rng = &mut builder.rng;
        let host = rng.pick(&secure_hosts).clone();
        let pid = rng.between(1_000, 65_000);
        let stamp = syslog_stamp(time);
        if rng.percent(75) {
            let brute_force = rng.percent(25);
            let (who, from, succeeded) = if brute_force {
                (*rng.pick(&attacked), public_ip(rng), rng.percent(3))
            } else {
                let name = if rng.percent(8) {
                    "root"
                } else {
                    *rng.pick(USERS)
                };
                (name, internal_ip(rng), !rng.percent(12))
            };
            let port = rng.between(32_768, 60_999);
            let method = if rng.percent(60) {
                "publickey"
            } else {
                "password"
            };
            let raw = if succeeded {
                format!(
                    "{stamp} {host} sshd[{pid}]: Accepted {method} for {who} from {from} port {port} ssh2"
                )
            } else if brute_force && who != "root" {
                format!(
                    "{stamp} {host} sshd[{pid}]: Failed password for invalid user {who} from {from} port {port} ssh2"
                )
            } else {
                format!(
                    "{stamp} {host} sshd[{pid}]: Failed password for {who} from {from} port {port} ssh2"
                )
            };
            let fields = vec![
                (user.clone(), who.to_string()),
                (
                    action.clone(),
                    if succeeded { "success" } else { "failure" }.to_string(),
                ),
                (src.clone(), from),
                (src_port.clone(), port.to_string()),
                (app.clone(), "sshd".to_string()),
                (dest.clone(), host.to_string()),
            ];
            builder.push(time, &host, raw, fields);
        } else {
            let who = *rng.pick(USERS);
            let command = *rng.pick(&commands);
            let succeeded = !rng.percent(15);
            let raw = if succeeded {
                format!(
                    "{stamp} {host} sudo[{pid}]:    {who} : TTY=pts/{} ; PWD=/home/{who} ; USER=root ; COMMAND={command}",
                    rng.below(4)
                )
            } else {
                format!(
                    "{stamp} {host} sudo[{pid}]:    {who} : 3 incorrect password attempts ; TTY=pts/{} ; PWD=/home/{who} ; USER=root ; COMMAND={command}",
                    rng.below(4)
                )
            };
            let fields = vec![
                (user.clone(), who.to_string()),
                (
                    action.clone(),
                    if succeeded { "success" } else { "failure" }.to_string(),
                ),
                (app.clone(), "sudo".to_string()),
                (dest.clone(), host.to_string()),
            ];
            builder.push(time, &host, raw, fields);
        }
    }
    builder.finish()
}

/// `index=firewall`, sourcetype `pan:traffic`: Palo Alto traffic logs in their CSV shape.
pub(crate) fn firewall(now: DateTime<Utc>) -> Vec<Event> {
    let mut builder = IndexBuilder::new(
        0x5EED_0003,
        now,
        "firewall",
        "udp:514",
        "pan:traffic",
        FIREWALL_EVENTS,
    );
    let firewall_hosts = hosts(&["fw-01", "fw-02"]);
    let [
        src_ip,
        dest_ip,
        dest_port,
        src_port,
        action,
        transport,
        bytes,
        rule,
        app,
    ] = names([
        "src_ip",
        "dest_ip",
        "dest_port",
        "src_port",
        "action",
        "transport",
        "bytes",
        "rule",
        "app",
    ]);
    // (port, transport, application, chance in percent that an inbound attempt is blocked)
    let services = [
        ((443, "tcp", "ssl", 5), 45),
        ((80, "tcp", "web-browsing", 10), 15),
        ((53, "udp", "dns", 2), 12),
        ((22, "tcp", "ssh", 60), 8),
        ((3389, "tcp", "ms-rdp", 90), 5),
        ((445, "tcp", "ms-ds-smb", 90), 4),
        ((25, "tcp", "smtp", 30), 4),
        ((8080, "tcp", "web-browsing", 40), 4),
        ((123, "udp", "ntp", 5), 2),
        ((0, "icmp", "ping", 50), 1),
    ];
    for serial in 0..FIREWALL_EVENTS {
        let time = builder.random_time();
        let rng = &mut builder.rng;
        let host = rng.pick(&firewall_hosts).clone();
        let (port, proto, application, block_chance) = *rng.weighted(&services);
        let outbound = rng.percent(60);
        let (source_ip, destination_ip) = if outbound {
            (internal_ip(rng), public_ip(rng))
        } else {
            (public_ip(rng), internal_ip(rng))
        };
        let blocked = rng.percent(if outbound {
            block_chance / 4
        } else {
            block_chance
        });
        let (pan_action, cim_action, rule_name) = match (blocked, rng.percent(40)) {
            (false, _) => (
                "allow",
                "allowed",
                if outbound {
                    "allow-outbound"
                } else {
                    "allow-dmz-inbound"
                },
            ),
            (true, true) => ("drop", "dropped", "drop-known-bad"),
            (true, false) => ("deny", "blocked", "deny-all"),
        };
        let sport = if proto == "icmp" {
            0
        } else {
            rng.between(1_024, 65_535)
        };
        let sent = if blocked {
            rng.between(60, 200)
        } else {
            rng.between(200, 150_000)
        };
        let received = if blocked { 0 } else { rng.between(60, 900_000) };
        let total = sent + received;
        let stamp = time.format("%Y/%m/%d %H:%M:%S");
        let raw = format!(
            "{} {host} 1,{stamp},007051000{serial:06},TRAFFIC,end,2561,{stamp},{source_ip},{destination_ip},0.0.0.0,0.0.0.0,{rule_name},,,{application},vsys1,{},{},ethernet1/2,ethernet1/1,default,{stamp},{},1,{sport},{port},0,0,0x400000,{proto},{pan_action},{total},{sent},{received},{}",
            syslog_stamp(time),
            if outbound { "trust" } else { "untrust" },
            if outbound { "untrust" } else { "trust" },
            rng.between(10_000, 999_999),
            rng.between(1, 400),
        );
        let fields = vec![
            (src_ip.clone(), source_ip),
            (src_port.clone(), sport.to_string()),
            (dest_ip.clone(), destination_ip),
            (dest_port.clone(), port.to_string()),
            (transport.clone(), proto.to_string()),
            (action.clone(), cim_action.to_string()),
            (rule.clone(), rule_name.to_string()),
            (app.clone(), application.to_string()),
            (bytes.clone(), total.to_string()),
        ];
        builder.push(time, &host, raw, fields);
    }
    builder.finish()
}

/// `index=main`, sourcetype `syslog`.
pub(crate) fn main(now: DateTime<Utc>) -> Vec<Event> {
    let mut builder = IndexBuilder::new(
        0x5EED_0004,
        now,
        "main",
        "/var/log/syslog",
        "syslog",
        MAIN_EVENTS,
    );
    let syslog_hosts = hosts(&["app-01", "app-02", "db-01", "db-02", "web-01"]);
    let [process, pid_name] = names(["process", "pid"]);
    for _ in 0..MAIN_EVENTS {
        let time = builder.random_time();
        let rng = &mut builder.rng;
        let host = rng.pick(&syslog_hosts).clone();
        let pid = rng.between(300, 40_000);
        let who = *rng.pick(USERS);
        let (name, message) = match rng.below(7) {
            0 => (
                "systemd",
                format!("Started Session {} of User {who}.", rng.between(1, 9_999)),
            ),
            1 => (
                "systemd",
                "Starting Daily apt upgrade and clean activities...".to_string(),
            ),
            2 => (
                "CRON",
                format!("({who}) CMD (/usr/local/bin/backup.sh --incremental)"),
            ),
            3 => (
                "kernel",
                format!(
                    "[UFW BLOCK] IN=eth0 OUT= SRC={} DST=10.0.0.5 PROTO=TCP DPT=23",
                    public_ip(rng)
                ),
            ),
            4 => (
                "ntpd",
                format!(
                    "adjusting local clock by {}.{:03}s",
                    rng.below(2),
                    rng.below(1000)
                ),
            ),
            5 => (
                "dhclient",
                format!(
                    "DHCPACK of 10.0.{}.{} from 10.0.0.1",
                    rng.below(4),
                    rng.between(2, 250)
                ),
            ),
            _ => (
                "postfix/smtpd",
                format!("connect from unknown[{}]", public_ip(rng)),
            ),
        };
        let raw = if name == "kernel" {
            format!("{} {host} {name}: {message}", syslog_stamp(time))
        } else {
            format!("{} {host} {name}[{pid}]: {message}", syslog_stamp(time))
        };
        let mut fields = vec![(process.clone(), name.to_string())];
        if name != "kernel" {
            fields.push((pid_name.clone(), pid.to_string()));
        }
        builder.push(time, &host, raw, fields);
    }
    builder.finish()
}

/// `index=_internal`, sourcetype `splunkd`: the emulator's own pretend logs.
pub(crate) fn internal(now: DateTime<Utc>) -> Vec<Event> {
    let mut builder = IndexBuilder::new(
        0x5EED_0005,
        now,
        "_internal",
        "/opt/splunk/var/log/splunk/splunkd.log",
        "splunkd",
        INTERNAL_EVENTS,
    );
    let server = hosts(&["splunk-emulator"]);
    let [log_level, component] = names(["log_level", "component"]);
    let levels = [("INFO", 80), ("WARN", 15), ("ERROR", 5)];
    let components = [
        (
            "Metrics",
            "group=thruput, name=index_thruput, instantaneous_kbps=12.4, average_kbps=10.9",
        ),
        (
            "TailReader",
            "Batch input finished reading file='/var/log/syslog'",
        ),
        (
            "DateParserVerbose",
            "Failed to parse timestamp in first MAX_TIMESTAMP_LOOKAHEAD (128) characters of event.",
        ),
        (
            "TcpOutputProc",
            "Connected to idx=10.0.0.9:9997, pset=0, reuse=0.",
        ),
        (
            "HttpListener",
            "Socket error from 127.0.0.1:53112 while idling: Connection reset by peer",
        ),
        (
            "ExecProcessor",
            "message from \"/opt/splunk/bin/python3 introspection.py\" collected",
        ),
        (
            "LicenseUsage",
            "type=Usage s=\"/var/log/secure\" st=linux_secure h=web-01 o=\"\" idx=\"security\" i=\"A1B2\" pool=\"auto_generated_pool_enterprise\" b=48211",
        ),
        (
            "AuthenticationManager",
            "Setting up auth for user=\"admin\"",
        ),
    ];
    for _ in 0..INTERNAL_EVENTS {
        let time = builder.random_time();
        let rng = &mut builder.rng;
        let level = *rng.weighted(&levels);
        let (name, message) = *rng.pick(&components);
        let raw = format!(
            "{} {level:<5} {name} [{} {name}Thread] - {message}",
            time.format("%m-%d-%Y %H:%M:%S%.3f %z"),
            rng.between(1_000, 9_999)
        );
        let fields = vec![
            (log_level.clone(), level.to_string()),
            (component.clone(), name.to_string()),
        ];
        builder.push(time, &server[0], raw, fields);
    }
    builder.finish()
}

/// `index=_audit`, sourcetype `audittrail`.
pub(crate) fn audit(now: DateTime<Utc>) -> Vec<Event> {
    let mut builder = IndexBuilder::new(
        0x5EED_0006,
        now,
        "_audit",
        "audittrail",
        "audittrail",
        AUDIT_EVENTS,
    );
    let server = hosts(&["splunk-emulator"]);
    let [user, action, info] = names(["user", "action", "info"]);
    let actors = ["admin", "alice", "bob", "splunk-system-user"];
    let actions = [
        ("search", 60),
        ("login attempt", 25),
        ("edit_user", 5),
        ("list_users", 10),
    ];
    for serial in 0..AUDIT_EVENTS {
        let time = builder.random_time();
        let rng = &mut builder.rng;
        let who = *rng.pick(&actors);
        let what = *rng.weighted(&actions);
        let outcome = if what == "login attempt" && rng.percent(20) {
            "failed"
        } else {
            "succeeded"
        };
        let raw = format!(
            "Audit:[timestamp={}, user={who}, action={what}, info={outcome}][n/a]{}",
            time.format("%m-%d-%Y %H:%M:%S%.3f"),
            if what == "search" {
                format!(
                    " search_id='{}.{serial}', search='search index=web status=500'",
                    time.timestamp()
                )
            } else {
                String::new()
            }
        );
        let fields = vec![
            (user.clone(), who.to_string()),
            (action.clone(), what.to_string()),
            (info.clone(), outcome.to_string()),
        ];
        builder.push(time, &server[0], raw, fields);
    }
    builder.finish()
}
