//! Why a command did not succeed, and the exit code each reason gives.

use std::fmt;

/// Exit code: done, but some of the work failed (pages that did not warm).
pub(crate) const PARTIAL: u8 = 1;
/// Exit code: a usage error (clap's own code for bad arguments).
pub(crate) const USAGE: u8 = 2;
/// Exit code: the app refused the secret.
pub(crate) const UNAUTHORIZED: u8 = 3;
/// Exit code: the app could not be reached.
pub(crate) const UNREACHABLE: u8 = 4;
/// Exit code: the app answered an error, or something that is not the purge endpoint's JSON.
pub(crate) const SERVER: u8 = 5;

/// The exit codes as `--help` and the README list them.
pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  done, but some pages failed to warm (or the output could not be written)
  2  usage error: bad arguments, no secret, an unreadable page list or sitemap
  3  the app refused the secret (401)
  4  the app could not be reached (connection refused, timeout)
  5  the app answered an error, or an answer that is not the purge endpoint's";

/// Why a command stopped.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The command was given something it cannot use.
    Usage(String),
    /// The app answered `401`.
    Unauthorized {
        /// The URL that was refused.
        url: String,
    },
    /// No answer from the app.
    Unreachable {
        /// What was asked for.
        url: String,
        /// The innermost cause (e.g. "Connection refused").
        why: String,
    },
    /// The app answered, but not with what was asked for.
    Server {
        /// The URL that answered.
        url: String,
        /// The status and the app's message.
        message: String,
    },
    /// The command ran to its end, but part of its work failed (already reported).
    Partial(String),
}

impl Failure {
    /// The process's exit code for this failure.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => USAGE,
            Self::Unauthorized { .. } => UNAUTHORIZED,
            Self::Unreachable { .. } => UNREACHABLE,
            Self::Server { .. } => SERVER,
            Self::Partial(_) => PARTIAL,
        }
    }

    /// A transport error of `url` (no answer): unreachable, with the innermost cause.
    pub(crate) fn transport(url: &str, error: &reqwest::Error) -> Self {
        Self::Unreachable {
            url: url.to_owned(),
            why: innermost_cause(error),
        }
    }
}

/// The last error of `error`'s source chain: the one that says what went wrong ("Connection
/// refused (os error 111)") rather than what was being done.
pub(crate) fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let text = cause.to_string();
    if error.to_string().contains("timed out") || text.contains("timed out") {
        return "timed out (see --timeout)".to_owned();
    }
    text
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) | Self::Partial(message) => f.write_str(message),
            Self::Unauthorized { url } => write!(
                f,
                "the app refused the secret (401 at {url}): check --secret or REVALIDATION_SECRET"
            ),
            Self::Unreachable { url, why } => {
                write!(
                    f,
                    "cannot reach the app at {url}: {why} (check --url or ISR_URL)"
                )
            }
            Self::Server { url, message } => write!(f, "{url}: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_has_its_own_exit_code() {
        let failures = [
            Failure::Partial(String::new()),
            Failure::Usage(String::new()),
            Failure::Unauthorized { url: String::new() },
            Failure::Unreachable {
                url: String::new(),
                why: String::new(),
            },
            Failure::Server {
                url: String::new(),
                message: String::new(),
            },
        ];
        let codes: Vec<u8> = failures.iter().map(Failure::exit_code).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5]);
        for code in codes {
            assert!(
                EXIT_CODES.contains(&format!("\n  {code}  ")),
                "exit code {code} is documented"
            );
        }
    }

    #[test]
    fn messages_say_what_to_check() {
        let refused = Failure::Unauthorized {
            url: "http://127.0.0.1:3000/api/revalidate".to_owned(),
        };
        assert!(refused.to_string().contains("--secret"));
        let unreachable = Failure::Unreachable {
            url: "http://127.0.0.1:9/".to_owned(),
            why: "Connection refused".to_owned(),
        };
        assert!(unreachable.to_string().contains("Connection refused"));
        assert!(unreachable.to_string().contains("--url"));
    }
}
