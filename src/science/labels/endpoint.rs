//! Where the LLM labeller sends its questions: an OpenAI-compatible chat-completions endpoint,
//! configured by command-line flags, then environment, then `[llm]` in config.toml. The API key
//! comes from the environment only and is never written to disk or printed.
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::error::{line_of, LabelError, Result};

pub const ENV_BASE_URL: &str = "NEURONAV_LLM_BASE_URL";
pub const ENV_MODEL: &str = "NEURONAV_LLM_MODEL";
pub const ENV_API_KEY: &str = "NEURONAV_LLM_API_KEY";
/// Read when `ENV_API_KEY` is not set, as OpenAI's own clients do.
pub const ENV_OPENAI_KEY: &str = "OPENAI_API_KEY";

/// An endpoint and how to use it.
#[derive(Clone)]
pub struct Endpoint {
    /// Up to and including the API version, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// The model asked; also the source name its labels are stored under.
    pub model: String,
    api_key: Option<String>,
    /// Limit on one request, connection to last byte.
    pub timeout: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Further attempts after a failed one (429, 5xx, timeout, malformed reply).
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("timeout", &self.timeout)
            .field("concurrency", &self.concurrency)
            .field("retries", &self.retries)
            .finish()
    }
}

/// The `[llm]` section of config.toml; every field optional.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub concurrency: Option<usize>,
    pub timeout_secs: Option<f64>,
    pub retries: Option<u32>,
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    llm: LlmConfig,
}

impl LlmConfig {
    /// The `[llm]` section of `path`; a missing file is an empty section.
    pub fn load(path: &Path) -> Result<LlmConfig> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LlmConfig::default()),
            Err(e) => return Err(LabelError::io(path, e)),
        };
        let bad = |line, problem: String| LabelError::BadFile { path: path.to_path_buf(), line, problem };
        if let Some(at) = text.lines().position(|l| l.trim_start().starts_with("api_key")) {
            return Err(bad(
                at + 1,
                format!("the API key is not read from files; set {ENV_API_KEY} (or {ENV_OPENAI_KEY}) instead"),
            ));
        }
        let file: ConfigFile = toml::from_str(&text)
            .map_err(|e| bad(e.span().map_or(1, |s| line_of(&text, s.start)), e.message().to_string()))?;
        Ok(file.llm)
    }
}

impl Endpoint {
    /// `flags` (from the command line) over the environment over `config`, over the defaults:
    /// the method's gpt-4-turbo at OpenAI, 4 requests at a time, 60 s per request, 4 retries.
    pub fn resolve(flags: LlmConfig, config: LlmConfig) -> Result<Endpoint> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let base_url = flags.base_url.or(env(ENV_BASE_URL)).or(config.base_url);
        let model = flags.model.or(env(ENV_MODEL)).or(config.model);
        let timeout = flags.timeout_secs.or(config.timeout_secs).unwrap_or(60.0);
        if !(timeout > 0.0 && timeout.is_finite()) {
            return Err(LabelError::Invalid(format!(
                "the LLM timeout must be a positive number of seconds, not {timeout}"
            )));
        }
        let endpoint = Endpoint {
            base_url: base_url.unwrap_or_else(|| "https://api.openai.com/v1".into()).trim_end_matches('/').to_string(),
            model: model.unwrap_or_else(|| "gpt-4-turbo".into()),
            api_key: env(ENV_API_KEY).or(env(ENV_OPENAI_KEY)),
            timeout: Duration::from_secs_f64(timeout),
            concurrency: flags.concurrency.or(config.concurrency).unwrap_or(4).max(1),
            retries: flags.retries.or(config.retries).unwrap_or(4),
            backoff: Duration::from_millis(500),
        };
        if !(endpoint.base_url.starts_with("http://") || endpoint.base_url.starts_with("https://")) {
            return Err(LabelError::Invalid(format!("the LLM base URL '{}' is not an http(s) URL", endpoint.base_url)));
        }
        Ok(endpoint)
    }

    /// An endpoint with everything given, for tests and embedding.
    pub fn new(base_url: &str, model: &str, api_key: Option<&str>) -> Endpoint {
        Endpoint {
            base_url: base_url.trim_end_matches('/').to_string(),
            model: model.to_string(),
            api_key: api_key.map(String::from),
            timeout: Duration::from_secs(60),
            concurrency: 4,
            retries: 4,
            backoff: Duration::from_millis(500),
        }
    }

    pub fn has_key(&self) -> bool {
        self.api_key.is_some()
    }

    pub(super) fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    pub fn completions_url(&self) -> String {
        format!("{}/chat/completions", self.base_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files_never_hold_the_key_and_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[llm]\nmodel = \"m\"\napi_key = \"sk-123\"\n").unwrap();
        let message = LlmConfig::load(&path).unwrap_err().to_string();
        assert!(message.contains("config.toml:3:") && message.contains(ENV_API_KEY), "{message}");
        assert!(!message.contains("sk-123"), "{message}");

        std::fs::write(&path, "[llm]\nmodel = \"m\"\nconcurrency = \"many\"\n").unwrap();
        let message = LlmConfig::load(&path).unwrap_err().to_string();
        assert!(message.contains("config.toml:3:"), "{message}");

        std::fs::write(&path, "[keys]\nquit = \"q\"\n[llm]\nbase_url = \"http://127.0.0.1:9/v1/\"\ntimeout_secs = 2\n")
            .unwrap();
        let config = LlmConfig::load(&path).unwrap();
        assert_eq!(config.base_url.as_deref(), Some("http://127.0.0.1:9/v1/"));
        let flags = LlmConfig { model: Some("local".into()), concurrency: Some(2), ..Default::default() };
        let e = Endpoint::resolve(flags, config).unwrap();
        assert_eq!(e.completions_url(), "http://127.0.0.1:9/v1/chat/completions");
        assert_eq!((e.model.as_str(), e.concurrency, e.timeout), ("local", 2, Duration::from_secs(2)));
        assert_eq!(LlmConfig::load(&dir.path().join("none.toml")).unwrap(), LlmConfig::default());
    }

    #[test]
    fn debug_output_hides_the_key() {
        let e = Endpoint::new("http://127.0.0.1:1/v1", "m", Some("sk-secret"));
        let shown = format!("{e:?}");
        assert!(!shown.contains("sk-secret") && shown.contains("<set>"), "{shown}");
    }
}
