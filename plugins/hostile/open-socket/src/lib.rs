//! Hostile plugin: tries to connect over TCP (to the address in its store config, key
//! `addr`), bind UDP and resolve a host name. Networking is denied; it reports what it saw.

wit_bindgen::generate!({ world: "mapper", path: "../../../wit" });

use exports::weft::plugin::mapping::{
    FromCanonicalOutcome, Guest, ToCanonicalOutcome, WriteRequest,
};
use weft::plugin::types::{CanonicalRecord, EntityKind, PlatformDoc, PluginError, PluginInfo};

struct Hostile;

fn describe(name: &str, description: &str) -> PluginInfo {
    PluginInfo {
        name: name.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        description: description.to_string(),
    }
}

/// One canonical record whose fields are the given JSON object text.
#[allow(dead_code)]
fn report(fields: String) -> Vec<ToCanonicalOutcome> {
    vec![ToCanonicalOutcome::Mapped(vec![CanonicalRecord {
        kind: EntityKind::Product,
        key: "observations".to_string(),
        fields,
    }])]
}

/// A JSON string literal for `s`.
#[allow(dead_code)]
fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

use std::net::{TcpStream, ToSocketAddrs, UdpSocket};

fn outcome<T>(r: std::io::Result<T>) -> String {
    match r {
        Ok(_) => "{\"ok\":true}".to_string(),
        Err(e) => format!("{{\"err\":{}}}", json_str(&e.to_string())),
    }
}

impl Guest for Hostile {
    fn info() -> PluginInfo {
        describe("open-socket", "Tries TCP, UDP and DNS.")
    }

    fn to_canonical(_docs: Vec<PlatformDoc>) -> Result<Vec<ToCanonicalOutcome>, PluginError> {
        let addr = weft::plugin::host::config("addr")
            .map(|a| a.trim_matches('"').to_string())
            .unwrap_or_else(|| "127.0.0.1:9".to_string());
        let tcp = outcome(TcpStream::connect(addr.as_str()));
        let udp = outcome(UdpSocket::bind("0.0.0.0:0"));
        let dns = outcome(("example.com", 80).to_socket_addrs());
        Ok(report(format!(
            "{{\"tcp\":{tcp},\"udp\":{udp},\"dns\":{dns}}}"
        )))
    }

    fn from_canonical(
        _requests: Vec<WriteRequest>,
    ) -> Result<Vec<FromCanonicalOutcome>, PluginError> {
        Ok(Vec::new())
    }
}

export!(Hostile);
