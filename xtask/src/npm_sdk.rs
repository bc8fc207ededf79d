//! The real SDKs published on npm (`clerk-js@VERSION`, `clerk-expo@VERSION`): where each
//! version's `node_modules` comes from, and the command that starts its adapter. One code
//! path for both packages; what differs is a row of [`Layout`].
//!
//! A version is taken from a committed, pinned install when the adapter has one (`npm ci`
//! from its lockfile the first time), and otherwise installed with npm into a scratch folder
//! `target/gate/<label>/` from a manifest that changes only the package's version:
//!
//! - `clerk-js`: the pinned install is `adapters/clerk-js/` (its `package.json` names the
//!   version); the scratch manifest keeps the adapter's `@sinonjs/fake-timers`.
//! - `clerk-expo`: every folder `adapters/clerk-expo/versions/<VERSION>/` is a pinned install
//!   (with `legacy-peer-deps=true` in its `.npmrc`, so neither react-native nor expo is
//!   installed); the scratch manifest is the newest pinned folder's with `@clerk/expo`
//!   replaced, so React, react-reconciler and fake-timers stay the pinned ones while
//!   `@clerk/expo`'s own dependencies resolve from its declared ranges.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use session_harness::runner::spec::NpmSdk;
use session_harness::scenario;
use session_harness::sdk::external::AdapterCommand;
use session_harness::sdk::external::command::{Timeouts, pool_from_env};

/// Where an npm SDK's adapter and pinned installs live.
struct Layout {
    /// The adapter folder under the repository root.
    adapter: &'static str,
    /// The environment variable that tells the driver which folder's `node_modules` to run.
    dir_env: &'static str,
    /// Whether the driver loads modules of its own from the adapter folder's `node_modules`
    /// (clerk-js's `clock.mjs` requires `@sinonjs/fake-timers` from there), so that folder's
    /// pinned install is needed to run any other version too.
    driver_uses_adapter_modules: bool,
}

fn layout(sdk: NpmSdk) -> Layout {
    match sdk {
        NpmSdk::ClerkJs => Layout {
            adapter: "adapters/clerk-js",
            dir_env: "SESSION_HARNESS_CLERK_JS_DIR",
            driver_uses_adapter_modules: true,
        },
        NpmSdk::ClerkExpo => Layout {
            adapter: "adapters/clerk-expo",
            dir_env: "SESSION_HARNESS_CLERK_EXPO_DIR",
            // Everything it loads comes from the version folder it is given.
            driver_uses_adapter_modules: false,
        },
    }
}

/// Whether the driver of `sdk` at `version` forwards the `ClerkExpo` native module to the
/// harness (docs/adapter-protocol.md §11): @clerk/expo 3.x only (4.x's Expo module is not
/// wired; clerk-js has no native module).
pub fn forwards_native_module(sdk: NpmSdk, version: &str) -> bool {
    sdk == NpmSdk::ClerkExpo && version.split('.').next() == Some("3")
}

/// The command that runs `sdk`'s driver on the install in `dir`:
/// `node --conditions=react-native <adapter>/driver.mjs`, labelled `<prefix>@<version>`.
pub fn command(root: &Path, sdk: NpmSdk, dir: &Path, version: &str) -> AdapterCommand {
    match sdk {
        // The clerk-js adapter keeps its own constructor (tests and benches use it).
        NpmSdk::ClerkJs => AdapterCommand::clerk_js(root, dir, version),
        NpmSdk::ClerkExpo => {
            let l = layout(sdk);
            let driver = root.join(l.adapter).join("driver.mjs");
            AdapterCommand {
                program: "node".to_string(),
                args: vec!["--conditions=react-native".to_string(), driver.display().to_string()],
                cwd: root.to_path_buf(),
                env: vec![(l.dir_env.to_string(), dir.display().to_string())],
                label: sdk.label(version),
                timeouts: Timeouts::from_env(),
                // A version 1 driver (one launch per process) is never pooled; the setting
                // only matters once it speaks protocol 2.
                pool: pool_from_env(),
            }
        }
    }
}

/// The pinned install folders of `sdk` with the version each pins, oldest first.
pub fn pinned(root: &Path, sdk: NpmSdk) -> Result<Vec<(String, PathBuf)>> {
    let adapter = root.join(layout(sdk).adapter);
    let folders = match sdk {
        NpmSdk::ClerkJs => vec![adapter],
        NpmSdk::ClerkExpo => {
            let versions = adapter.join("versions");
            let mut folders = Vec::new();
            for entry in std::fs::read_dir(&versions)
                .with_context(|| format!("reading {}", versions.display()))?
            {
                let path = entry?.path();
                if path.join("package.json").is_file() {
                    folders.push(path);
                }
            }
            folders
        }
    };
    let mut pins = Vec::new();
    for folder in folders {
        pins.push((manifest_version(&folder.join("package.json"), sdk.package())?, folder));
    }
    pins.sort_by_key(|a| version_key(&a.0));
    Ok(pins)
}

/// The version `manifest` pins for `package` (an exact version: a range is refused).
fn manifest_version(manifest: &Path, package: &str) -> Result<String> {
    let json = read_json(manifest)?;
    let version = json["dependencies"][package]
        .as_str()
        .with_context(|| format!("{} pins no {package}", manifest.display()))?;
    if !version.starts_with(|c: char| c.is_ascii_digit()) {
        bail!("{} names {package} `{version}`: a pinned install names one exact version", {
            manifest.display()
        });
    }
    Ok(version.to_string())
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Orders versions numerically by their dotted components (`3.2.10` after `3.2.9`).
pub(crate) fn version_key(version: &str) -> Vec<u64> {
    version.split(['.', '-']).map(|part| part.parse().unwrap_or(0)).collect()
}

/// The folder whose `node_modules` holds `sdk` at `version`, installing it if needed.
pub fn install(root: &Path, sdk: NpmSdk, version: &str) -> Result<PathBuf> {
    let pins = pinned(root, sdk)?;
    if let Some((pin, folder)) = pins.iter().find(|(v, _)| v == version) {
        install_pinned(sdk, pin, folder)?;
        return Ok(folder.clone());
    }
    if layout(sdk).driver_uses_adapter_modules {
        // A scratch install holds the package; the driver's own modules come from the
        // adapter folder, whose pinned install may not have been made yet.
        let adapter = root.join(layout(sdk).adapter);
        let (pin, folder) = pins
            .iter()
            .find(|(_, f)| *f == adapter)
            .with_context(|| format!("{} has no pinned install", adapter.display()))?;
        install_pinned(sdk, pin, folder)?;
    }
    let scratch = root.join("target/gate").join(sdk.label(version));
    let installed = scratch.join("node_modules").join(sdk.package()).join("package.json");
    if installed.exists() && read_json(&installed)?["version"].as_str() == Some(version) {
        return Ok(scratch);
    }
    std::fs::create_dir_all(&scratch)?;
    // The newest pinned manifest with only the package's version changed: the adapter's own
    // dependencies (React, the renderer, fake timers) stay what it was written against.
    let (_, template) = pins.last().context("the adapter pins no version at all")?;
    let mut manifest = read_json(&template.join("package.json"))?;
    manifest["name"] = serde_json::json!("session-harness-gate-scratch");
    manifest["description"] =
        serde_json::json!(format!("{} installed by cargo xtask gate", sdk.label(version)));
    manifest["dependencies"][sdk.package()] = serde_json::json!(version);
    scenario::write_atomic(
        &scratch.join("package.json"),
        &serde_json::to_string_pretty(&manifest)?,
    )?;
    let npmrc = template.join(".npmrc");
    if npmrc.is_file() {
        std::fs::copy(&npmrc, scratch.join(".npmrc"))
            .with_context(|| format!("copying {}", npmrc.display()))?;
    }
    eprintln!("installing {}@{version} into {} …", sdk.package(), scratch.display());
    npm(&scratch, &["install", "--ignore-scripts", "--no-audit", "--no-fund"]).with_context(
        || format!("installing {}@{version}: is that a published version?", sdk.package()),
    )?;
    Ok(scratch)
}

/// `npm ci` in a pinned folder whose `node_modules` does not hold its package yet.
fn install_pinned(sdk: NpmSdk, version: &str, folder: &Path) -> Result<()> {
    let installed = folder.join("node_modules").join(sdk.package()).join("package.json");
    if !installed.exists() {
        eprintln!("installing the pinned {} (npm ci in {}) …", sdk.label(version), {
            folder.display()
        });
        npm(folder, &["ci", "--ignore-scripts", "--no-audit", "--no-fund"])?;
    }
    Ok(())
}

fn npm(dir: &Path, args: &[&str]) -> Result<()> {
    let status = Command::new("npm")
        .args(args)
        .current_dir(dir)
        // npm's report ("added 12 packages") is progress, not output: on stderr, so that a
        // command's `--json` object stays alone on stdout.
        .stdout(std::io::stderr())
        .status()
        .context("running npm: is Node.js (20 or later) with npm installed?")?;
    if !status.success() {
        bail!("`npm {}` in {} failed ({status})", args.join(" "), dir.display());
    }
    Ok(())
}

/// Every version of `sdk` the npm registry publishes, pre-releases included, in the
/// registry's order (`npm view <package> versions --json`).
pub fn published(sdk: NpmSdk) -> Result<Vec<String>> {
    let package = sdk.package();
    let out = Command::new("npm")
        .args(["view", package, "versions", "--json"])
        .output()
        .context("running npm: is Node.js (20 or later) with npm installed?")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    parse_published(package, &stdout, out.status.success(), &stderr)
}

/// What `npm view <package> versions --json` printed, read: a list of versions (one version
/// alone is printed as a string), or npm's error object (`{"error": {"code": "E404", …}}`),
/// told apart as an unknown package or a registry that could not be reached.
fn parse_published(package: &str, stdout: &str, ok: bool, stderr: &str) -> Result<Vec<String>> {
    let json: Option<serde_json::Value> = serde_json::from_str(stdout.trim()).ok();
    let error = json.as_ref().and_then(|j| j.get("error"));
    if let Some(error) = error {
        let code = error["code"].as_str().unwrap_or("");
        let summary = error["summary"].as_str().unwrap_or("").trim();
        if code == "E404" {
            bail!("unknown package `{package}`: the npm registry has no such package ({summary})");
        }
        bail!(
            "the npm registry could not be reached for `{package}` (`npm view {package} \
             versions`: {code} {summary})"
        );
    }
    match json {
        Some(serde_json::Value::Array(items)) if ok => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .with_context(|| format!("`npm view {package} versions` listed a non-string")),
        Some(serde_json::Value::String(one)) if ok => Ok(vec![one]),
        _ => {
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
            bail!(
                "the npm registry could not be reached for `{package}` (`npm view {package} \
                 versions` {}{})",
                if ok { "printed no version list" } else { "failed" },
                if last.is_empty() { String::new() } else { format!(": {last}") }
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_numerically() {
        let mut v = vec!["3.2.10", "3.2.8", "3.2.9", "4.0.0"];
        v.sort_by_key(|a| version_key(a));
        assert_eq!(v, ["3.2.8", "3.2.9", "3.2.10", "4.0.0"]);
    }

    #[test]
    fn the_registry_answer_is_a_list_a_single_version_or_a_named_error() {
        let list = parse_published("@clerk/expo", r#"["3.2.7", "3.2.8-canary.1"]"#, true, "");
        assert_eq!(list.expect("a list"), ["3.2.7", "3.2.8-canary.1"]);
        let one = parse_published("@clerk/expo", r#""1.0.0""#, true, "");
        assert_eq!(one.expect("one version"), ["1.0.0"]);
        let unknown = r#"{"error": {"code": "E404", "summary": "Not Found - GET …"}}"#;
        let e = parse_published("@clerk/nope", unknown, false, "npm error 404").unwrap_err();
        assert!(e.to_string().starts_with("unknown package `@clerk/nope`"), "{e}");
        let offline = r#"{"error": {"code": "ENOTFOUND", "summary": "request failed"}}"#;
        let e = parse_published("@clerk/expo", offline, false, "").unwrap_err();
        assert!(
            e.to_string().contains("could not be reached") && e.to_string().contains("ENOTFOUND")
        );
        let e = parse_published("@clerk/expo", "", false, "npm error network\n").unwrap_err();
        assert!(
            e.to_string().contains("could not be reached") && e.to_string().contains("network")
        );
        assert!(parse_published("@clerk/expo", "[1, 2]", true, "").is_err());
    }

    #[test]
    fn both_packages_get_their_own_driver_folder_and_label() {
        let root = Path::new("repo");
        let dir = Path::new("repo/adapters/clerk-expo/versions/3.2.7");
        let expo = command(root, NpmSdk::ClerkExpo, dir, "3.2.7");
        assert_eq!(expo.label, "clerk-expo@3.2.7");
        assert_eq!(expo.program, "node");
        assert_eq!(expo.args[0], "--conditions=react-native");
        assert!(expo.args[1].ends_with("clerk-expo/driver.mjs"), "{:?}", expo.args);
        assert_eq!(
            expo.env,
            [("SESSION_HARNESS_CLERK_EXPO_DIR".to_string(), dir.display().to_string())]
        );
        let js = command(root, NpmSdk::ClerkJs, Path::new("repo/adapters/clerk-js"), "6.40.0");
        assert_eq!(js.label, "clerk-js@6.40.0");
        assert!(js.args[1].ends_with("clerk-js/driver.mjs"), "{:?}", js.args);
        assert_eq!(js.env[0].0, "SESSION_HARNESS_CLERK_JS_DIR");
    }

    #[test]
    fn every_pinned_clerk_expo_folder_pins_its_own_version() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let pins = pinned(&root, NpmSdk::ClerkExpo).expect("the pinned folders read");
        let versions: Vec<&str> = pins.iter().map(|(v, _)| v.as_str()).collect();
        assert!(versions.contains(&"3.2.7") && versions.contains(&"3.2.8"), "{versions:?}");
        // Each folder keeps npm from installing react-native or expo (stubs stand in).
        for (_, folder) in &pins {
            let npmrc = std::fs::read_to_string(folder.join(".npmrc")).unwrap_or_default();
            assert!(npmrc.contains("legacy-peer-deps=true"), "{}/.npmrc", folder.display());
        }
        for (version, folder) in &pins {
            assert!(folder.ends_with(version), "{} pins {version}", folder.display());
            assert!(folder.join("package-lock.json").is_file(), "{} has no lockfile", {
                folder.display()
            });
        }
    }
}
