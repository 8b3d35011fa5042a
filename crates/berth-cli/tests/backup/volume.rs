//! A service's volume backed up, verified, rejected when corrupted or
//! rewritten, and restored, through the real binary: the volume where
//! `berth up` keeps it (found without flags) and elsewhere (`--dir`).

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use berth_test_support::read_json;
use serde_json::Value;

use super::{AGE_KEY, AGE_RECIPIENT, OTHER_AGE_KEY, berth_with, failed, ok, tampered_copy, verification_failed};

const KEY: &str = "volume signing key";

fn berth(dir: &Path, args: &[&str]) -> std::process::Output {
    berth_with(dir, args, &[("BERTH_SECRET_BACKUP_KEY", KEY)])
}

/// What a directory holds: (path, mode, content or link target), sorted.
fn contents(dir: &Path) -> Vec<(String, u32, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, u32, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if meta.file_type().is_symlink() {
                out.push((rel, 0, std::fs::read_link(&path).unwrap().display().to_string().into_bytes()));
            } else if meta.is_dir() {
                out.push((rel, meta.permissions().mode() & 0o7777, Vec::new()));
                walk(root, &path, out);
            } else {
                out.push((rel, meta.permissions().mode() & 0o7777, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn fill(dir: &Path) {
    std::fs::create_dir_all(dir.join("avatars/2026")).unwrap();
    // Incompressible, so the archive is more than a few bytes.
    let noise: Vec<u8> = (0..400_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(dir.join("avatars/2026/ada.png"), &noise).unwrap();
    std::fs::write(dir.join("avatars/empty"), "").unwrap();
    std::fs::write(dir.join("settings.json"), r#"{"theme":"dark"}"#).unwrap();
    std::fs::set_permissions(dir.join("settings.json"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("avatars/2026", dir.join("current")).unwrap();
}

#[test]
fn volumes_back_up_verify_reject_corruption_and_restore_in_place() {
    let dir = berth_test_support::temp_dir();
    let backups = dir.path().join("backups");
    let spec = format!(
        r#"version: 1
name: vol
services:
  api:
    run: {{ command: ["sleep", "600"] }}
    volumes:
      uploads:
        path: /srv/uploads
        backup: {{ schedule: "0 3 * * *", to: {backups:?}, signing_key: {{ secret: backup-key }} }}
      cache: {{ path: /srv/cache }}
secrets:
  backup-key: {{}}
"#,
        backups = backups.display().to_string()
    );
    std::fs::write(dir.path().join("berth.yaml"), spec).unwrap();

    // No directory yet: the error names where berth up and systemd keep it.
    let said = failed(berth(dir.path(), &["backup", "api.uploads"]));
    assert!(said.contains(".berth/base/volumes/api/uploads") && said.contains("/var/lib/vol/api/uploads"), "{said}");
    let said = failed(berth(dir.path(), &["backup", "api.cache"]));
    assert!(said.contains("volume `api.cache` has no backup policy"), "{said}");
    let said = failed(berth(dir.path(), &["backup", "api.upload"]));
    assert!(said.contains("did you mean `api.uploads`?"), "{said}");

    // Where berth up keeps it: found without flags.
    let live = dir.path().join(".berth/base/volumes/api/uploads");
    fill(&live);
    let before = contents(&live);
    let said = ok(berth(dir.path(), &["backup", "api.uploads"]));
    assert!(
        said.contains("backed up api.uploads (archive)")
            && said.contains("3 files (390.6 KiB), 2 directories, 1 links"),
        "{said}"
    );
    let listed: Value = serde_json::from_slice(&berth(dir.path(), &["backup", "list", "-o", "json"]).stdout).unwrap();
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed[0]["dependency"], "api.uploads");
    let manifest = read_json(&backups.join("api.uploads/backups").join(&id).join("manifest.json"));
    assert_eq!(manifest["kind"], "volume");
    assert_eq!(manifest["counts"]["files"], 3);
    assert_eq!(manifest["counts"]["links"], 1);
    assert!(manifest["signature"].is_string());

    let said = ok(berth(dir.path(), &["backup", "verify", "api.uploads"]));
    assert!(said.contains(&format!("verified api.uploads {id}")), "{said}");
    // Backups hold everything the volume does: the owner's alone.
    let mode = std::fs::metadata(backups.join("api.uploads")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the volume's backups are readable by others");

    // Restore: the live files changed since the backup.
    std::fs::remove_file(live.join("settings.json")).unwrap();
    std::fs::write(live.join("avatars/2026/ada.png"), "overwritten").unwrap();
    std::fs::write(live.join("stray"), "new").unwrap();
    let changed = contents(&live);
    let said = ok(berth(dir.path(), &["restore", "api.uploads", &id]));
    assert!(said.contains("nothing live changed"), "{said}");
    assert_eq!(contents(&live), changed, "a restore without --replace changed the volume");
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&live).unwrap());
    let said = ok(berth(dir.path(), &["restore", "api.uploads", &id, "--yes"]));
    assert!(said.contains("the previous files are kept in"), "{said}");
    assert_eq!(contents(&live), before, "the restored volume differs from the backup");
    // The same directory: a running replica's bind mount sees the files.
    assert_eq!(std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&live).unwrap()), inode);
    let kept = std::fs::read_dir(live.parent().unwrap())
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("uploads.before-"))
        .unwrap()
        .path();
    assert_eq!(contents(&kept), changed, "the previous files were not kept");

    // Verification needs no volume on this machine.
    let elsewhere = dir.path().join("other-machine");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::copy(dir.path().join("berth.yaml"), elsewhere.join("berth.yaml")).unwrap();
    ok(berth(&elsewhere, &["backup", "verify", "api.uploads", &id]));

    // Anywhere else with --dir, and a backup taken without the key is refused.
    let other = dir.path().join("elsewhere");
    fill(&other);
    ok(berth(dir.path(), &["backup", "api.uploads", "--dir", other.to_str().unwrap()]));
    let unsigned = tampered_copy(&backups.join("api.uploads/backups"), &id, "unsigned", |b| {
        let mut manifest = read_json(&b.join("manifest.json"));
        manifest.as_object_mut().unwrap().remove("signature");
        std::fs::write(b.join("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    });
    let said = failed(berth(dir.path(), &["restore", "api.uploads", &unsigned, "--yes"]));
    assert!(said.contains("signature"), "{said}");

    // A flipped byte in the signed backup's archive: verification names
    // the checksum (exit 4) and a restore touches nothing.
    let archive = backups.join("api.uploads/backups").join(&id).join("volume.tar.zst");
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&archive, bytes).unwrap();
    let said = verification_failed(berth(dir.path(), &["backup", "verify", "api.uploads", &id]));
    assert!(said.contains("volume.tar.zst: sha256"), "{said}");
    std::fs::write(live.join("after"), "kept").unwrap();
    let current = contents(&live);
    failed(berth(dir.path(), &["restore", "api.uploads", &id, "--yes"]));
    assert_eq!(contents(&live), current, "a refused restore touched the volume");
    assert!(
        !std::fs::read_dir(live.parent().unwrap())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains(".restore-")),
        "a refused restore left its staging directory"
    );
    // A forged manifest whose id walks out of the directories berth makes
    // from it: refused before any path is built from it.
    let victim = dir.path().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    let forged = tampered_copy(&backups.join("api.uploads/backups"), &id, "forged", |b| {
        let mut manifest = read_json(&b.join("manifest.json"));
        manifest["id"] = Value::String(format!("x/../../../../../../..{}", victim.display()));
        std::fs::write(b.join("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    });
    let said = verification_failed(berth(dir.path(), &["backup", "verify", "api.uploads", &forged]));
    assert!(said.contains("it was copied or forged"), "{said}");
    failed(berth(dir.path(), &["restore", "api.uploads", &forged, "--yes"]));
    assert!(victim.is_dir(), "a forged id deleted a directory");
}

/// With `encryption_key`, the archive is age-encrypted to the key's
/// recipient (no file content readable in the destination), verifies and
/// restores with the key, and is refused with another key, without one,
/// or when a plain archive is passed off under the encrypting policy.
#[test]
fn encrypted_volume_backups_need_their_key() {
    let dir = berth_test_support::temp_dir();
    let backups = dir.path().join("backups");
    let write_spec = |encrypt: bool| {
        let key = if encrypt { ", encryption_key: { secret: age-key }" } else { "" };
        let spec = format!(
            "version: 1\nname: enc\nservices:\n  api:\n    run: {{ command: [\"sleep\", \"600\"] }}\n    volumes:\n      \
             uploads:\n        path: /srv/uploads\n        backup: {{ schedule: \"0 3 * * *\", to: {:?}{key} }}\n\
             secrets:\n  age-key: {{}}\n",
            backups.display().to_string()
        );
        std::fs::write(dir.path().join("berth.yaml"), spec).unwrap();
    };
    let with_key = |key: &str, args: &[&str]| berth_with(dir.path(), args, &[("BERTH_SECRET_AGE_KEY", key)]);
    let live = dir.path().join(".berth/base/volumes/api/uploads");
    fill(&live);
    std::fs::write(live.join("secret-plan.txt"), "the launch is on tuesday").unwrap();
    let before = contents(&live);

    write_spec(true);
    ok(with_key(AGE_KEY, &["backup", "api.uploads"]));
    let listed: Value = serde_json::from_slice(&with_key(AGE_KEY, &["backup", "list", "-o", "json"]).stdout).unwrap();
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let stored = backups.join("api.uploads/backups").join(&id);
    assert_eq!(read_json(&stored.join("manifest.json"))["encrypted_to"], AGE_RECIPIENT);
    let archive = std::fs::read(stored.join("volume.tar.zst.age")).unwrap();
    assert!(archive.starts_with(b"age-encryption.org/v1\n"), "not an age file");
    assert!(!stored.join("volume.tar.zst").exists());
    ok(with_key(AGE_KEY, &["backup", "verify", "api.uploads"]));

    let said = verification_failed(with_key(OTHER_AGE_KEY, &["backup", "verify", "api.uploads"]));
    assert!(said.contains(&format!("encrypted to {AGE_RECIPIENT}, not to the policy's key")), "{said}");
    let said = failed(with_key("not a key", &["backup", "verify", "api.uploads"]));
    assert!(said.contains("is not an age identity"), "{said}");

    std::fs::write(live.join("secret-plan.txt"), "changed").unwrap();
    ok(with_key(AGE_KEY, &["restore", "api.uploads", &id, "--yes"]));
    assert_eq!(contents(&live), before);

    // Without the key, the policy cannot read its backups.
    write_spec(false);
    let said = failed(berth_with(dir.path(), &["backup", "verify", "api.uploads"], &[]));
    assert!(said.contains("is encrypted (to age1") && said.contains("encryption_key"), "{said}");
    // A plain backup under a policy that encrypts: refused.
    ok(berth_with(dir.path(), &["backup", "api.uploads"], &[]));
    write_spec(true);
    let said = verification_failed(with_key(AGE_KEY, &["backup", "verify", "api.uploads"]));
    assert!(said.contains("the backup is not encrypted, but the policy encrypts"), "{said}");
}
