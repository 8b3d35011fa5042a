//! Backups to object storage, against real servers on loopback: moto's S3
//! and Azurite's Azure Blob Storage. One scenario runs against each: a
//! physical, a logical and a Redis backup land in the bucket, verification
//! downloads and restores them, WAL is shipped there, and an object damaged
//! in the bucket fails verification.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::Mac as _;
use serde_json::Value;

use super::{SCHEMA, Stack, berth_with, failed, ok, psql, reachable_temp_dir, switch_wal, write_spec};

/// A bucket (S3) or container (Azure) as a test reads and damages it,
/// beside berth, which goes through `object_store`.
trait Bucket {
    /// The destination URL for the spec.
    fn destination(&self) -> String;
    /// What berth needs in its environment to reach the server.
    fn env(&self) -> Vec<(&'static str, String)>;
    /// Object names under `prefix`.
    fn names(&self, prefix: &str) -> Vec<String>;
    fn get(&self, name: &str) -> Vec<u8>;
    fn put(&self, name: &str, body: &[u8]);
}

/// A server process on a free loopback port, stopped by PID on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(program: &str, args: &[&str]) -> Self {
        let port = berth_test_support::free_port();
        let args: Vec<String> = args.iter().map(|a| a.replace("{port}", &port.to_string())).collect();
        let child = Command::new(berth_test_support::tool(program))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{program} did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn curl(args: &[String]) -> Vec<u8> {
    let out = Command::new("curl").arg("-sSf").args(args).output().expect("curl (apt-get install curl)");
    assert!(out.status.success(), "curl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// The text of every `<tag>` element in an XML listing.
fn elements(xml: &[u8], tag: &str) -> Vec<String> {
    let xml = String::from_utf8_lossy(xml);
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open).skip(1).filter_map(|rest| rest.split_once(&close).map(|(name, _)| name.to_owned())).collect()
}

/// moto's S3 server; requests are signed like any S3 client's (moto
/// refuses anonymous object reads).
struct S3 {
    server: Server,
    bucket: String,
}

impl S3 {
    fn start(bucket: &str) -> Self {
        let s3 = Self {
            server: Server::start("moto_server", &["-H", "127.0.0.1", "-p", "{port}"]),
            bucket: bucket.to_owned(),
        };
        s3.curl(&["-X", "PUT", &s3.url("")]);
        s3
    }

    fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{}/{name}", self.server.port, self.bucket)
    }

    fn curl(&self, args: &[&str]) -> Vec<u8> {
        let mut all: Vec<String> =
            ["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "berth-test:berth-test-secret"].map(str::to_owned).into();
        all.extend(args.iter().map(|a| (*a).to_owned()));
        curl(&all)
    }
}

impl Bucket for S3 {
    fn destination(&self) -> String {
        format!("s3://{}/shop", self.bucket)
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.server.port)),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            ("AWS_ACCESS_KEY_ID", "berth-test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "berth-test-secret".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
    }

    fn names(&self, prefix: &str) -> Vec<String> {
        elements(&self.curl(&[&format!("{}?list-type=2&prefix={prefix}", self.url(""))]), "Key")
    }

    fn get(&self, name: &str) -> Vec<u8> {
        self.curl(&[&self.url(name)])
    }

    fn put(&self, name: &str, body: &[u8]) {
        let file = berth_test_support::temp_dir();
        let path = file.path().join("body");
        std::fs::write(&path, body).unwrap();
        let data = format!("@{}", path.display());
        let url = self.url(name);
        self.curl(&["-X", "PUT", "-H", "Content-Type: application/octet-stream", "--data-binary", &data, &url]);
    }
}

/// Azurite's Blob service with its well-known development account.
struct Azurite {
    server: Server,
    container: String,
    _data: berth_test_support::TempDir,
}

const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's published development key (not a secret).
const AZURITE_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

impl Azurite {
    fn start(container: &str) -> Self {
        let data = berth_test_support::temp_dir();
        let location = data.path().display().to_string();
        let server = Server::start(
            "azurite-blob",
            &[
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "{port}",
                "--location",
                &location,
                "--silent",
                "--skipApiVersionCheck",
            ],
        );
        let azurite = Self { server, container: container.to_owned(), _data: data };
        azurite.request("PUT", "", &[("restype", "container")], None);
        azurite
    }

    /// A Blob service request signed with Shared Key, the way Azure's SDKs
    /// sign them (the emulator's URLs carry the account in the path).
    fn request(&self, method: &str, name: &str, query: &[(&str, &str)], body: Option<&[u8]>) -> Vec<u8> {
        let date = jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let path = format!("/{AZURITE_ACCOUNT}/{}{}", self.container, if name.is_empty() { "" } else { "/" });
        let path = path + name;
        let mut headers = vec![("x-ms-date", date), ("x-ms-version", "2021-10-04".to_owned())];
        if body.is_some() {
            headers.push(("x-ms-blob-type", "BlockBlob".to_owned()));
        }
        headers.sort();
        let (length, content_type) = match body {
            Some(b) => (b.len().to_string(), "application/octet-stream"),
            None => (String::new(), ""),
        };
        let mut query: Vec<(&str, &str)> = query.to_vec();
        query.sort();
        let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let canonical_query: String = query.iter().map(|(k, v)| format!("\n{k}:{v}")).collect();
        let to_sign = format!(
            "{method}\n\n\n{length}\n\n{content_type}\n\n\n\n\n\n\n{canonical_headers}/{AZURITE_ACCOUNT}{path}{canonical_query}"
        );
        let key = base64::engine::general_purpose::STANDARD.decode(AZURITE_KEY).unwrap();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        mac.update(to_sign.as_bytes());
        let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());

        let query_string: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut args = vec![
            "-X".to_owned(),
            method.to_owned(),
            format!("http://127.0.0.1:{}{path}?{}", self.server.port, query_string.join("&")),
            "-H".to_owned(),
            format!("Authorization: SharedKey {AZURITE_ACCOUNT}:{signature}"),
        ];
        for (k, v) in &headers {
            args.extend(["-H".to_owned(), format!("{k}: {v}")]);
        }
        let file = berth_test_support::temp_dir();
        if let Some(body) = body {
            let path = file.path().join("body");
            std::fs::write(&path, body).unwrap();
            args.extend(["-H".to_owned(), format!("Content-Type: {content_type}")]);
            args.extend(["--data-binary".to_owned(), format!("@{}", path.display())]);
        } else if method == "PUT" {
            args.extend(["-H".to_owned(), "Content-Length: 0".to_owned()]);
        }
        curl(&args)
    }
}

impl Bucket for Azurite {
    fn destination(&self) -> String {
        format!("az://{}/shop", self.container)
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_STORAGE_USE_EMULATOR", "true".to_owned()),
            ("AZURITE_BLOB_STORAGE_URL", format!("http://127.0.0.1:{}", self.server.port)),
        ]
    }

    fn names(&self, prefix: &str) -> Vec<String> {
        elements(
            &self.request("GET", "", &[("comp", "list"), ("prefix", prefix), ("restype", "container")], None),
            "Name",
        )
    }

    fn get(&self, name: &str) -> Vec<u8> {
        self.request("GET", name, &[], None)
    }

    fn put(&self, name: &str, body: &[u8]) {
        self.request("PUT", name, &[], Some(body));
    }
}

fn backups_go_to_the_bucket_verify_and_archive_wal_there(bucket: &dyn Bucket) {
    let env = bucket.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dir = reachable_temp_dir();
    write_spec(dir.path(), "physical", &bucket.destination(), "{ daily: 7 }");
    ok(berth_with(dir.path(), &["up", "-d", "berth.yaml"], &env));
    let stack = Stack::up_existing(dir.path());
    let db = stack.port("db");
    psql(db, "shop", SCHEMA);

    let physical: Value =
        serde_json::from_str(&ok(berth_with(dir.path(), &["backup", "db", "-o", "json"], &env))).unwrap();
    let logical: Value =
        serde_json::from_str(&ok(berth_with(dir.path(), &["backup", "db", "--method", "logical", "-o", "json"], &env)))
            .unwrap();
    ok(berth_with(dir.path(), &["backup", "cache"], &env));
    let stray: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "berth.yaml" && name != ".berth")
        .collect();
    assert!(stray.is_empty(), "backups were written locally: {stray:?}");

    let verified = ok(berth_with(dir.path(), &["backup", "verify", "db", physical[0]["id"].as_str().unwrap()], &env));
    assert!(verified.contains("checksums match"), "{verified}");
    let verified = ok(berth_with(dir.path(), &["backup", "verify", "db", logical[0]["id"].as_str().unwrap()], &env));
    assert!(verified.contains("350000 rows in 3 tables"), "{verified}");
    let listing = ok(berth_with(dir.path(), &["backup", "list"], &env));
    assert_eq!(listing.matches("  verified ").count(), 2, "{listing}");
    assert_eq!(listing.matches("not verified").count(), 1, "{listing}");

    // The bucket holds the manifest and the archived WAL.
    let id = logical[0]["id"].as_str().unwrap();
    let manifest = bucket.get(&format!("shop/db/backups/{id}/manifest.json"));
    assert_eq!(serde_json::from_slice::<Value>(&manifest).unwrap()["counts"], logical[0]["counts"]);
    switch_wal(dir.path(), db);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let names = bucket.names("shop/db/wal/");
        if names.iter().filter(|n| n.ends_with(".zst")).count() >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "WAL never reached the bucket: {names:?}");
        std::thread::sleep(Duration::from_millis(300));
    }

    // Damage an object in place: verification downloads it and refuses.
    let name = format!("shop/db/backups/{id}/dump/toc.dat.zst");
    let mut object = bucket.get(&name);
    object[10] ^= 0xff;
    bucket.put(&name, &object);
    let err = failed(berth_with(dir.path(), &["backup", "verify", "db", id], &env));
    assert!(err.contains("dump/toc.dat.zst: sha256"), "{err}");
}

#[test]
fn backups_to_an_s3_compatible_server() {
    backups_go_to_the_bucket_verify_and_archive_wal_there(&S3::start("berth-backups"));
}

#[test]
fn backups_to_azure_blob_storage() {
    backups_go_to_the_bucket_verify_and_archive_wal_there(&Azurite::start("berth-backups"));
}
